package handlers

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/report"
	"pgforce/sync/verify"
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
	if isHTMX(c) && c.QueryParam("live") == "verification" {
		vp, err := h.verifyPanel(ctx, m, conn)
		if err != nil {
			return err
		}
		p, err := h.mappingPage(c, m.Object, conn)
		if err != nil {
			return err
		}
		return render(c, http.StatusOK, views.VerificationPanel(p, vp, now))
	}
	counts, err := h.Reports.Counts(ctx, conn.Schema, []string{m.Table})
	if err != nil {
		return err
	}
	rep, err := h.diagnose(c, conn.ID)
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
	codes, err := h.Reports.WriteErrorCodes(ctx, conn.Schema, m.Table)
	if err != nil {
		return err
	}
	d := views.MappingDetail{
		ID: m.ID, ConnID: conn.ID, Object: m.Object, Schema: conn.Schema, Table: m.Table, Live: live,
		Config: views.ConfigSummary{Access: string(m.Config.Access), Mode: modeText(m.Config.SFPollingSeconds, m.Config.Accelerated()), UpsertField: m.Config.UpsertField,
			RecordFilter: m.Config.Filter(), Conflicts: policyLabel(m.Config.ConflictPolicy()), Revision: m.Revision, AppliedAt: m.AppliedAt, FieldCount: len(m.AppliedFields)},
		Fields: fieldRows(m), Events: eventRows(events), Errors: logRows(failed, map[string]int64{m.Table: m.ID}),
		Drift: driftRows(m), OrphanedAt: m.OrphanedAt,
	}
	for _, c := range codes {
		d.ErrorCodes = append(d.ErrorCodes, views.ErrorCodeCount{Code: c.Code, Count: c.Count})
	}
	if d.Verify, err = h.verifyPanel(ctx, m, conn); err != nil {
		return err
	}
	if m.Config.Accelerated() {
		d.Config.Mode = "accelerated (" + streamingText(m.StreamTransport) + "), polling every " + itoa(int64(max(1, m.Config.SFPollingSeconds/60))) + " min as a safety net"
		if m.StreamNote != "" {
			d.Config.Mode = "accelerated, but polling only. " + m.StreamNote
		}
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

// verifyPanel is the mapping's verification section: the last count check and full verification.
func (h *Handlers) verifyPanel(ctx context.Context, m mapping.Mapping, conn connection.Connection) (views.VerifyPanel, error) {
	vp := views.VerifyPanel{MappingID: m.ID, CanVerify: !m.State.Loading(), EveryHours: conn.VerifyEveryHours}
	if m.State.Loading() {
		vp.VerifyWhy = "The mapping is loading: verify it once the load is done"
	}
	if m.CountCheckedAt != nil && m.CountDrift != nil && m.SFCount != nil {
		vp.Count = &views.CountCheckView{At: *m.CountCheckedAt, SFRecords: *m.SFCount, Drift: *m.CountDrift}
	}
	v, ok, err := h.Verifications.LatestOf(ctx, m.ID)
	if err != nil || !ok {
		return vp, err
	}
	fs, err := h.Verifications.Findings(ctx, v.ID, "", findingsShown)
	if err != nil {
		return vp, err
	}
	lv := &views.VerificationView{ID: v.ID, State: string(v.State), Description: v.State.Describe(), Reason: v.StateReason, Open: v.State.Open(),
		RequestedBy: v.RequestedBy, FinishedAt: v.FinishedAt, SFRecords: v.SFRecords, PGRows: v.PGRows, InFlight: v.InFlight,
		Missing: v.Missing, Extra: v.Extra, Stale: v.Stale, Repaired: v.Repaired, CanRepair: v.State == verify.DriftFound,
		MoreFindings: max(0, v.Drift()-int64(len(fs)))}
	if lv.Reason == "" {
		lv.Reason = lv.Description
	}
	for _, f := range fs {
		lv.Findings = append(lv.Findings, views.FindingRow{SFID: f.SFID, Kind: string(f.Kind), SFStamp: f.SFModstamp, PGStamp: f.PGModstamp, Repaired: f.Repaired})
	}
	vp.Last = lv
	if v.State.Open() {
		vp.CanVerify, vp.VerifyWhy = false, "A verification of this mapping is "+strings.ToLower(string(v.State))+" already"
	}
	return vp, nil
}
