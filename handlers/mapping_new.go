package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// ShowNewMapping is Create Mapping's first step: the org's objects, filtered by a search as the admin
// types (htmx swaps the list) or as a plain GET form.
func (h *Handlers) ShowNewMapping(c echo.Context) error {
	conns, cur, err := h.current(c)
	if err != nil {
		return err
	}
	if cur == nil {
		h.flash(c, "info", "Set up a connection first: mappings belong to a connection.")
		return seeOther(c, "/connections/new")
	}
	ctx := c.Request().Context()
	m := views.ObjectPicker{Query: strings.TrimSpace(c.QueryParam("q"))}
	objects, err := h.Mappings.Objects(ctx, cur.ID, m.Query)
	if err != nil {
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		m.Error = "The object list cannot be read from Salesforce: " + failure.Message(err)
	}
	mapped := map[string]int64{}
	if len(objects) > 0 {
		ms, err := h.Mappings.List(ctx, cur.ID)
		if err != nil {
			return err
		}
		for _, mp := range ms {
			mapped[strings.ToLower(mp.Object)] = mp.ID
		}
	}
	for _, o := range objects {
		m.Objects = append(m.Objects, views.ObjectChoice{Name: o.Name, Label: o.Label, Custom: o.Custom, MappingID: mapped[strings.ToLower(o.Name)]})
	}
	if isHTMX(c) {
		return render(c, http.StatusOK, views.ObjectList(m))
	}
	return render(c, http.StatusOK, views.NewMappingObjects(h.dashPage(c, "Create Mapping", "mappings", conns, cur), m))
}
