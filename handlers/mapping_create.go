package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// CreateMapping saves a new mapping: pgforce creates the table and loads every record. Problems are
// shown at their fields, with the admin's choices kept.
func (h *Handlers) CreateMapping(c echo.Context) error {
	conns, cur, err := h.current(c)
	if err != nil {
		return err
	}
	if cur == nil {
		return failure.E(failure.Conflict, "Set up a connection first: mappings belong to a connection.")
	}
	ctx := c.Request().Context()
	if _, err := c.FormParams(); err != nil {
		// Nothing to redraw the form from: say so on an error page.
		return failure.Wrap(err, failure.Invalid, "The form could not be read; reload the page and try again.")
	}
	f, ch, cfg, err := parseMappingForm(c)
	if err == nil {
		m, err := h.Mappings.Create(ctx, actorOf(c), cur.ID, f.Object, cfg)
		if err == nil {
			h.flash(c, "success", "Created the "+m.Object+" mapping: table "+cur.Schema+"."+m.Table+" is being created and every record loaded.")
			return seeOther(c, "/mappings/"+itoa(m.ID))
		}
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		problemErrors(err, f.Errors)
	}
	obj, derr := h.Mappings.Describe(ctx, cur.ID, f.Object)
	if derr != nil {
		return derr
	}
	f.ConnID, f.Object = cur.ID, obj.Name
	fillFields(&f, obj, ch, nil)
	return render(c, http.StatusUnprocessableEntity, views.MappingFormPage(h.dashPage(c, "Create Mapping", "mappings", conns, cur), f))
}
