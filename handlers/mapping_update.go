package handlers

import (
	"net/http"
	"slices"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// UpdateMapping saves an edited mapping: pgforce alters the table and loads the values of added fields.
func (h *Handlers) UpdateMapping(c echo.Context) error {
	m, conn, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if _, err := c.FormParams(); err != nil {
		// Nothing to redraw the form from: say so on an error page.
		return failure.Wrap(err, failure.Invalid, "The form could not be read; reload the page and try again.")
	}
	f, ch, cfg, err := parseMappingForm(c)
	if err == nil {
		var recreate []string
		for name := range ch.recreate {
			recreate = append(recreate, name)
		}
		slices.Sort(recreate)
		saved, err := h.Mappings.Edit(ctx, actorOf(c), m.ID, cfg, recreate)
		if err == nil {
			h.flash(c, "success", "Saved the "+saved.Object+" mapping (revision "+itoa(int64(saved.Revision))+"). "+saved.State.Describe())
			return seeOther(c, "/mappings/"+itoa(m.ID))
		}
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		problemErrors(err, f.Errors)
	}
	obj, derr := h.Mappings.Describe(ctx, conn.ID, m.Object)
	if derr != nil {
		return derr
	}
	f.ConnID, f.MappingID, f.Object, f.Table = conn.ID, m.ID, m.Object, m.Table
	fillFields(&f, obj, ch, m.Drift)
	p, err := h.mappingPage(c, "Edit "+m.Object, conn)
	if err != nil {
		return err
	}
	return render(c, http.StatusUnprocessableEntity, views.MappingFormPage(p, f))
}
