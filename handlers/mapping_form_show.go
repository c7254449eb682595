package handlers

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// ShowMappingForm is Create Mapping's second step: the options and field picker for one object.
func (h *Handlers) ShowMappingForm(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Create Mapping", "mappings")
	if err != nil {
		return err
	}
	if cur == nil {
		return seeOther(c, "/connections/new")
	}
	ctx := c.Request().Context()
	ms, err := h.Mappings.List(ctx, cur.ID)
	if err != nil {
		return err
	}
	for _, mp := range ms {
		if strings.EqualFold(mp.Object, c.Param("object")) {
			h.flash(c, "info", mp.Object+" is already mapped; edit its mapping instead.")
			return seeOther(c, "/mappings/"+itoa(mp.ID))
		}
	}
	obj, err := h.Mappings.Describe(ctx, cur.ID, c.Param("object"))
	if err != nil {
		return err
	}
	f, ch := defaultForm(obj, cur.PollingSeconds)
	f.ConnID = cur.ID
	fillFields(&f, obj, ch, nil)
	return render(c, http.StatusOK, views.MappingFormPage(p, f))
}
