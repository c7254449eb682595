package handlers

import (
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
)

// ImportFrom applies one connection's exported configuration to another (the sandbox-refresh guide's
// import step, without a file round trip).
func (h *Handlers) ImportFrom(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	back := nextOr(c, "/settings")
	from, err := strconv.ParseInt(c.FormValue("from"), 10, 64)
	if err != nil {
		return failure.E(failure.Invalid, "Choose the connection to import from.")
	}
	ctx := c.Request().Context()
	raw, err := h.Configuration.Export(ctx, from)
	if err != nil {
		return h.refuse(c, err, back)
	}
	plan, err := h.Configuration.ApplyImport(ctx, actorOf(c), id, raw)
	if err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, importSummary(plan), back, nil)
}
