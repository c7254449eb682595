package web_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alexedwards/scs/pgxstore"

	"pgforce/handlers"
	"pgforce/internal/account"
	"pgforce/internal/apitoken"
	"pgforce/internal/metrics"
	"pgforce/sync/audit"
	"pgforce/sync/diagnose"
	"pgforce/sync/doctor"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
	"pgforce/sync/salesforce/sforg"
	"pgforce/web"
)

// apiApp serves the whole product (dashboard, API, metrics) over a real engine, not started, whose
// connection is authorized against a simulated org; tokens of every role are ready.
type apiApp struct {
	t      *testing.T
	b      *enginetest.Harness
	srv    *httptest.Server
	tokens map[apitoken.Role]string
	svc    *apitoken.Service
}

// apiCallback is the dashboard callback the org knows (the doctor's PKCE probe names it).
const apiCallback = "http://localhost:9/oauth/callback"

func newAPIApp(t *testing.T) *apiApp {
	t.Helper()
	return newAPIAppWith(t, enginetest.Options{Seed: 3, NoStart: true, Org: sforg.Options{RedirectURIs: []string{apiCallback}}})
}

// newAPIAppWith is newAPIApp on a harness with other options (ViaProxy: the administration reaches
// the database through a proxy the test can cut; sessions, tokens and reports do not).
func newAPIAppWith(t *testing.T, o enginetest.Options) *apiApp {
	t.Helper()
	b := enginetest.New(t, o)
	log := slog.New(slog.DiscardHandler)
	sessions := web.NewSessions(pgxstore.NewWithCleanupInterval(b.Pool, 0), false, log)
	reports := report.New(b.Pool)
	svc := apitoken.New(b.Pool)
	h := &handlers.Handlers{Log: log, Sessions: sessions, Accounts: account.New(b.Pool), Connections: b.Admin.Connections, Mappings: b.Admin.Mappings,
		Configuration: b.Admin.Configuration, Writes: b.Admin.Writes, Verifications: b.Admin.Verifications, Conflicts: b.Admin.Conflicts, Reports: reports,
		Tokens: svc, Diagnose: diagnose.Checker{Connections: b.Admin.Connections, Mappings: b.Admin.Mappings, Reports: reports, Verifications: b.Admin.Verifications},
		Doctor: doctor.Doctor{Inspection: b.Admin.Inspection, Mappings: b.Admin.Mappings, RedirectURL: apiCallback},
		Metrics: metrics.Handler(&metrics.Collector{Connections: b.Admin.Connections, Engine: b.Engine, Reports: reports, Conflicts: b.Admin.Conflicts,
			Health: diagnose.Checker{Connections: b.Admin.Connections, Mappings: b.Admin.Mappings, Reports: reports, Verifications: b.Admin.Verifications}})}
	srv := httptest.NewServer(web.New(web.Deps{Log: log, Sessions: sessions, Handlers: h}))
	t.Cleanup(srv.Close)
	a := &apiApp{t: t, b: b, srv: srv, tokens: map[apitoken.Role]string{}, svc: svc}
	for _, r := range []apitoken.Role{apitoken.Admin, apitoken.Viewer, apitoken.Metrics} {
		_, secret, err := svc.Create(b.Ctx, audit.System, string(r)+"-token", r)
		if err != nil {
			t.Fatal(err)
		}
		a.tokens[r] = secret
	}
	return a
}

type apiResponse struct {
	status int
	header http.Header
	body   string
}

func (a *apiApp) call(token, method, path, body string) apiResponse {
	a.t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return apiResponse{status: res.StatusCode, header: res.Header, body: string(raw)}
}

// as calls with a token of a role and checks the status.
func (a *apiApp) as(role apitoken.Role, method, path, body string, want int) apiResponse {
	a.t.Helper()
	res := a.call(a.tokens[role], method, path, body)
	if res.status != want {
		a.t.Fatalf("%s %s as %s: %d, want %d\n%s", method, path, role, res.status, want, res.body)
	}
	return res
}

func decode[T any](t *testing.T, res apiResponse) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(res.body), &v); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, res.body)
	}
	return v
}

type apiError struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func TestAPIEveryTokenRouteRefusesMissingBadAndRevokedTokensAndWrongRoles(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	_, revoked, err := a.svc.Create(a.b.Ctx, audit.System, "old", apitoken.Admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.svc.Revoke(a.b.Ctx, audit.System, "old"); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, r := range web.Routes(nil) {
		if !r.Access.Bearer() {
			continue
		}
		path := strings.ReplaceAll(r.Path, ":id", "1")
		for name, token := range map[string]string{"missing": "", "bad": "pgf_not-a-token", "revoked": revoked} {
			res := a.call(token, r.Method, path, "")
			e := decode[apiError](t, res)
			if res.status != http.StatusUnauthorized || e.ID != "unauthenticated" || !strings.HasPrefix(res.header.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("%s token, %s %s: %d %s", name, r.Method, r.Path, res.status, res.body)
			}
		}
		var refused []apitoken.Role
		switch r.Access {
		case web.APIRead:
			refused = []apitoken.Role{apitoken.Metrics}
		case web.APIWrite:
			refused = []apitoken.Role{apitoken.Viewer, apitoken.Metrics}
		case web.APIMetrics:
			refused = []apitoken.Role{apitoken.Viewer}
		}
		for _, role := range refused {
			res := a.call(a.tokens[role], r.Method, path, "")
			if e := decode[apiError](t, res); res.status != http.StatusForbidden || e.ID != "forbidden" {
				t.Errorf("%s token, %s %s: %d %s", role, r.Method, r.Path, res.status, res.body)
			}
		}
		if r.Method != http.MethodGet && r.Access != web.APIWrite {
			t.Errorf("%s %s changes state but does not need an admin token", r.Method, r.Path)
		}
		checked++
	}
	if checked < 15 {
		t.Fatalf("only %d token routes in the table", checked)
	}
}

// The API carries the health model: the same verdict and problems as the dashboard, for the
// connection and for each mapping.
func TestAPIConnectionsAndMappingsCarryTheirHealth(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	id := itoa(a.b.Conn.ID)
	m, err := a.b.Admin.Mappings.Create(a.b.Ctx, enginetest.Admin, a.b.Conn.ID, "Account", mapping.NewConfig("Name"))
	if err != nil {
		t.Fatal(err)
	}
	a.b.Exec(`UPDATE connections SET state = 'IDLE' WHERE id = $1`, a.b.Conn.ID)
	a.b.Exec(`UPDATE mappings SET state = 'DATA_SYNCED', last_poll_at = now() WHERE id = $1`, m.ID)
	type health struct {
		Status   string `json:"status"`
		Summary  string `json:"summary"`
		Problems []struct {
			RuleID    string `json:"rule_id"`
			MappingID int64  `json:"mapping_id"`
			FixURL    string `json:"fix_url"`
		} `json:"problems"`
	}
	type conn struct {
		Health  health `json:"health"`
		Summary string `json:"mappings_summary_state"`
	}
	if c := decode[conn](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+id, "", 200)); c.Health.Status != "GREEN" ||
		!strings.HasPrefix(c.Health.Summary, "Healthy") || len(c.Health.Problems) != 0 || c.Summary != "OK" {
		t.Fatalf("a syncing connection: %+v", c)
	}
	a.b.Exec(`INSERT INTO ` + a.b.Conn.Schema + `._trigger_log (state, action, table_name, record_id, sf_message, created_at, updated_at)
		VALUES ('FAILED', 'INSERT', 'account', 1, 'REQUIRED_FIELD_MISSING', now(), now())`)
	c := decode[conn](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+id, "", 200))
	if c.Health.Status != "RED" || !strings.Contains(c.Health.Summary, "Salesforce refused 1 write of Account") || c.Summary != "ERROR" ||
		len(c.Health.Problems) != 1 || c.Health.Problems[0].MappingID != m.ID || c.Health.Problems[0].RuleID != "FAILED_WRITES" {
		t.Fatalf("a failed write: %+v", c)
	}
	type mp struct {
		Counts   struct{ Errors int64 } `json:"counts"`
		Problems []struct {
			RuleID string `json:"rule_id"`
		} `json:"problems"`
	}
	if got := decode[mp](t, a.as(apitoken.Viewer, "GET", "/api/v3/mappings/"+itoa(m.ID), "", 200)); got.Counts.Errors != 1 || len(got.Problems) != 1 || got.Problems[0].RuleID != "FAILED_WRITES" {
		t.Fatalf("the mapping counts its failed write and names the problem: %+v", got)
	}
}

func TestAPIConnectionsLifecycleAndConfiguration(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	id := itoa(a.b.Conn.ID)

	list := decode[struct {
		Count   int `json:"count"`
		Results []struct {
			ID         int64  `json:"id"`
			SchemaName string `json:"schema_name"`
			State      string `json:"state"`
		} `json:"results"`
	}](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections", "", 200))
	if list.Count != 1 || list.Results[0].ID != a.b.Conn.ID || list.Results[0].SchemaName != a.b.Conn.Schema {
		t.Fatalf("list: %+v", list)
	}
	if e := decode[apiError](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/99999", "", 404)); e.ID != "not_found" {
		t.Fatalf("missing connection: %+v", e)
	}
	if e := decode[apiError](t, a.as(apitoken.Viewer, "GET", "/api/v3/nothing-here", "", 404)); e.ID != "not_found" {
		t.Fatalf("unknown path: %+v", e)
	}

	type conn struct {
		State    string `json:"state"`
		Mappings []any  `json:"mappings"`
	}
	// Just authorized, the connection is catching up (RECOVERY): pausing waits for the work in flight.
	if c := decode[conn](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/pause", "", 202)); c.State != "BUSY" && c.State != "PAUSED" {
		t.Fatalf("pause while recovering: %+v", c)
	}
	a.b.Exec(`UPDATE connections SET state = 'IDLE' WHERE id = $1`, a.b.Conn.ID)
	if c := decode[conn](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/pause", "", 202)); c.State != "PAUSED" {
		t.Fatalf("pause: %+v", c)
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/pause", "", 409)); e.ID != "conflict" || !strings.Contains(e.Message, "already paused") {
		t.Fatalf("pause twice: %+v", e)
	}

	// Import while paused (dry run first), then export what was imported.
	cfg := `{"version": 1, "connection": {}, "mappings": [{"object_name": "Account", "config": {"access": "read_only",
		"sf_polling_seconds": 600, "fields": {"Id": {}, "Name": {}, "SystemModstamp": {}}, "indexes": {}}}]}`
	type result struct {
		Added []string `json:"added"`
	}
	if r := decode[result](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/import?dry_run=true", cfg, 200)); len(r.Added) != 1 {
		t.Fatalf("dry run: %+v", r)
	}
	if ms, _ := a.b.Admin.Mappings.List(a.b.Ctx, a.b.Conn.ID); len(ms) != 0 {
		t.Fatal("a dry run must change nothing")
	}
	if r := decode[result](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/import", cfg, 200)); len(r.Added) != 1 || r.Added[0] != "Account" {
		t.Fatalf("import: %+v", r)
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/import", `{"version": 1,`, 422)); e.ID != "invalid" {
		t.Fatalf("broken import: %+v", e)
	}
	export := a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+id+"/actions/export", "", 200)
	if !strings.Contains(export.body, `"object_name": "Account"`) || !strings.Contains(export.body, `"version": 1`) {
		t.Fatalf("export: %s", export.body)
	}
	if c := decode[conn](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+id+"?deep=true", "", 200)); c.State != "PAUSED" || len(c.Mappings) != 1 {
		t.Fatalf("deep show: %+v", c)
	}
	if c := decode[conn](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/resume", "", 202)); c.State != "RECOVERY" {
		t.Fatalf("resume: %+v", c)
	}
	if c := decode[conn](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+id+"/actions/recover", "", 202)); c.State != "RECOVERY" {
		t.Fatalf("recover: %+v", c)
	}

	d := decode[struct {
		Status  string `json:"status"`
		Results []struct {
			RuleID string `json:"rule_id"`
		} `json:"results"`
	}](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+id+"/diagnose", "", 200))
	if d.Status == "" || len(d.Results) < 8 {
		t.Fatalf("diagnose: %+v", d)
	}

	// Every change above is in the audit trail under the token's name, as JSON and as CSV.
	trail := decode[struct {
		Results []struct {
			Actor     string `json:"actor"`
			ActorKind string `json:"actor_kind"`
			Action    string `json:"action"`
		} `json:"results"`
	}](t, a.as(apitoken.Viewer, "GET", "/api/v3/audit?action=connection.", "", 200))
	var byAPI []string
	for _, e := range trail.Results {
		if e.Actor == "token:admin-token" && e.ActorKind == "api" {
			byAPI = append(byAPI, e.Action)
		}
	}
	if strings.Join(byAPI, " ") != "connection.pause connection.pause connection.import connection.resume connection.recover" {
		t.Fatalf("audit by the API token: %v", byAPI)
	}
	csv := a.as(apitoken.Viewer, "GET", "/api/v3/audit?format=csv&action=connection.pause", "", 200)
	if !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") || !strings.HasPrefix(csv.body, "id,time_utc,actor") || !strings.Contains(csv.body, "token:admin-token") {
		t.Fatalf("audit csv: %s", csv.body)
	}
	if e := decode[apiError](t, a.as(apitoken.Viewer, "GET", "/api/v3/audit?since=yesterday", "", 422)); e.ID != "invalid" {
		t.Fatalf("bad since: %+v", e)
	}
}

func TestAPIMappingsCreateEditReloadAbortAndDelete(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	conn := itoa(a.b.Conn.ID)
	type m struct {
		ID         int64          `json:"id"`
		ObjectName string         `json:"object_name"`
		State      string         `json:"state"`
		Access     string         `json:"access"`
		Config     mapping.Config `json:"config"`
		Connection struct {
			ID int64 `json:"id"`
		} `json:"connection"`
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+conn+"/mappings", `{"object_name": "Account"}`, 422)); !strings.Contains(e.Message, "config") {
		t.Fatalf("create without config: %+v", e)
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+conn+"/mappings", `{"object_name": "Account", "config": {"fields": {"Nope__c": {}}}}`, 422)); !strings.Contains(e.Message, "Nope__c") {
		t.Fatalf("create with an unknown field: %+v", e)
	}
	created := decode[m](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+conn+"/mappings",
		`{"object_name": "Account", "config": {"access": "read_only", "fields": {"Name": {}, "Phone": {}}}}`, 201))
	if created.ObjectName != "Account" || created.Connection.ID != a.b.Conn.ID || created.State != "INITIAL" {
		t.Fatalf("created: %+v", created)
	}
	id := itoa(created.ID)
	list := decode[struct {
		Count int `json:"count"`
	}](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+conn+"/mappings", "", 200))
	if list.Count != 1 {
		t.Fatalf("list: %+v", list)
	}

	// Editing waits for the load; once synced, a patch changes only the keys it names.
	if e := decode[apiError](t, a.as(apitoken.Admin, "PATCH", "/api/v3/mappings/"+id, `{"config": {"access": "read_write"}}`, 409)); e.ID != "conflict" {
		t.Fatalf("edit while loading: %+v", e)
	}
	a.b.Exec(`UPDATE mappings SET state = 'DATA_SYNCED', watermark = now(), load_started_at = now(), load_finished_at = now() WHERE id = $1`, created.ID)
	edited := decode[m](t, a.as(apitoken.Admin, "PATCH", "/api/v3/mappings/"+id, `{"config": {"access": "read_write"}}`, 200))
	if edited.Access != "read_write" || len(edited.Config.Fields) != len(created.Config.Fields) {
		t.Fatalf("patched: %+v (fields before %d)", edited, len(created.Config.Fields))
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "PATCH", "/api/v3/mappings/"+id, `{"confg": {}}`, 422)); e.ID != "invalid" {
		t.Fatalf("unknown key: %+v", e)
	}

	if r := decode[m](t, a.as(apitoken.Admin, "POST", "/api/v3/mappings/"+id+"/actions/reload", "", 202)); r.State != "RELOAD_TABLE" {
		t.Fatalf("reload: %+v", r)
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "DELETE", "/api/v3/mappings/"+id, "", 409)); !strings.Contains(e.Message, "Abort") {
		t.Fatalf("delete while loading: %+v", e)
	}
	if r := decode[m](t, a.as(apitoken.Admin, "POST", "/api/v3/mappings/"+id+"/actions/abort", "", 202)); r.State != "ABORTED" {
		t.Fatalf("abort: %+v", r)
	}

	// Failed writes are listed per connection and per mapping.
	a.b.Exec(`INSERT INTO ` + a.b.Conn.Schema + `._trigger_log (state, action, table_name, record_id, sf_message, updated_at)
		VALUES ('FAILED', 'UPDATE', 'account', 7, 'REQUIRED_FIELD_MISSING: Name', now())`)
	for _, path := range []string{"/api/v3/connections/" + conn + "/write-errors", "/api/v3/mappings/" + id + "/write-errors?hours=1"} {
		we := decode[struct {
			Count   int `json:"count"`
			Results []struct {
				TableName string `json:"table_name"`
				RecordID  int64  `json:"record_id"`
				Message   string `json:"message"`
			} `json:"results"`
		}](t, a.as(apitoken.Viewer, "GET", path, "", 200))
		if we.Count != 1 || we.Results[0].RecordID != 7 || !strings.Contains(we.Results[0].Message, "REQUIRED_FIELD_MISSING") {
			t.Fatalf("%s: %+v", path, we)
		}
	}

	a.as(apitoken.Admin, "DELETE", "/api/v3/mappings/"+id, "", 204)
	a.as(apitoken.Viewer, "GET", "/api/v3/mappings/"+id, "", 404)
}

func TestAPIMetricsNeedAMetricsTokenOnTheDashboardAddress(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	res := a.as(apitoken.Metrics, "GET", "/metrics", "", 200)
	for _, series := range []string{`pgforce_connection_state{connection="` + a.b.Conn.Name + `",state="RECOVERY"} 1`, "pgforce_scrape_success 1", "go_goroutines"} {
		if !strings.Contains(res.body, series) {
			t.Errorf("missing %s in\n%s", series, res.body)
		}
	}
	a.as(apitoken.Viewer, "GET", "/metrics", "", 403)
}

func TestAPIOpenAPIDocumentDescribesEveryAPIRoute(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	res := a.call("", "GET", "/api/openapi.json", "")
	if res.status != 200 {
		t.Fatalf("openapi.json without a token: %d", res.status)
	}
	doc := decode[struct {
		OpenAPI string                               `json:"openapi"`
		Paths   map[string]map[string]map[string]any `json:"paths"`
	}](t, res)
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	for _, r := range web.Routes(nil) {
		if !r.Access.Bearer() {
			continue
		}
		path := strings.ReplaceAll(r.Path, ":id", "{id}")
		if _, ok := doc.Paths[path][strings.ToLower(r.Method)]; !ok {
			t.Errorf("%s %s is not in openapi.json", r.Method, path)
		}
	}
}

func TestAPIVerificationIsAskedShownAndRepairedOnlyWhenDriftWasFound(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	m, err := a.b.Admin.Mappings.Create(a.b.Ctx, enginetest.Admin, a.b.Conn.ID, "Account", mapping.NewConfig("Name"))
	if err != nil {
		t.Fatal(err)
	}
	id := itoa(m.ID)
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/mappings/"+id+"/actions/verify", "", 409)); !strings.Contains(e.Message, "loading") {
		t.Fatalf("verify while loading: %+v", e)
	}
	if e := decode[apiError](t, a.as(apitoken.Viewer, "GET", "/api/v3/mappings/"+id+"/verification", "", 404)); !strings.Contains(e.Message, "never verified") {
		t.Fatalf("never verified: %+v", e)
	}
	a.b.Exec(`UPDATE mappings SET state = 'DATA_SYNCED', watermark = now(), load_started_at = now(), load_finished_at = now() WHERE id = $1`, m.ID)
	type ver struct {
		ID    int64  `json:"id"`
		State string `json:"state"`
	}
	v := decode[ver](t, a.as(apitoken.Admin, "POST", "/api/v3/mappings/"+id+"/actions/verify", "", 202))
	if v.State != "REQUESTED" {
		t.Fatalf("verify: %+v", v)
	}
	if got := decode[ver](t, a.as(apitoken.Viewer, "GET", "/api/v3/mappings/"+id+"/verification", "", 200)); got.ID != v.ID {
		t.Fatalf("latest: %+v", got)
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/verifications/"+itoa(v.ID)+"/actions/repair", "", 409)); !strings.Contains(e.Message, "found drift") {
		t.Fatalf("repair before drift: %+v", e)
	}
}
