package handlers

import (
	"github.com/labstack/echo/v4"
)

// CheckSchema compares every mapping of a connection with Salesforce now: objects removed or renamed
// (orphans) and changed field definitions (drift) show up at once instead of at the next check.
func (h *Handlers) CheckSchema(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	back := nextOr(c, "/settings#orphans")
	if err := h.Mappings.CheckSchema(c.Request().Context(), id); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, "Checked the mappings against Salesforce: orphaned mappings and changed field definitions are listed where they apply.", back, nil)
}
