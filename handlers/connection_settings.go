package handlers

import (
	"context"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
)

// SetWriteAlgorithm switches between ordered and merged writes (only while paused).
func (h *Handlers) SetWriteAlgorithm(c echo.Context) error {
	algo := connection.WriteAlgorithm(c.FormValue("write_algorithm"))
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		return h.eng().SetWriteAlgorithm(ctx, actor, id, algo)
	}, "Write algorithm set to "+string(algo)+" writes. Resume the connection to apply it.")
}

// SetAPIVersion changes the Salesforce API version (only while paused).
func (h *Handlers) SetAPIVersion(c echo.Context) error {
	v := c.FormValue("api_version")
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		return h.eng().SetAPIVersion(ctx, actor, id, v)
	}, "Salesforce API version set to "+v+". Resume the connection to use it.")
}

// SetPollingDefault changes the polling interval new mappings start with, when the engine can.
func (h *Handlers) SetPollingDefault(c echo.Context) error {
	minutes, _ := strconv.Atoi(c.FormValue("polling_minutes"))
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		pd, ok := h.Engine.(pollingDefaulter)
		if !ok {
			// Not a server fault: this engine has no such setting (the button is disabled with this reason).
			return failure.E(failure.Conflict, "Changing the polling default arrives with the engine; set the interval per mapping meanwhile.")
		}
		return pd.SetPollingDefault(ctx, actor, id, minutes*60)
	}, "New mappings will poll Salesforce every "+strconv.Itoa(minutes)+" minutes.")
}
