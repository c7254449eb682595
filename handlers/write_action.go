package handlers

import (
	"context"
	"fmt"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
	"pgforce/sync/failure"
)

// RetryWrite sends a failed write again (re-captured from the row's current values).
func (h *Handlers) RetryWrite(c echo.Context) error {
	return h.writeAction(c, "Retrying write %d: the row's current values are queued for Salesforce.", h.Writes.Retry)
}

// IgnoreWrite dismisses a failed write; the row keeps its values in Postgres.
func (h *Handlers) IgnoreWrite(c echo.Context) error {
	return h.writeAction(c, "Ignored failed write %d.", h.Writes.Ignore)
}

func (h *Handlers) writeAction(c echo.Context, done string, op func(ctx context.Context, actor audit.Actor, connID, logID int64) error) error {
	logID, err := idParam(c, "id")
	if err != nil {
		return err
	}
	back := nextOr(c, "/activity")
	_, cur, err := h.current(c)
	if err != nil {
		return err
	}
	if cur == nil {
		return failure.E(failure.Conflict, "There is no connection.")
	}
	if err := op(c.Request().Context(), actorOf(c), cur.ID, logID); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, fmt.Sprintf(done, logID), back, nil)
}
