package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// ShowSandboxRefresh guides the recreation of a connection after a sandbox refresh: export, pause,
// set up and authorize a connection to the refreshed org, import, load. Each step shows its status.
func (h *Handlers) ShowSandboxRefresh(c echo.Context) error {
	p, _, _, err := h.dashboard(c, "Sandbox refresh", "settings")
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	fromID, err := strconv.ParseInt(c.QueryParam("from"), 10, 64)
	if err != nil {
		return failure.E(failure.NotFound, "Choose the connection to recreate from Settings.")
	}
	from, err := h.Connections.Get(ctx, fromID)
	if err != nil {
		return err
	}
	fromMappings, err := h.Mappings.List(ctx, from.ID)
	if err != nil {
		return err
	}
	m := views.SandboxRefresh{From: connectionView(from), FromMappings: len(fromMappings), Exported: h.Sessions.GetBool(ctx, sessionExported(from.ID))}
	if toID, err := strconv.ParseInt(c.QueryParam("to"), 10, 64); err == nil {
		to, err := h.Connections.Get(ctx, toID)
		if err != nil {
			return err
		}
		tv := connectionView(to)
		m.To = &tv
		ms, err := h.Mappings.List(ctx, to.ID)
		if err != nil {
			return err
		}
		m.ToMappings = len(ms)
		for _, mp := range ms {
			switch {
			case mp.State.Loading():
				m.ToLoading++
			case mp.State.Severity() == "ok":
				m.ToSynced++
			}
		}
	}
	return render(c, http.StatusOK, views.SandboxRefreshPage(p, m))
}
