package handlers

import (
	"github.com/labstack/echo/v4"
)

// ReloadMapping empties the table, discards its pending writes and loads every record again.
func (h *Handlers) ReloadMapping(c echo.Context) error {
	m, conn, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	back := "/mappings/" + itoa(m.ID)
	if err := h.Mappings.Reload(c.Request().Context(), actorOf(c), m.ID); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, "Reloading "+m.Object+": "+conn.Schema+"."+m.Table+" was emptied and every record is being loaded again.", back, nil)
}
