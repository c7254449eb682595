package handlers

import (
	"context"
	"fmt"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
)

// RetryErrorsByCode sends again every failed write of the mapping Salesforce refused with the
// posted error code.
func (h *Handlers) RetryErrorsByCode(c echo.Context) error {
	return h.errorsByCode(c, "Retrying %d failed write(s) of %s refused with %s: the rows' current values are queued for Salesforce.", h.Writes.RetryByCode)
}

// IgnoreErrorsByCode dismisses every failed write of the mapping Salesforce refused with the posted
// error code; the rows keep their values in Postgres.
func (h *Handlers) IgnoreErrorsByCode(c echo.Context) error {
	return h.errorsByCode(c, "Ignored %d failed write(s) of %s refused with %s.", h.Writes.IgnoreByCode)
}

func (h *Handlers) errorsByCode(c echo.Context, done string, op func(ctx context.Context, actor audit.Actor, mappingID int64, code string) (int, error)) error {
	m, _, err := h.mappingOf(c)
	if err != nil {
		return err
	}
	back := nextOr(c, "/mappings/"+itoa(m.ID)+"#recent-errors")
	code := c.FormValue("code")
	n, err := op(c.Request().Context(), actorOf(c), m.ID, code)
	if err != nil {
		return h.refuse(c, err, back)
	}
	name := code
	if name == "" {
		name = "no error code"
	}
	return h.finish(c, fmt.Sprintf(done, n, m.Object, name), back, nil)
}
