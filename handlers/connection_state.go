package handlers

import (
	"context"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
	"pgforce/views"
)

// connectionAction runs one engine operation on the connection in the path. htmx (Settings) gets the
// Manage Connection panel redrawn with a flash; a plain post goes back to "next" (default Settings).
func (h *Handlers) connectionAction(c echo.Context, op func(ctx context.Context, actor audit.Actor, id int64) error, done string) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	back := nextOr(c, "/settings")
	if err := op(c.Request().Context(), actorOf(c), id); err != nil {
		return h.refuse(c, err, back)
	}
	return h.finish(c, done, back, func() (templ.Component, error) { return h.manageFragment(c, id) })
}

// manageFragment redraws Settings → Manage connection for a connection.
func (h *Handlers) manageFragment(c echo.Context, id int64) (templ.Component, error) {
	ctx := c.Request().Context()
	conn, err := h.Connections.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	m, err := h.settings(ctx, conn, nil)
	if err != nil {
		return nil, err
	}
	return views.ManageConnection(h.bare(c), m, h.now()), nil
}

// PauseConnection stops syncing: at once from IDLE, after the work in flight otherwise (BUSY);
// database changes keep queueing in the trigger log.
func (h *Handlers) PauseConnection(c echo.Context) error {
	return h.connectionAction(c, h.Connections.Pause, "Pausing: the connection is PAUSED as soon as no write is in flight (at once when it is IDLE). Database changes keep queueing in the trigger log; nothing is polled from Salesforce until you resume.")
}

// ResumeConnection continues where the connection stopped.
func (h *Handlers) ResumeConnection(c echo.Context) error {
	return h.connectionAction(c, h.Connections.Resume, "Resumed: queued database changes are being written and Salesforce is polled for what changed meanwhile.")
}

// RecoverConnection clears an error state after checking its cause is gone, and resumes syncing.
func (h *Handlers) RecoverConnection(c echo.Context) error {
	return h.connectionAction(c, h.Connections.Recover, "Recovering: the error is cleared and syncing resumes.")
}
