package handlers

import (
	"context"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
	"pgforce/sync/failure"
)

// ResendWrite saves the fields an admin fixed on a failed write's row and sends the row again
// ("Save and resend"): form fields f.<column> hold the values, o.<column> the ones shown; only changed
// fields are written ("" stores NULL).
func (h *Handlers) ResendWrite(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return failure.Wrap(err, failure.Invalid, "The form could not be read.")
	}
	set := map[string]string{}
	for k, vs := range form {
		col, ok := strings.CutPrefix(k, "f.")
		if !ok || len(vs) == 0 {
			continue
		}
		if orig, shown := form["o."+col]; shown && len(orig) > 0 && orig[0] == vs[0] {
			continue
		}
		set[col] = vs[0]
	}
	return h.writeAction(c, "Saved the row and resent write %d: the row's values are queued for Salesforce.",
		func(ctx context.Context, actor audit.Actor, connID, logID int64) error {
			return h.Writes.FixAndRetry(ctx, actor, connID, logID, set)
		})
}
