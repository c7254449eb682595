package handlers

import (
	"fmt"

	"github.com/labstack/echo/v4"

	"pgforce/sync/admin"
	"pgforce/sync/failure"
)

// KeepConflict resolves a held conflict with the side the admin chose (form field keep).
func (h *Handlers) KeepConflict(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	back := nextOr(c, "/conflicts")
	_, cur, err := h.current(c)
	if err != nil {
		return err
	}
	if cur == nil {
		return failure.E(failure.Conflict, "There is no connection.")
	}
	side, err := admin.ParseSide(c.FormValue("keep"))
	if err != nil {
		return h.refuse(c, err, back)
	}
	cf, err := h.Conflicts.Resolve(c.Request().Context(), actorOf(c), cur.ID, id, side)
	if err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, fmt.Sprintf("Conflict %d on %s %s: %s.", cf.ID, cf.Object, cf.SFID, cf.Outcome.Label()), back, nil)
}
