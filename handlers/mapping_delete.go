package handlers

import (
	"github.com/labstack/echo/v4"
)

// DeleteMapping drops the table and the mapping's pending writes.
func (h *Handlers) DeleteMapping(c echo.Context) error {
	m, conn, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	if err := h.Mappings.Delete(c.Request().Context(), actorOf(c), m.ID); err != nil {
		return h.refuse(c, err, "/mappings/"+itoa(m.ID)+"/delete")
	}
	return h.finish(c, "Deleted the "+m.Object+" mapping and dropped table "+conn.Schema+"."+m.Table+".", "/mappings", nil)
}
