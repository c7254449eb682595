package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// ShowEditMapping renders the mapping form prefilled with the mapping's configuration, against the
// object's current definition in Salesforce (removed fields and type changes are marked).
func (h *Handlers) ShowEditMapping(c echo.Context) error {
	m, conn, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	obj, err := h.Mappings.Describe(c.Request().Context(), conn.ID, m.Object)
	if err != nil {
		return err
	}
	f, ch := configForm(m)
	f.ConnID = conn.ID
	fillFields(&f, obj, ch, m.Drift)
	p, err := h.mappingPage(c, "Edit "+m.Object, conn)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MappingFormPage(p, f))
}
