package handlers

import (
	"context"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
)

// SetWriteAlgorithm switches between ordered and merged writes (only while paused).
func (h *Handlers) SetWriteAlgorithm(c echo.Context) error {
	algo := connection.WriteAlgorithm(c.FormValue("write_algorithm"))
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		return h.Connections.SetWriteAlgorithm(ctx, actor, id, algo)
	}, "Write algorithm set to "+string(algo)+" writes. Resume the connection to apply it.")
}

// SetAPIVersion changes the Salesforce API version (only while nothing syncs: paused, not authorized
// yet, or stopped).
func (h *Handlers) SetAPIVersion(c echo.Context) error {
	v := c.FormValue("api_version")
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		return h.Connections.SetAPIVersion(ctx, actor, id, v)
	}, "Salesforce API version set to "+v+". It is used once the connection syncs again (after Resume, Authorize or Recover From Error).")
}

// SetPollingDefault changes the polling interval new mappings start with.
func (h *Handlers) SetPollingDefault(c echo.Context) error {
	minutes, _ := strconv.Atoi(c.FormValue("polling_minutes"))
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		return h.Connections.SetPollingDefault(ctx, actor, id, minutes*60)
	}, "New mappings will poll Salesforce every "+strconv.Itoa(minutes)+" minutes.")
}

// SetVerifySchedule changes how often each mapping is verified in full against Salesforce.
func (h *Handlers) SetVerifySchedule(c echo.Context) error {
	hours, err := strconv.Atoi(c.FormValue("verify_every_hours"))
	if err != nil {
		hours = -1 // refused with the reason below
	}
	msg := "Mappings are verified in full every " + strconv.Itoa(hours) + " hours."
	if hours == 0 {
		msg = "Mappings are no longer verified on a schedule (their counts still are, on every poll cycle)."
	}
	return h.connectionAction(c, func(ctx context.Context, actor audit.Actor, id int64) error {
		return h.Verifications.SetSchedule(ctx, actor, id, hours)
	}, msg)
}
