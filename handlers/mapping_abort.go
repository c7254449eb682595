package handlers

import (
	"github.com/labstack/echo/v4"
)

// AbortMapping cancels a running load; the mapping stays ABORTED until it is reloaded or deleted.
func (h *Handlers) AbortMapping(c echo.Context) error {
	m, _, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	back := nextOr(c, "/mappings/"+itoa(m.ID))
	if err := h.Mappings.Abort(c.Request().Context(), actorOf(c), m.ID); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, "Aborted the "+m.Object+" load. Reload the mapping to sync it again, or delete it.", back, nil)
}
