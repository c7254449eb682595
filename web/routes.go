package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/handlers"
)

// Access classifies a route: who may call it. Every route has one, and the authorisation test walks
// this table, so a new route cannot be added without deciding who may use it.
type Access int

const (
	Public Access = iota // anyone, signed in or not
	Viewer               // any signed-in user (admins included)
	Admin                // signed-in admins only; these are the actions
	// Bearer-token routes (the REST API and /metrics): no session, no cookies, so no cross-site
	// request can ride on them.
	APIRead    // a token of role viewer or admin
	APIWrite   // a token of role admin
	APIMetrics // a token of role metrics or admin
)

func (a Access) String() string {
	return [...]string{"public", "viewer", "admin", "api-read", "api-write", "api-metrics"}[a]
}

// Bearer reports whether the route authenticates with an API token instead of a session.
func (a Access) Bearer() bool { return a == APIRead || a == APIWrite || a == APIMetrics }

// Route is one entry of the route table.
type Route struct {
	Method  string
	Path    string
	Access  Access
	Handler echo.HandlerFunc
}

// Routes is the whole product surface: every path pgforce serves (besides /static, /healthz, /readyz
// and the simulated org under /sim) is listed here — dashboard, REST API and metrics.
func Routes(h *handlers.Handlers) []Route {
	return []Route{
		// Sign-in and first-run setup.
		{http.MethodGet, "/login", Public, h.ShowLogin},
		{http.MethodPost, "/login", Public, h.SubmitLogin},
		{http.MethodGet, "/setup", Public, h.ShowSetup},
		{http.MethodPost, "/setup", Public, h.SubmitSetup},
		{http.MethodPost, "/logout", Viewer, h.Logout},

		// Overview and connections.
		{http.MethodGet, "/", Viewer, h.ShowOverview},
		{http.MethodGet, "/connections/new", Viewer, h.ShowNewConnection},
		{http.MethodPost, "/connections", Admin, h.CreateConnection},
		{http.MethodPost, "/connections/:id/authorize", Admin, h.AuthorizeConnection},
		{http.MethodGet, "/oauth/callback", Admin, h.OAuthCallback},
		{http.MethodPost, "/connections/:id/pause", Admin, h.PauseConnection},
		{http.MethodPost, "/connections/:id/resume", Admin, h.ResumeConnection},
		{http.MethodPost, "/connections/:id/recover", Admin, h.RecoverConnection},
		{http.MethodPost, "/connections/:id/write-algorithm", Admin, h.SetWriteAlgorithm},
		{http.MethodPost, "/connections/:id/api-version", Admin, h.SetAPIVersion},
		{http.MethodPost, "/connections/:id/polling", Admin, h.SetPollingDefault},
		{http.MethodPost, "/connections/:id/verify-schedule", Admin, h.SetVerifySchedule},
		{http.MethodPost, "/connections/:id/stream-transport", Admin, h.SetStreamTransport},
		{http.MethodPost, "/connections/:id/import-from", Admin, h.ImportFrom},
		{http.MethodPost, "/connections/:id/reload-all", Admin, h.ReloadAll},
		{http.MethodPost, "/connections/:id/check-schema", Admin, h.CheckSchema},
		{http.MethodGet, "/connections/:id/delete", Viewer, h.ShowDeleteConnection},
		{http.MethodPost, "/connections/:id/delete", Admin, h.DeleteConnection},

		// Mappings.
		{http.MethodGet, "/mappings", Viewer, h.ShowMappings},
		{http.MethodGet, "/mappings/new", Viewer, h.ShowNewMapping},
		{http.MethodGet, "/mappings/new/:object", Viewer, h.ShowMappingForm},
		{http.MethodPost, "/mappings", Admin, h.CreateMapping},
		{http.MethodGet, "/mappings/:id", Viewer, h.ShowMapping},
		{http.MethodGet, "/mappings/:id/edit", Viewer, h.ShowEditMapping},
		{http.MethodPost, "/mappings/:id", Admin, h.UpdateMapping},
		{http.MethodPost, "/mappings/:id/fix-drift", Admin, h.FixDrift},
		{http.MethodGet, "/mappings/:id/reload", Viewer, h.ShowReloadMapping},
		{http.MethodPost, "/mappings/:id/reload", Admin, h.ReloadMapping},
		{http.MethodGet, "/mappings/:id/abort", Viewer, h.ShowAbortMapping},
		{http.MethodPost, "/mappings/:id/abort", Admin, h.AbortMapping},
		{http.MethodPost, "/mappings/:id/recover", Admin, h.RecoverMapping},
		{http.MethodPost, "/mappings/:id/verify", Admin, h.VerifyMapping},
		{http.MethodPost, "/mappings/:id/errors/retry", Admin, h.RetryErrorsByCode},
		{http.MethodPost, "/mappings/:id/errors/ignore", Admin, h.IgnoreErrorsByCode},
		{http.MethodPost, "/verifications/:id/repair", Admin, h.RepairVerification},
		{http.MethodGet, "/mappings/:id/delete", Viewer, h.ShowDeleteMapping},
		{http.MethodPost, "/mappings/:id/delete", Admin, h.DeleteMapping},

		// Explorer and activity.
		{http.MethodGet, "/explorer", Viewer, h.ShowExplorer},
		{http.MethodGet, "/explorer/:mapping/:id", Viewer, h.ShowRecord},
		{http.MethodPost, "/writes/:id/retry", Admin, h.RetryWrite},
		{http.MethodPost, "/writes/:id/ignore", Admin, h.IgnoreWrite},
		{http.MethodPost, "/writes/:id/resend", Admin, h.ResendWrite},
		{http.MethodGet, "/conflicts", Viewer, h.ShowConflicts},
		{http.MethodPost, "/conflicts/:id/keep", Admin, h.KeepConflict},
		{http.MethodGet, "/activity", Viewer, h.ShowActivity},
		{http.MethodGet, "/diagnose", Viewer, h.ShowDiagnose},
		{http.MethodGet, "/doctor", Viewer, h.ShowDoctor},

		// The built-in simulated org (when this process serves it).
		{http.MethodGet, "/simulated-org", Admin, h.ShowSimulatedOrg},
		{http.MethodPost, "/simulated-org/generate", Admin, h.GenerateSimRecords},
		{http.MethodPost, "/simulated-org/faults", Admin, h.InjectSimFault},
		{http.MethodPost, "/simulated-org/faults/clear", Admin, h.ClearSimFaults},
		{http.MethodPost, "/simulated-org/tokens", Admin, h.ExpireSimTokens},

		// Settings.
		{http.MethodGet, "/settings", Viewer, h.ShowSettings},
		{http.MethodGet, "/settings/orphans", Viewer, h.ShowRemoveOrphans},
		{http.MethodPost, "/settings/orphans/remove", Admin, h.RemoveOrphans},
		{http.MethodGet, "/settings/export", Viewer, h.ShowExport},
		{http.MethodGet, "/settings/export.json", Viewer, h.ExportConfig},
		{http.MethodGet, "/settings/import", Viewer, h.ShowImport},
		{http.MethodPost, "/settings/import", Admin, h.PreviewImport},
		{http.MethodPost, "/settings/import/apply", Admin, h.ApplyImport},
		{http.MethodGet, "/settings/audit.csv", Viewer, h.DownloadAudit},
		{http.MethodGet, "/settings/sandbox-refresh", Viewer, h.ShowSandboxRefresh},
		{http.MethodGet, "/settings/reload-all", Viewer, h.ShowReloadAll},

		// Settings → Users and roles.
		{http.MethodGet, "/settings/users", Viewer, h.ShowUsers},
		{http.MethodPost, "/settings/users", Admin, h.AddUser},
		{http.MethodPost, "/settings/users/remove", Admin, h.RemoveUser},

		// REST API v3 (JSON, bearer tokens) and its description.
		{http.MethodGet, "/api/openapi.json", Public, h.ShowOpenAPI},
		{http.MethodGet, "/api/v3/connections", APIRead, h.APIListConnections},
		{http.MethodGet, "/api/v3/connections/:id", APIRead, h.APIShowConnection},
		{http.MethodPost, "/api/v3/connections/:id/actions/pause", APIWrite, h.APIPauseConnection},
		{http.MethodPost, "/api/v3/connections/:id/actions/resume", APIWrite, h.APIResumeConnection},
		{http.MethodPost, "/api/v3/connections/:id/actions/recover", APIWrite, h.APIRecoverConnection},
		{http.MethodGet, "/api/v3/connections/:id/actions/export", APIRead, h.APIExportConfig},
		{http.MethodPost, "/api/v3/connections/:id/actions/import", APIWrite, h.APIImportConfig},
		{http.MethodGet, "/api/v3/connections/:id/diagnose", APIRead, h.APIDiagnose},
		{http.MethodGet, "/api/v3/connections/:id/doctor", APIRead, h.APIDoctor},
		{http.MethodGet, "/api/v3/connections/:id/write-errors", APIRead, h.APIConnectionWriteErrors},
		{http.MethodGet, "/api/v3/connections/:id/conflicts", APIRead, h.APIListConflicts},
		{http.MethodPost, "/api/v3/conflicts/:id/actions/keep", APIWrite, h.APIKeepConflict},
		{http.MethodGet, "/api/v3/connections/:id/mappings", APIRead, h.APIListMappings},
		{http.MethodPost, "/api/v3/connections/:id/mappings", APIWrite, h.APICreateMapping},
		{http.MethodGet, "/api/v3/mappings/:id", APIRead, h.APIShowMapping},
		{http.MethodPatch, "/api/v3/mappings/:id", APIWrite, h.APIUpdateMapping},
		{http.MethodDelete, "/api/v3/mappings/:id", APIWrite, h.APIDeleteMapping},
		{http.MethodPost, "/api/v3/mappings/:id/actions/reload", APIWrite, h.APIReloadMapping},
		{http.MethodPost, "/api/v3/mappings/:id/actions/abort", APIWrite, h.APIAbortMapping},
		{http.MethodPost, "/api/v3/mappings/:id/actions/recover", APIWrite, h.APIRecoverMapping},
		{http.MethodPost, "/api/v3/mappings/:id/actions/verify", APIWrite, h.APIVerifyMapping},
		{http.MethodGet, "/api/v3/mappings/:id/verification", APIRead, h.APIShowMappingVerification},
		{http.MethodPost, "/api/v3/verifications/:id/actions/repair", APIWrite, h.APIRepairVerification},
		{http.MethodGet, "/api/v3/mappings/:id/write-errors", APIRead, h.APIMappingWriteErrors},
		{http.MethodPost, "/api/v3/mappings/:id/write-errors/actions/retry", APIWrite, h.APIRetryWriteErrors},
		{http.MethodPost, "/api/v3/mappings/:id/write-errors/actions/ignore", APIWrite, h.APIIgnoreWriteErrors},
		{http.MethodGet, "/api/v3/audit", APIRead, h.APIAudit},

		// Prometheus metrics (also on PGFORCE_METRICS_ADDR without a token, when set).
		{http.MethodGet, "/metrics", APIMetrics, h.ServeMetrics},
	}
}
