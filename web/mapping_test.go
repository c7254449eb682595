package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine/mapping"
)

// TestCreateMappingFromSearchToSave is the seed's Create Mapping: search the objects (htmx and plain
// GET), pick one, choose options and fields (system fields locked, recommended ones preselected),
// save; validation problems come back at their fields with the choices kept.
func TestCreateMappingFromSearchToSave(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	a.mapping(c.ID, "Contact", "LastName")

	d := b.get("/mappings/new?q=widg").doc(t)
	if n := d.Find(`[data-testid="object-row"]`).Length(); n != 1 || text(d, `[data-testid="object-link"]`) != "Widget Widget__c" {
		t.Fatalf("search 'widg': %d rows, first %q", n, text(d, `[data-testid="object-link"]`))
	}
	res := b.htmx(http.MethodGet, "/mappings/new?q=con", nil)
	if !strings.HasPrefix(strings.TrimSpace(res.body), `<div id="object-list"`) || !strings.Contains(res.body, "already mapped") {
		t.Fatalf("htmx search returns only the list, marking mapped objects: %.200s", res.body)
	}
	if res := b.do(http.MethodGet, "/mappings/new?q=con", nil, "HX-Request", "true", "HX-History-Restore-Request", "true"); !strings.Contains(res.body, "<html") {
		t.Fatal("the back button gets the whole page")
	}

	d = b.get("/mappings/new/Account").doc(t)
	row := func(field string) string { return `[data-testid="field-row"][data-field="` + field + `"]` }
	for _, f := range []string{"Id", "SystemModstamp", "IsDeleted"} {
		if d.Find(row(f)+` td:first-child input[type=checkbox][disabled][checked]`).Length() != 1 || d.Find(row(f)+` input[type=hidden][name=field]`).AttrOr("value", "") != f {
			t.Errorf("%s: locked and always sent", f)
		}
	}
	for f, want := range map[string]bool{"CreatedDate": true, "Name": true, "Phone": false} {
		if got := d.Find(row(f)+` [data-testid="field-check"][checked]`).Length() == 1; got != want {
			t.Errorf("%s preselected = %v", f, got)
		}
	}
	if d.Find(row("Region__c")+` [data-testid="required-on-create"]`).Length() != 1 || d.Find(row("Phone")+` [data-testid="required-on-create"]`).Length() != 0 {
		t.Error("required-on-create flag")
	}
	if opts := d.Find(`#upsert-field option`).Text(); opts != "NoneExternal_Id__c" {
		t.Errorf("upsert choices are the external ids: %q", opts)
	}

	form := url.Values{"object": {"Account"}, "access": {"read_write"}, "mode": {"accelerated"}, "polling_minutes": {"5"},
		"field": {"Id", "SystemModstamp", "IsDeleted", "Name", "Phone", "External_Id__c"}, "index": {"Phone"},
		"upsert_field": {"External_Id__c"}, "record_filter": {"Name != bogus"}}
	res = b.post("/mappings", form)
	d = res.doc(t)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(text(d, `[data-testid="error-record_filter"]`), "MALFORMED_QUERY") {
		t.Fatalf("bad filter: %d %q", res.StatusCode, text(d, `[data-testid="error-record_filter"]`))
	}
	if d.Find(row("Phone")+` [data-testid="field-check"][checked]`).Length() != 1 || d.Find(row("Phone")+` [data-testid="index-check"][checked]`).Length() != 1 ||
		d.Find(`[data-testid="access-read-write"][checked]`).Length() != 1 || d.Find(`[data-testid="mode-accelerated"][checked]`).Length() != 1 ||
		d.Find(`[data-testid="polling-minutes"]`).AttrOr("value", "") != "5" || d.Find(`#upsert-field option[selected]`).Text() != "External_Id__c" ||
		!strings.Contains(d.Find(`[data-testid="record-filter"]`).Text(), "bogus") {
		t.Fatal("the admin's choices are kept")
	}
	form.Set("polling_minutes", "90")
	form.Set("record_filter", "")
	d = b.post("/mappings", form).doc(t)
	if !strings.Contains(text(d, `[data-testid="error-polling_minutes"]`), "between 120") {
		t.Fatalf("polling out of range: %q", text(d, `[data-testid="error-polling_minutes"]`))
	}
	form.Set("polling_minutes", "5")
	d = b.post("/mappings", form).doc(t)
	if got := text(d, row("Region__c")+` [data-testid="error-field:Region__c"]`); got != "Account.Region__c is required to create Account records; add it or make the mapping read-only" {
		t.Fatalf("a read/write mapping without a field Salesforce requires to create records: %q", got)
	}
	if box := d.Find(row("Region__c") + ` [data-testid="field-check"]`); box.AttrOr("checked", "no") == "no" || box.AttrOr("disabled", "no") == "no" {
		t.Fatal("while Read/write is chosen, a required field's box is checked and locked")
	}
	form.Add("field", "Region__c")
	res = b.post("/mappings", form)
	loc := res.Header.Get("Location")
	d = b.follow(res).doc(t)
	if !strings.HasPrefix(loc, "/mappings/") || !strings.Contains(text(d, `[data-testid="flash"]`), "Created the Account mapping") {
		t.Fatalf("create: %q %q", loc, text(d, `[data-testid="flash"]`))
	}
	ms, _ := a.admin.Mappings.List(context.Background(), c.ID)
	var m mapping.Mapping
	for _, x := range ms {
		if x.Object == "Account" {
			m = x
		}
	}
	if m.Config.Access != mapping.ReadWrite || !m.Config.SFNotifyEnabled || m.Config.SFPollingSeconds != 300 || m.Config.UpsertField != "External_Id__c" {
		t.Fatalf("stored config: %+v", m.Config)
	}
	if _, ok := m.Config.Indexes["Phone"]; !ok {
		t.Fatal("Phone indexed")
	}
	if got := text(d, `[data-testid="mapping-live"] [data-testid="state"]`); got != "INITIAL" {
		t.Fatalf("new mapping state %q", got)
	}
	// Mapping an object twice leads to the existing mapping.
	if res := b.get("/mappings/new/account"); res.Header.Get("Location") != loc {
		t.Fatalf("mapped twice: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestMappingsTableIsLive checks the table's columns and its self-refreshing fragment.
func TestMappingsTableIsLive(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	a.exec(`UPDATE mappings SET state = 'RELOAD_TABLE', load_expected = 1000, load_done = 250, sf_count = 1000,
		load_started_at = now() - interval '10 seconds' WHERE id = $1`, m.ID)
	tbl := ident(c.Schema, "account")
	a.exec(`INSERT INTO ` + tbl + ` (sfid, name) VALUES ('001A', 'Acme'), ('001B', 'Globex')`) // two pending writes? read-only: READONLY
	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log") + ` (state, action, table_name, record_id, sf_message, updated_at) VALUES
		('NEW', 'UPDATE', 'account', 1, NULL, now()), ('FAILED', 'UPDATE', 'account', 2, 'nope', now())`)

	d := b.get("/mappings").doc(t)
	r := d.Find(`[data-testid="mapping-row"][data-object="Account"]`)
	if r.Find(`[data-testid="state"]`).AttrOr("title", "") != mapping.ReloadTable.Describe() || r.Find(`td.mono`).Text() != "account" {
		t.Fatal("state badge explains itself on hover")
	}
	for id, want := range map[string]string{"sf-rows": "1,000", "pg-rows": "2", "pending": "1", "errors": "1"} {
		if got := strings.TrimSpace(r.Find(`[data-testid="` + id + `"]`).Text()); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if r.Find(`progress`).AttrOr("value", "") != "250" {
		t.Error("load progress in the row")
	}
	if live := d.Find(`#mappings-live`); live.AttrOr("hx-trigger", "") != "every 2s" || live.AttrOr("hx-get", "") != "/mappings?live=1" {
		t.Fatal("the table polls itself")
	}
	res := b.htmx(http.MethodGet, "/mappings?live=1", nil)
	if !strings.HasPrefix(strings.TrimSpace(res.body), `<div id="mappings-live"`) || strings.Contains(res.body, "<html") {
		t.Fatalf("live fragment: %.200s", res.body)
	}
	a.exec(`DELETE FROM mappings WHERE id = $1`, m.ID)
	if res := b.htmx(http.MethodGet, "/mappings?live=1", nil); res.Header.Get("HX-Refresh") != "true" {
		t.Fatal("when the last mapping goes, the page reloads")
	}
}

// TestMappingDetailReloadAbortDelete is the action menu: Reload and Delete confirm with the table,
// its rows and the pending writes to be lost; while loading only Abort is possible.
func TestMappingDetailReloadAbortDelete(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	base := "/mappings/" + itoa(m.ID)
	a.exec(`INSERT INTO ` + ident(c.Schema, "account") + ` (sfid, name) VALUES ('001A', 'Acme'), ('001B', 'Globex'), ('001C', 'Initech')`)
	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log") + ` (state, action, table_name, record_id) VALUES ('NEW', 'UPDATE', 'account', 1), ('NEW', 'UPDATE', 'account', 2)`)

	// Loading (INITIAL): the menu offers Abort, Reload/Delete explain why not.
	d := b.get(base).doc(t)
	if d.Find(`[data-testid="menu-abort"]`).Length() != 1 || d.Find(`a[data-testid="menu-delete"]`).Length() != 0 ||
		!strings.Contains(d.Find(`[data-testid="menu-delete"]`).AttrOr("title", ""), "abort it before deleting") {
		t.Fatal("menu while loading")
	}
	if live := d.Find(`#mapping-live`); live.AttrOr("hx-get", "") != base+"?live=1&loading=1" {
		t.Fatalf("live panel: %q", live.AttrOr("hx-get", ""))
	}
	d = b.get(base + "/delete").doc(t)
	if !strings.Contains(text(d, `[data-testid="loading-refusal"]`), "Abort it before deleting") {
		t.Fatal("delete confirmation while loading")
	}
	if _, disabled := d.Find(`[data-testid="confirm"]`).Attr("disabled"); !disabled {
		t.Fatal("confirm disabled while loading")
	}
	res := b.post(base+"/delete", url.Values{})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "Abort it before deleting") {
		t.Fatalf("engine refusal shown: %q", msg)
	}
	res = b.post(base+"/abort", url.Values{"next": {base + "/delete"}})
	if res.Header.Get("Location") != base+"/delete" {
		t.Fatalf("abort returns to the confirmation: %q", res.Header.Get("Location"))
	}
	d = b.follow(res).doc(t)
	if !strings.Contains(text(d, `[data-testid="flash"]`), "Aborted the Account load") {
		t.Fatal("abort flash")
	}
	if !strings.Contains(text(d, `[data-testid="confirm-rows"]`), c.Schema+".account") || !strings.Contains(text(d, `[data-testid="confirm-rows"]`), "3 rows") ||
		!strings.Contains(text(d, `[data-testid="confirm-pending"]`), "2 pending writes") {
		t.Fatalf("delete confirmation names what is lost: %q / %q", text(d, `[data-testid="confirm-rows"]`), text(d, `[data-testid="confirm-pending"]`))
	}
	// The live panel asks for a reload of the page once loading has ended.
	if res := b.htmx(http.MethodGet, base+"?live=1&loading=1", nil); res.Header.Get("HX-Refresh") != "true" {
		t.Fatal("state change refreshes the page")
	}

	// Reload (ABORTED): confirmation, then the table is emptied and the pending writes discarded.
	d = b.get(base + "/reload").doc(t)
	if !strings.Contains(text(d, `[data-testid="confirm-pending"]`), "2 pending writes") || !strings.Contains(text(d, `[data-testid="confirm-rows"]`), "3 rows") {
		t.Fatal("reload confirmation")
	}
	res = b.post(base+"/reload", url.Values{})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Reloading Account") {
		t.Fatal("reload flash")
	}
	if n, _ := a.admin.Mappings.PendingWrites(context.Background(), m.ID); n != 0 {
		t.Fatalf("pending after reload: %d", n)
	}
	a.mappingState(m.ID, mapping.DataSynced)
	res = b.post(base+"/delete", url.Values{})
	if res.Header.Get("Location") != "/mappings" || !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "dropped table "+c.Schema+".account") {
		t.Fatal("delete")
	}
	var exists bool
	_ = a.pool.QueryRow(context.Background(), `SELECT to_regclass($1) IS NOT NULL`, c.Schema+".account").Scan(&exists)
	if exists {
		t.Fatal("table dropped")
	}
	if res := b.htmx(http.MethodGet, base+"?live=1&loading=0", nil); res.Header.Get("HX-Redirect") != "/mappings" {
		t.Fatalf("the live panel of a deleted mapping leaves the page: %d %v", res.StatusCode, res.Header)
	}
}

// TestEditMappingAndFixDrift edits a mapping with the same form, and applies drift fixes in one click.
func TestEditMappingAndFixDrift(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name", "Phone")
	base := "/mappings/" + itoa(m.ID)
	a.mappingState(m.ID, mapping.DataSynced)

	d := b.get(base + "/edit").doc(t)
	if d.Find(`[data-field="Phone"] [data-testid="field-check"][checked]`).Length() != 1 || d.Find(`form`).Last().AttrOr("action", "") != base {
		t.Fatal("edit form prefilled")
	}
	res := b.post(base, url.Values{"object": {"Account"}, "access": {"read_only"}, "mode": {"polling"}, "polling_minutes": {"10"},
		"field": {"Id", "SystemModstamp", "IsDeleted", "Name"}, "index": {"Name"}, "confirm_remove": {"yes"}})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Saved the Account mapping (revision 2)") {
		t.Fatalf("edit: %d %.300s", res.StatusCode, res.body)
	}
	got, _ := a.admin.Mappings.Get(context.Background(), m.ID)
	if _, ok := got.Config.Fields["Phone"]; ok {
		t.Fatal("Phone removed")
	}

	// Salesforce changed Name's type and removed a field the mapping has.
	a.exec(`UPDATE mappings SET drift = $2 WHERE id = $1`, m.ID, `[{"field":"Name","was":"varchar(255)","now":"double precision","fix":"Recreate the column"},
		{"field":"Gone__c","was":"text","now":"","fix":"Unmap the field","removed":true}]`)
	d = b.get(base).doc(t)
	if d.Find(`[data-testid="drift-row"]`).Length() != 2 || d.Find(`[data-field="Name"] [data-testid="fix-drift"]`).Text() != "Recreate column" {
		t.Fatal("drift panel")
	}
	d = b.get(base + "/edit").doc(t)
	if !strings.Contains(text(d, `[data-field="Name"]`), "varchar(255) → double precision") {
		t.Fatal("the edit form offers to recreate the retyped column")
	}
	res = b.post(base+"/fix-drift", url.Values{"field": {"Name"}, "fix": {"widen"}})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Applied the new definition of Name") {
		t.Fatal("fix drift")
	}
	res = b.post(base+"/fix-drift", url.Values{"field": {"Name"}, "fix": {"explode"}})
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("unknown fix: %d", res.StatusCode)
	}
}

// TestViewerSeesMappingActionsDisabled: viewers see what admins see, with actions disabled and why.
func TestViewerSeesMappingActionsDisabled(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	a.user("viewer@example.com", "viewer")
	v := a.browser()
	v.login("viewer@example.com")
	d := v.get("/mappings/" + itoa(m.ID)).doc(t)
	for _, id := range []string{"menu-edit", "menu-reload", "menu-delete", "menu-abort"} {
		if s := d.Find(`[data-testid="` + id + `"]`); s.AttrOr("title", "") != "Only admins can do this" {
			t.Errorf("%s for a viewer: %q", id, s.AttrOr("title", ""))
		}
	}
	if d.Find(`[data-testid="create-mapping"]`).Length() != 0 {
		t.Error("no Create Mapping on a mapping page")
	}
	d = v.get("/mappings").doc(t)
	if d.Find(`[data-testid="create-mapping"][aria-disabled="true"]`).Length() != 1 {
		t.Error("Create Mapping disabled for viewers")
	}
}

// TestBackgroundRefreshDoesNotKeepTheSessionAlive: live regions poll every few seconds, but only the
// user's own requests count as activity for the idle timeout.
func TestBackgroundRefreshDoesNotKeepTheSessionAlive(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	a.mapping(c.ID, "Account", "Name")
	expiry := func() time.Time {
		var e time.Time
		if err := a.pool.QueryRow(context.Background(), `SELECT expiry FROM sessions WHERE token = $1`, b.sessionCookie()).Scan(&e); err != nil {
			t.Fatal(err)
		}
		return e
	}
	a.exec(`UPDATE sessions SET expiry = now() + interval '1 minute'`) // 29 idle minutes
	if res := b.htmx(http.MethodGet, "/mappings?live=1", nil); res.StatusCode != http.StatusOK || res.Header.Get("Set-Cookie") != "" {
		t.Fatalf("poll: %d %v", res.StatusCode, res.Header)
	}
	if time.Until(expiry()) > 2*time.Minute {
		t.Fatal("a background refresh renewed the session")
	}
	b.get("/mappings")
	if time.Until(expiry()) < 29*time.Minute {
		t.Fatal("the user's own request renews it")
	}
	a.exec(`UPDATE sessions SET expiry = now() - interval '1 second'`)
	if res := b.htmx(http.MethodGet, "/mappings?live=1", nil); res.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(res.Header.Get("HX-Redirect"), "/login") {
		t.Fatalf("expired session while polling: %d %v", res.StatusCode, res.Header)
	}
}

// A mapping stopped by an error offers Recover From Error on its page; recovering a mapping whose
// table never finished loading resumes the load instead of calling it synced.
func TestAStoppedMappingIsRecoveredFromItsPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	page := "/mappings/" + itoa(m.ID)
	if d := b.get(page).doc(t); d.Find(`[data-testid="menu-recover"]`).Length() != 0 {
		t.Fatal("a loading mapping offers no recovery")
	}
	a.exec(`UPDATE mappings SET state = 'SYSTEM_ERROR', state_reason = 'poll failed' WHERE id = $1`, m.ID)
	d := b.get(page).doc(t)
	if d.Find(`[data-testid="menu-recover"]`).Length() != 1 || !strings.Contains(text(d, `[data-testid="mapping-problems"]`), "(SYSTEM_ERROR) is stopped: poll failed") {
		t.Fatalf("a stopped mapping: recover offered %d, problems %q", d.Find(`[data-testid="menu-recover"]`).Length(), text(d, `[data-testid="mapping-problems"]`))
	}
	res := b.post(page+"/recover", url.Values{"next": {page}})
	if got := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(got, "its last load did not finish, so every record is loading again") {
		t.Fatalf("recover: %q", got)
	}
	got, _ := a.admin.Mappings.Get(context.Background(), m.ID)
	if got.State != mapping.ReloadTable {
		t.Fatalf("recovered into %s", got.State)
	}
	if res := b.post(page+"/recover", url.Values{"next": {page}}); !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "no error to recover from") {
		t.Fatal("recovering twice is refused with the reason")
	}
}

// The mapping page shows the count check and the last verification with its findings, and asks for
// a verification or a repair.
func TestTheMappingPageShowsVerificationAndAsksForRepairs(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	page := "/mappings/" + itoa(m.ID)
	if d := b.get(page).doc(t); d.Find(`[data-testid="verify"][disabled], [data-testid="verify"][aria-disabled]`).Length() == 0 {
		t.Fatal("a loading mapping cannot be verified")
	}
	a.mappingState(m.ID, mapping.DataSynced)
	a.exec(`UPDATE mappings SET sf_count = 62, count_checked_at = now(), count_drift = 2 WHERE id = $1`, m.ID)
	res := b.post(page+"/verify", url.Values{"next": {page}})
	if got := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(got, "Verifying Account") {
		t.Fatalf("verify: %q", got)
	}
	d := b.get(page).doc(t)
	if text(d, `[data-testid="verification-state"]`) != "REQUESTED" || d.Find(`#verification[hx-get]`).Length() != 1 {
		t.Fatal("a requested verification refreshes itself until it is done")
	}
	if got := text(d, `[data-testid="count-check"]`); !strings.Contains(got, "counts differ") || !strings.Contains(got, "2 more than the table holds") {
		t.Fatalf("count check: %q", got)
	}
	a.exec(`UPDATE verifications SET state = 'DRIFT_FOUND', started_at = now(), finished_at = now(), missing = 2, state_reason = '2 missing in Postgres' WHERE mapping_id = $1`, m.ID)
	a.exec(`INSERT INTO verification_findings (verification_id, sfid, kind, sf_modstamp) SELECT id, '001000000000000AAA', 'missing', now() FROM verifications WHERE mapping_id = $1`, m.ID)
	d = b.get(page).doc(t)
	if text(d, `[data-testid="missing"]`) != "2" || d.Find(`[data-testid="finding"][data-kind="missing"]`).Length() != 1 || d.Find(`[data-testid="repair"]`).Length() != 1 {
		t.Fatalf("drift found: %q", text(d, `[data-testid="verification"]`))
	}
	if !strings.Contains(text(d, `[data-testid="mapping-problems"]`), "does not hold what Salesforce holds: 2 missing") {
		t.Fatalf("the mapping's problems name the drift: %q", text(d, `[data-testid="mapping-problems"]`))
	}
	var vid int64
	_ = a.pool.QueryRow(context.Background(), `SELECT id FROM verifications WHERE mapping_id = $1`, m.ID).Scan(&vid)
	res = b.post("/verifications/"+itoa(vid)+"/repair", url.Values{"next": {page}})
	if got := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(got, "Repairing") {
		t.Fatalf("repair: %q", got)
	}
}

// An accelerated mapping whose object Salesforce publishes no change events for says so where its
// mode is shown, with the engine's reason.
func TestAnAcceleratedMappingThatDoesNotStreamSaysWhyOnItsPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	cfg := mapping.NewConfig("Name")
	cfg.SFNotifyEnabled = true
	m, err := a.admin.Mappings.Create(context.Background(), testAdmin, c.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := "/mappings/" + itoa(m.ID)
	if got := text(b.get(base).doc(t), `[data-testid="config"]`); !strings.Contains(got, "accelerated (") || strings.Contains(got, "polling only") {
		t.Fatalf("streaming mapping: %q", got)
	}
	a.exec(`UPDATE mappings SET stream_note = 'Not streaming: Salesforce publishes no change events for Lead (400::The channel you requested to subscribe to does not exist {/data/LeadChangeEvent}).' WHERE id = $1`, m.ID)
	got := text(b.get(base).doc(t), `[data-testid="config"]`)
	if !strings.Contains(got, "accelerated, but polling only") || !strings.Contains(got, "does not exist {/data/LeadChangeEvent}") {
		t.Fatalf("mapping that does not stream: %q", got)
	}
}
