package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/report"
	"pgforce/views"
)

// ShowMapping renders a mapping's page: state and progress (refreshing itself), configuration,
// fields, drift with one-click fixes, recent write errors and history. With ?live=1 from htmx it
// renders only the state panel; when loading started or ended since the page was drawn, it asks htmx
// to reload the page so the action menu matches the state.
func (h *Handlers) ShowMapping(c echo.Context) error {
	m, conn, err := h.mappingOf(c)
	if err != nil {
		if isHTMX(c) && c.QueryParam("live") == "1" && failure.Is(err, failure.NotFound) {
			// Deleted meanwhile (another tab, the CLI): leave the page instead of failing every 2 s.
			c.Response().Header().Set("HX-Redirect", "/mappings")
			return c.NoContent(http.StatusNoContent)
		}
		return err
	}
	ctx := c.Request().Context()
	now := h.now()
	counts, err := h.Reports.Counts(ctx, conn.Schema, []string{m.Table})
	if err != nil {
		return err
	}
	rep, err := h.Diagnose.Run(ctx, conn.ID)
	if err != nil {
		return err
	}
	live := mappingLive(m, counts[m.Table], problemViews(rep.Of(m.ID)), now)
	if isHTMX(c) && c.QueryParam("live") == "1" {
		if was := c.QueryParam("loading") == "1"; was != live.Loading {
			c.Response().Header().Set("HX-Refresh", "true")
		}
		return render(c, http.StatusOK, views.MappingLivePanel(live, now))
	}
	events, err := h.Reports.Events(ctx, conn.ID, report.EventFilter{MappingID: m.ID, Since: now.AddDate(0, 0, -31), Limit: 50})
	if err != nil {
		return err
	}
	failed, err := h.Reports.WriteErrors(ctx, conn.Schema, []string{m.Table}, now.Add(-24*time.Hour), 20)
	if err != nil {
		return err
	}
	d := views.MappingDetail{
		ID: m.ID, ConnID: conn.ID, Object: m.Object, Schema: conn.Schema, Table: m.Table, Live: live,
		Config: views.ConfigSummary{Access: string(m.Config.Access), Mode: modeText(m.Config.SFPollingSeconds, m.Config.Accelerated()), UpsertField: m.Config.UpsertField,
			RecordFilter: m.Config.Filter(), Revision: m.Revision, AppliedAt: m.AppliedAt, FieldCount: len(m.AppliedFields)},
		Fields: fieldRows(m), Events: eventRows(events), Errors: logRows(failed, map[string]int64{m.Table: m.ID}),
		Drift: driftRows(m), OrphanedAt: m.OrphanedAt,
	}
	if m.Config.Accelerated() {
		d.Config.Mode = "accelerated (" + streamingText(m.StreamTransport) + "), polling every " + itoa(int64(max(1, m.Config.SFPollingSeconds/60))) + " min as a safety net"
	}
	p, err := h.mappingPage(c, m.Object, conn)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.MappingPage(p, d, now))
}

// mappingOf loads the mapping named by the path and its connection, which becomes current.
func (h *Handlers) mappingOf(c echo.Context) (mapping.Mapping, connection.Connection, error) {
	id, err := idParam(c, "id")
	if err != nil {
		return mapping.Mapping{}, connection.Connection{}, err
	}
	ctx := c.Request().Context()
	m, err := h.Mappings.Get(ctx, id)
	if err != nil {
		return m, connection.Connection{}, err
	}
	conn, err := h.Connections.Get(ctx, m.ConnectionID)
	return m, conn, err
}

// mappingPage is the layout for a page about one mapping, whose connection becomes current.
func (h *Handlers) mappingPage(c echo.Context, title string, conn connection.Connection) (views.Page, error) {
	h.useConnection(c, conn.ID)
	conns, cur, err := h.current(c)
	if err != nil {
		return views.Page{}, err
	}
	return h.dashPage(c, title, "mappings", conns, cur), nil
}
