package handlers

import (
	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/mapping"
)

// RecoverMapping restarts one mapping stopped by an error: its load resumes when it never finished,
// otherwise it catches up with Salesforce at once.
func (h *Handlers) RecoverMapping(c echo.Context) error {
	m, _, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	back := nextOr(c, "/mappings/"+itoa(m.ID))
	to, err := h.Mappings.Recover(c.Request().Context(), actorOf(c), m.ID)
	if err != nil {
		return h.refuse(c, err, back)
	}
	msg := "Recovered " + m.Object + ": catching up with Salesforce now; it is DATA_SYNCED once that poll is done."
	if to == mapping.ReloadTable {
		msg = "Recovered " + m.Object + ": its last load did not finish, so every record is loading again."
	}
	return h.finish(c, msg, back, nil)
}
