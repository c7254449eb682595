package handlers

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/views"
)

// ShowSettings renders Settings → Manage connection: state and controls, write algorithm, API
// version, polling default, orphaned mappings, import/export, audit trail, sandbox refresh and the
// list of connections.
func (h *Handlers) ShowSettings(c echo.Context) error {
	p, cur, conns, err := h.dashboard(c, "Settings", "settings")
	if err != nil {
		return err
	}
	m := views.SettingsPage{}
	if cur != nil {
		if m, err = h.settings(c.Request().Context(), *cur, conns); err != nil {
			return err
		}
	}
	if isHTMX(c) && c.QueryParam("live") == "1" && m.Conn != nil {
		// The Manage Connection panel refreshes itself while the connection moves between states.
		return render(c, http.StatusOK, views.ManageConnection(p, m, h.now()))
	}
	return render(c, http.StatusOK, views.Settings(p, m, h.now()))
}

// auditActions are offered as filters of the audit trail download: areas first, then each action.
var auditActions = []audit.Action{"connection.", "mapping.", "user.", "write.",
	audit.ConnectionCreate, audit.ConnectionAuthorize, audit.ConnectionPause, audit.ConnectionResume, audit.ConnectionRecover,
	audit.WriteAlgorithm, audit.APIVersion, audit.ConfigImport, audit.MappingCreate, audit.MappingEdit, audit.MappingDelete,
	audit.MappingReload, audit.MappingAbort, audit.MappingRecover, audit.OrphansRemove, audit.WriteRetry, audit.WriteIgnore, audit.UserAdd, audit.UserRemove, audit.UserUnlock}

func (h *Handlers) settings(ctx context.Context, conn connection.Connection, conns []connection.Connection) (views.SettingsPage, error) {
	cv := connectionView(conn)
	m := views.SettingsPage{Conn: &cv, APIVersions: apiVersions(conn.APIVersion), SimulatedOrg: h.SimulatedOrg,
		AuditSince: h.now().AddDate(0, 0, -30).Format("2006-01-02"), AuditUntil: h.now().Format("2006-01-02")}
	for _, a := range auditActions {
		m.AuditActions = append(m.AuditActions, string(a))
	}
	for _, cc := range conns {
		m.Conns = append(m.Conns, connectionView(cc))
	}
	orphans, err := h.Mappings.Orphans(ctx, conn.ID)
	if err != nil {
		return m, err
	}
	for _, o := range orphans {
		m.Orphans = append(m.Orphans, views.OrphanRow{ID: o.ID, Object: o.Object, Table: o.Table, Since: *o.OrphanedAt})
	}
	return m, nil
}
