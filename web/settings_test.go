package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

// TestExportThenImportWithPreview is Import/Export Configuration: Export (confirmation, then a JSON
// attachment), Import (upload, preview of adds/edits/unchanged/notes, problems with JSON paths, Apply).
func TestExportThenImportWithPreview(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	src := a.connection("src", true)
	a.mapping(src.ID, "Account", "Name", "Phone")
	a.mapping(src.ID, "Contact", "LastName")

	d := b.get("/settings/export").doc(t)
	if !strings.Contains(text(d, `[data-testid="confirm-export"]`), "2 mappings") {
		t.Fatal("export confirmation")
	}
	res := b.get(d.Find(`[data-testid="confirm"]`).AttrOr("href", ""))
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/json" ||
		!strings.HasPrefix(res.Header.Get("Content-Disposition"), `attachment; filename="pgforce-conn-src-`) {
		t.Fatalf("export download: %d %v", res.StatusCode, res.Header)
	}
	exported := res.body
	var exp struct {
		Mappings []struct {
			ObjectName string `json:"object_name"`
		} `json:"mappings"`
		Version int `json:"version"`
	}
	if err := json.Unmarshal([]byte(res.body), &exp); err != nil || exp.Version != 1 || len(exp.Mappings) != 2 {
		t.Fatalf("export body: %v %s", err, res.body)
	}

	// Import into another connection that already maps Account differently.
	dst := a.connection("dst", true)
	a.mapping(dst.ID, "Account", "Name")
	a.mapping(dst.ID, "Widget__c", "Name")
	b.get("/settings?conn=" + itoa(dst.ID))

	res = b.upload("/settings/import", "file", "cfg.json", []byte("{\"version\": 1,\n \"mappings\": [}"), nil)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(text(res.doc(t), `[data-testid="import-error"]`), "line 2") {
		t.Fatalf("broken JSON: %d %s", res.StatusCode, text(res.doc(t), `[data-testid="import-error"]`))
	}
	res = b.upload("/settings/import", "", "", nil, nil)
	if !strings.Contains(text(res.doc(t), `[data-testid="import-error"]`), "Choose a configuration file") {
		t.Fatal("no file")
	}
	bad := `{"version": 1, "mappings": [{"object_name": "Account", "config": {"access": "read_write", "fields": {"Id": {}, "Nope__c": {}}}}]}`
	d = b.upload("/settings/import", "file", "bad.json", []byte(bad), nil).doc(t)
	if text(d, `[data-testid="problem-row"] td.mono`) != "mappings[0].config.fields.Nope__c" || d.Find(`[data-testid="apply"]`).Length() != 0 {
		t.Fatalf("problems with their JSON path: %q", text(d, `[data-testid="problem-row"]`))
	}

	d = b.upload("/settings/import", "file", "cfg.json", []byte(exported), nil).doc(t)
	if !strings.Contains(text(d, `[data-testid="import-blocked"]`), "IDLE or PAUSED") {
		t.Fatal("a connection catching up (RECOVERY) cannot import yet")
	}
	a.connState(dst.ID, connection.Idle)
	d = b.upload("/settings/import", "file", "cfg.json", []byte(exported), nil).doc(t)
	if !strings.Contains(text(d, `[data-testid="import-blocked"]`), "Account (INITIAL)") {
		t.Fatalf("an import editing a loading mapping waits: %q", text(d, `[data-testid="import-blocked"]`))
	}
	a.exec(`UPDATE mappings SET state = 'DATA_SYNCED', watermark = now(), load_started_at = now(), load_finished_at = now() WHERE connection_id = $1`, dst.ID)
	res = b.upload("/settings/import", "file", "cfg.json", []byte(exported), nil)
	d = res.doc(t)
	if text(d, `[data-testid="plan-add"]`) == "" || !strings.Contains(text(d, `[data-testid="plan-add"]`), "Contact") ||
		!strings.Contains(text(d, `[data-testid="plan-edit"]`), "Account: fields +Phone") || !strings.Contains(text(d, `[data-testid="plan-notes"]`), "Widget__c is not in the file") {
		t.Fatalf("preview: add %q edit %q notes %q", text(d, `[data-testid="plan-add"]`), text(d, `[data-testid="plan-edit"]`), text(d, `[data-testid="plan-notes"]`))
	}
	raw := d.Find(`textarea[name=config]`).Text()
	res = b.upload("/settings/import/apply", "", "", nil, url.Values{"config": {raw}, "file_name": {"cfg.json"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("apply: %d %s", res.StatusCode, text(res.doc(t), "main"))
	}
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "1 added, 1 edited, 0 unchanged") {
		t.Fatalf("apply: %d %s", res.StatusCode, res.body)
	}
	ms, _ := a.admin.Mappings.List(context.Background(), dst.ID)
	if len(ms) != 3 {
		t.Fatalf("after import: %d mappings", len(ms))
	}
}

// TestRemoveOrphanedMappings lists orphans in Settings and removes them after a confirmation, keeping
// or dropping their tables.
func TestRemoveOrphanedMappings(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Widget__c", "Name")
	a.mapping(c.ID, "Account", "Name")
	d := b.get("/settings").doc(t)
	if !strings.Contains(text(d, `[data-testid="orphans"]`), "None") {
		t.Fatal("no orphans yet")
	}
	a.exec(`UPDATE mappings SET orphaned_at = now() WHERE id = $1`, m.ID)
	d = b.get("/settings").doc(t)
	if text(d, `[data-testid="orphan-row"] a`) != "Widget__c" {
		t.Fatal("orphan listed")
	}
	if !strings.Contains(text(b.get("/mappings/"+itoa(m.ID)).doc(t), `[data-testid="orphan-notice"]`), "no longer exists in Salesforce") {
		t.Fatal("orphan notice on the mapping")
	}
	d = b.get("/settings/orphans").doc(t)
	if !strings.Contains(text(d, `[data-testid="confirm-orphans"]`), c.Schema+".widget__c") || d.Find(`[data-testid="drop-tables"]`).Length() != 1 {
		t.Fatal("confirmation names the tables and offers to drop them")
	}
	res := b.post("/settings/orphans/remove", url.Values{"drop_tables": {"1"}})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Removed 1 orphaned mapping and dropped their tables") {
		t.Fatal("remove")
	}
	res = b.post("/settings/orphans/remove", url.Values{})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "no orphaned mappings") {
		t.Fatal("nothing left to remove")
	}
}

// TestDownloadAuditTrail downloads the trail as CSV with a date range and an action filter.
func TestDownloadAuditTrail(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	a.connState(c.ID, connection.Idle)
	b.post("/connections/"+itoa(c.ID)+"/pause", url.Values{})

	d := b.get("/settings").doc(t)
	form := d.Find(`[data-testid="audit"] form`)
	if form.AttrOr("action", "") != "/settings/audit.csv" || form.Find(`option[value="connection."]`).Length() != 1 {
		t.Fatal("audit form")
	}
	res := b.get("/settings/audit.csv?action=connection.pause&since=" + form.Find(`#audit-since`).AttrOr("value", "") + "&until=" + form.Find(`#audit-until`).AttrOr("value", ""))
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/csv") || !strings.Contains(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv: %d %v", res.StatusCode, res.Header)
	}
	rows, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil || len(rows) != 2 || rows[1][2] != "admin@example.com" || rows[1][5] != "connection.pause" {
		t.Fatalf("rows: %v %v", rows, err)
	}
	if res := b.get("/settings/audit.csv?since=yesterday"); res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "must look like") {
		t.Fatalf("bad date: %d", res.StatusCode)
	}
}

// TestSandboxRefreshGuide walks the guided recreation: export, pause, set up and authorize, import,
// load; each step shows its status.
func TestSandboxRefreshGuide(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	old := a.connection("old", true)
	a.mapping(old.ID, "Account", "Name")
	a.connState(old.ID, connection.Idle)
	guide := "/settings/sandbox-refresh?from=" + itoa(old.ID)

	d := b.get(guide).doc(t)
	if d.Find(`li.done`).Length() != 0 {
		t.Fatal("nothing done yet")
	}
	b.get(d.Find(`[data-testid="step-export"] a`).AttrOr("href", ""))
	res := b.post("/connections/"+itoa(old.ID)+"/pause", url.Values{"next": {guide}})
	d = b.follow(res).doc(t)
	if d.Find(`[data-testid="step-export"].done`).Length() != 1 || d.Find(`[data-testid="step-pause"].done`).Length() != 1 {
		t.Fatal("export and pause done")
	}
	d = b.get(d.Find(`[data-testid="refresh-connect"]`).AttrOr("href", "")).doc(t)
	schema := d.Find(`#conn-schema`).AttrOr("value", "")
	if schema != old.Schema+"_refreshed" || d.Find(`[data-testid="org-type-sandbox"][checked]`).Length() != 1 {
		t.Fatalf("setup prefilled for the refreshed sandbox: %q", schema)
	}
	t.Cleanup(func() { dropSchema(t, schema) })
	res = b.post("/connections", url.Values{"name": {"refreshed"}, "schema": {schema}, "org_type": {"sandbox"}, "api_version": {"62.0"},
		"next": {d.Find(`input[name=next]`).AttrOr("value", "")}})
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, guide+"&to=") {
		t.Fatalf("back to the guide: %q", loc)
	}
	d = b.get(loc).doc(t)
	if d.Find(`[data-testid="refresh-authorize"]`).Length() != 1 {
		t.Fatal("authorize step")
	}
	// Authorizing from the guide comes back to the guide.
	form := d.Find(`[data-testid="refresh-authorize"]`).Closest("form")
	res = b.post(form.AttrOr("action", ""), url.Values{"next": {form.Find(`input[name=next]`).AttrOr("value", "")}})
	stateOf(t, res)
	if res := b.get(a.approve(res.Header.Get("Location"))); res.Header.Get("Location") != loc {
		t.Fatalf("callback returns to %q, want the guide", res.Header.Get("Location"))
	}
	conns, _ := a.admin.Connections.List(context.Background())
	var to connection.Connection
	for _, c := range conns {
		if c.Name == "refreshed" {
			to = c
		}
	}
	if d = b.get(loc).doc(t); d.Find(`[data-testid="step-connect"].done`).Length() != 1 {
		t.Fatal("connect step done once authorized")
	}
	if btn := d.Find(`[data-testid="refresh-import"]`); !strings.Contains(btn.AttrOr("title", ""), "IDLE") {
		t.Fatalf("import waits for the new connection to be IDLE: %q", btn.AttrOr("title", ""))
	}
	a.connState(to.ID, connection.Idle) // the syncer does this after authorizing
	res = b.post("/connections/"+itoa(to.ID)+"/import-from", url.Values{"from": {itoa(old.ID)}, "next": {loc}})
	d = b.follow(res).doc(t)
	if !strings.Contains(text(d, `[data-testid="flash"]`), "1 added") || d.Find(`[data-testid="step-import"].done`).Length() != 1 {
		t.Fatalf("import step: %q", text(d, `[data-testid="flash"]`))
	}
	// Imported mappings load by themselves; once loaded, reload offers itself.
	if _, disabled := d.Find(`[data-testid="refresh-reload"]`).Attr("disabled"); !disabled {
		t.Fatal("every mapping loading: nothing to reload")
	}
	a.exec(`UPDATE mappings SET state = 'DATA_SYNCED', watermark = now(), load_started_at = now(), load_finished_at = now() WHERE connection_id = $1`, to.ID)
	res = b.post("/connections/"+itoa(to.ID)+"/reload-all", url.Values{"next": {loc}})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Reloading 1 mapping") {
		t.Fatal("reload step")
	}
	ms, _ := a.admin.Mappings.List(context.Background(), to.ID)
	if len(ms) != 1 || ms[0].State != mapping.ReloadTable {
		t.Fatalf("reloaded: %+v", ms)
	}
}

// TestRecoverAfterRollbackAndCheckSchema: Reload all mappings (with a confirmation listing what is
// lost) and "Check now" for orphans and changed fields.
func TestRecoverAfterRollbackAndCheckSchema(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	acct := a.mapping(c.ID, "Account", "Name")
	a.mapping(c.ID, "Contact", "LastName") // INITIAL: loading, skipped
	widget := a.mapping(c.ID, "Widget__c", "Name")
	a.mappingState(acct.ID, mapping.DataSynced)
	a.mappingState(widget.ID, mapping.DataSynced)
	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log") + ` (state, action, table_name, record_id) VALUES ('NEW', 'UPDATE', 'account', 1)`)

	d := b.get("/settings/reload-all").doc(t)
	if n := d.Find(`[data-testid="reload-row"]`).Length(); n != 3 || !strings.Contains(text(d, `[data-testid="reload-row"]`), c.Schema+".account") ||
		!strings.Contains(d.Find(`[data-testid="reload-row"]`).Eq(1).Text(), "loading: skipped") {
		t.Fatalf("confirmation: %d rows: %q", n, text(d, `[data-testid="confirm-reload-all"]`))
	}
	if got := strings.TrimSpace(d.Find(`[data-testid="reload-row"]`).First().Find("td").Last().Text()); got != "1" {
		t.Fatalf("pending writes lost on account: %q", got)
	}
	res := b.post(d.Find(`[data-testid="confirm"]`).Closest("form").AttrOr("action", ""), url.Values{"next": {"/mappings"}})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Reloading 2 mappings") {
		t.Fatal("reload all")
	}

	// Widget__c disappears from the org: Check now marks it orphaned.
	a.orgs.org.RemoveObject("Widget__c")
	res = b.post("/connections/"+itoa(c.ID)+"/check-schema", url.Values{})
	d = b.follow(res).doc(t)
	if !strings.Contains(text(d, `[data-testid="flash"]`), "Checked the mappings") || text(d, `[data-testid="orphan-row"] a`) != "Widget__c" {
		t.Fatalf("check now: %q, orphans %q", text(d, `[data-testid="flash"]`), text(d, `[data-testid="orphans"]`))
	}
}

// TestPollingDefaultAppliesToNewMappings: Settings sets the interval new mappings start with; the
// Create Mapping form proposes it; out-of-range values are refused with a message.
func TestPollingDefaultAppliesToNewMappings(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("poll", true)
	d := b.get("/settings?conn=" + itoa(c.ID)).doc(t)
	if _, disabled := d.Find(`[data-testid="save-polling"]`).Attr("disabled"); disabled {
		t.Fatal("the polling default can be changed")
	}
	res := b.post("/connections/"+itoa(c.ID)+"/polling", url.Values{"polling_minutes": {"15"}})
	if res.StatusCode >= 400 {
		t.Fatalf("set polling default: %d", res.StatusCode)
	}
	selected := func() string {
		return b.get("/settings?conn="+itoa(c.ID)).doc(t).Find(`#polling-default option[selected]`).AttrOr("value", "")
	}
	if got := selected(); got != "15" {
		t.Fatalf("the saved default shows as %q, want 15", got)
	}
	form := b.get("/mappings/new/Account").doc(t)
	if got := form.Find(`[data-testid="polling-minutes"]`).AttrOr("value", ""); got != "15" {
		t.Fatalf("a new mapping proposes %q minutes, want 15", got)
	}
	b.post("/connections/"+itoa(c.ID)+"/polling", url.Values{"polling_minutes": {"1"}})
	if page := b.get("/settings?conn=" + itoa(c.ID)).body; !strings.Contains(page, "from 2 to 60") {
		t.Fatal("1 minute is refused with a message")
	}
	if got := selected(); got != "15" {
		t.Fatalf("after a refused change the default is %q, want 15", got)
	}
}

// TestDiagnoseShowsEveryCheckWithItsFix: the Diagnose page (linked from Activity) runs the checks
// of `pgforce diagnose` for the current connection, worst status first in the header.
func TestDiagnoseShowsEveryCheckWithItsFix(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("diag", true)
	a.mapping(c.ID, "Account", "Name")
	if href := b.get("/activity").doc(t).Find(`[data-testid="open-diagnose"]`).AttrOr("href", ""); href != "/diagnose" {
		t.Fatalf("Activity links to Diagnose: %q", href)
	}
	d := b.get("/diagnose?conn=" + itoa(c.ID)).doc(t)
	rows := d.Find(`[data-testid="diagnose-row"]`)
	if rows.Length() < 5 {
		t.Fatalf("%d checks shown", rows.Length())
	}
	overall := strings.TrimSpace(d.Find(`[data-testid="diagnose-overall"]`).Text())
	if overall != "GREEN" && overall != "YELLOW" && overall != "RED" {
		t.Fatalf("overall status %q", overall)
	}
	worst := "GREEN"
	rows.Each(func(_ int, r *goquery.Selection) {
		st := r.AttrOr("data-status", "")
		if st == "RED" || (st == "YELLOW" && worst == "GREEN") {
			worst = st
		}
		if (st == "RED" || st == "YELLOW") && strings.TrimSpace(r.Find("td").Eq(3).Text()) == "" {
			t.Errorf("%s check %q has no fix", st, r.Find("td").First().Text())
		}
	})
	if overall != worst {
		t.Fatalf("overall %s, worst check %s", overall, worst)
	}
}

// Settings sets how often mappings are verified in full; the choice is audited and bad values refused.
func TestSettingsSetTheVerificationSchedule(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	if d := b.get("/settings").doc(t); d.Find(`#verify-every option[selected]`).AttrOr("value", "") != "24" {
		t.Fatal("a new connection verifies every night")
	}
	res := b.post("/connections/"+itoa(c.ID)+"/verify-schedule", url.Values{"verify_every_hours": {"0"}, "next": {"/settings"}})
	if got := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(got, "no longer verified on a schedule") {
		t.Fatalf("schedule off: %q", got)
	}
	if got, _ := a.admin.Connections.Get(context.Background(), c.ID); got.VerifyEveryHours != 0 {
		t.Fatalf("stored %d", got.VerifyEveryHours)
	}
	res = b.post("/connections/"+itoa(c.ID)+"/verify-schedule", url.Values{"verify_every_hours": {"-3"}, "next": {"/settings"}})
	if got := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(got, "1 to 8760 hours") {
		t.Fatalf("a bad schedule: %q", got)
	}
	var n int
	_ = a.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'verification.schedule'`).Scan(&n)
	if n != 1 {
		t.Fatalf("audited %d times", n)
	}
}
