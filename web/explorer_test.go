package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
)

// TestExplorerBrowsesSearchesAndRetriesFailedWrites: pick a table, page through it, search by sfid or
// Name (wildcards taken literally), open a record with its write history, retry or ignore a failure.
func TestExplorerBrowsesSearchesAndRetriesFailedWrites(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	a.mapping(c.ID, "Contact", "LastName")
	acct := ident(c.Schema, "account")
	a.exec(`INSERT INTO ` + acct + ` (sfid, name) SELECT '001' || lpad(g::text, 15, '0'), 'Account ' || g FROM generate_series(1, 60) g`)
	// The writer records failures on the row as pgforce (its writes are not captured).
	a.exec(`BEGIN; SET LOCAL xmlbinary = 'hex'; INSERT INTO ` + acct + ` (sfid, name, _hc_lastop, _hc_err)
		VALUES (NULL, '50% off_sale', 'FAILED', '{"message":"REQUIRED_FIELD_MISSING"}'); COMMIT`)
	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log") + ` (id, state, action, table_name, record_id, sf_message, "values", updated_at) VALUES
		(900, 'FAILED', 'INSERT', 'account', 61, 'REQUIRED_FIELD_MISSING: Required fields are missing: [Region__c]', 'name=>"50% off_sale"', now())`)
	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log_archive") + ` (id, state, action, table_name, record_id, created_at, updated_at) VALUES
		(800, 'SUCCESS', 'UPDATE', 'account', 61, now() - interval '1 hour', now() - interval '1 hour')`)

	d := b.get("/explorer?mapping=" + itoa(m.ID)).doc(t)
	if n := d.Find(`[data-testid="explorer-row"]`).Length(); n != 50 || d.Find(`[data-testid="next-page"]`).Length() != 1 {
		t.Fatalf("page 1: %d rows", n)
	}
	d = b.get(d.Find(`[data-testid="next-page"]`).AttrOr("href", "")).doc(t)
	if n := d.Find(`[data-testid="explorer-row"]`).Length(); n != 11 || d.Find(`[data-testid="next-page"]`).Length() != 0 || text(d, `[data-testid="row-range"]`) != "Rows 51–61 · page 2" {
		t.Fatalf("page 2: %d rows", n)
	}
	d = b.get("/explorer?mapping=" + itoa(m.ID) + "&q=" + url.QueryEscape("50% off_")).doc(t)
	if d.Find(`[data-testid="explorer-row"]`).Length() != 1 || d.Find(`tr.failed`).Length() != 1 {
		t.Fatal("literal search finds the failed row, highlighted")
	}
	if n := b.get("/explorer?mapping=" + itoa(m.ID) + "&q=000000000000007").doc(t).Find(`[data-testid="explorer-row"]`).Length(); n != 1 {
		t.Fatalf("sfid search: %d", n)
	}
	if !strings.Contains(text(b.get("/explorer?mapping="+itoa(m.ID)+"&q=nothing-like-it").doc(t), `[data-testid="no-rows"]`), "No row of account matches") {
		t.Fatal("no match")
	}

	rec := "/explorer/" + itoa(m.ID) + "/61"
	d = b.get(rec).doc(t)
	if text(d, `[data-testid="col-name"]`) != "50% off_sale" || text(d, `[data-testid="col-sfid"]`) != "NULL" || text(d, `[data-testid="col-_hc_lastop"]`) != "FAILED" {
		t.Fatal("record columns")
	}
	if !strings.Contains(text(d, `[data-testid="record-error"]`), "REQUIRED_FIELD_MISSING") {
		t.Fatal("the write error is shown")
	}
	if n := d.Find(`[data-testid="log-row"]`).Length(); n != 2 || d.Find(`[data-testid="retry-write"]`).Length() != 1 {
		t.Fatalf("history: %d rows", n)
	}
	res := b.post("/writes/900/retry", url.Values{"next": {rec}})
	if res.Header.Get("Location") != rec || !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Retrying write 900") {
		t.Fatal("retry")
	}
	var state string
	_ = a.pool.QueryRow(context.Background(), `SELECT state FROM `+ident(c.Schema, "_trigger_log")+` WHERE id = 900`).Scan(&state)
	if state != "REQUEUED" {
		t.Fatalf("retried write is %s", state)
	}
	res = b.post("/writes/900/ignore", url.Values{"next": {rec}})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "not FAILED") {
		t.Fatalf("ignoring a requeued write: %q", msg)
	}
	if res := b.get("/explorer/" + itoa(m.ID) + "/99999"); res.StatusCode != http.StatusNotFound || !strings.Contains(res.body, "does not exist") {
		t.Fatalf("missing row: %d", res.StatusCode)
	}
}

// TestActivityFiltersEventsAndShowsWriteErrors lists the last 24 hours in one list, failed writes
// among the events, filterable by level, mapping and kind.
func TestActivityFiltersEventsAndShowsWriteErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	acct := a.mapping(c.ID, "Account", "Name")
	a.mapping(c.ID, "Contact", "LastName")
	a.exec(`INSERT INTO events (connection_id, mapping_id, object_name, level, kind, message, at) VALUES
		($1, $2, 'Account', 'error', 'poll', 'Salesforce timed out', now()),
		($1, $2, 'Account', 'info', 'poll', 'Polling Salesforce found 3 updated records', now()),
		($1, NULL, '', 'info', 'state', 'IDLE → PAUSED', now() - interval '2 days')`, c.ID, acct.ID)
	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log") + ` (state, action, table_name, record_id, sf_message, updated_at) VALUES
		('FAILED', 'UPDATE', 'account', 4, 'ENTITY_IS_DELETED', now()), ('FAILED', 'UPDATE', 'contact', 5, 'old', now() - interval '3 days')`)

	d := b.get("/activity").doc(t)
	if n := d.Find(`[data-testid="event-row"]`).Length(); n < 4 { // + the mapping-created events
		t.Fatalf("events of 24 hours: %d", n)
	}
	if strings.Contains(text(d, `[data-testid="events"]`), "IDLE → PAUSED") {
		t.Fatal("older than 24 hours")
	}
	failed := d.Find(`[data-testid="event-row"]`).FilterFunction(func(_ int, s *goquery.Selection) bool {
		return s.Find(`[data-testid="event-kind"]`).Text() == "write failure"
	})
	if failed.Length() != 1 || !strings.Contains(failed.Text(), "ENTITY_IS_DELETED") || failed.Find(`[data-testid="retry-write"]`).Length() != 1 {
		t.Fatalf("failed writes of 24 hours: %d %q", failed.Length(), failed.Text())
	}
	if href := failed.Find(`[data-testid="event-record"]`).AttrOr("href", ""); href != "/explorer/"+itoa(acct.ID)+"/4" {
		t.Fatalf("a failed write links to the record: %q", href)
	}
	// Retry returns to the page as filtered.
	d = b.get("/activity?kind=write_failure&mapping=" + itoa(acct.ID)).doc(t)
	next := d.Find(`[data-testid="event-row"] form:has([data-testid="retry-write"]) input[name="next"]`).AttrOr("value", "")
	if next != "/activity?kind=write_failure&mapping="+itoa(acct.ID) {
		t.Fatalf("Retry returns to %q", next)
	}
	d = b.get("/activity?level=error").doc(t)
	if n := d.Find(`[data-testid="event-row"]`).Length(); n != 2 {
		t.Fatalf("errors only (the poll's and the failed write): %d", n)
	}
	d = b.get("/activity?kind=state&mapping=" + itoa(acct.ID)).doc(t)
	if n := d.Find(`[data-testid="event-row"]`).Length(); n != 1 || strings.Contains(text(d, `[data-testid="events"]`), "ENTITY_IS_DELETED") {
		t.Fatalf("state events of Account: %d", n)
	}
	if d.Find(`#f-kind option[selected]`).Text() != "state" || d.Find(`#f-mapping option[selected]`).Text() != "Account" {
		t.Fatal("filters keep their values")
	}
	if d.Find(`#f-kind option[value="write_failure"]`).Text() != "write failure" || d.Find(`#f-kind option[value="conflict"]`).Length() != 0 {
		t.Fatal("the kind filter offers failed writes, and no conflicts while there are none")
	}
}

// TestOverviewHealthAndActivity: connection state and org, mapping health by severity with the
// unhealthy listed, the 24-hour chart from sync_stats, API usage "—" until the engine reports it.
func TestOverviewHealthAndActivity(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	ok := a.mapping(c.ID, "Account", "Name")
	bad := a.mapping(c.ID, "Contact", "LastName")
	a.mapping(c.ID, "Widget__c", "Name") // INITIAL: busy
	a.mappingState(ok.ID, "DATA_SYNCED")
	a.exec(`UPDATE mappings SET state = 'BAD_CONFIG', state_reason = 'field LastName removed' WHERE id = $1`, bad.ID)
	now := time.Now().UTC().Truncate(5 * time.Minute)
	a.exec(`INSERT INTO sync_stats (connection_id, mapping_id, bucket, direction, records, errors) VALUES
		($1, $2, $3, 'sf_to_pg', 120, 0), ($1, $2, $4, 'pg_to_sf', 7, 2)`, c.ID, ok.ID, now.Add(-time.Hour), now.Add(-30*time.Minute))

	d := b.get("/").doc(t)
	for id, want := range map[string]string{"health-total": "3", "health-ok": "1", "health-busy": "1", "health-attention": "1",
		"total-in": "120", "total-out": "7", "total-errors": "2", "api-usage": "—"} {
		if got := text(d, `[data-testid="`+id+`"]`); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if u := d.Find(`[data-testid="unhealthy-row"]`); u.Find("a").Text() != "Contact" || u.Find(`[data-testid="state"]`).Text() != "BAD_CONFIG" || !strings.Contains(text(d, `[data-testid="unhealthy-row"]`), "field LastName removed") {
		t.Fatalf("unhealthy: %q", text(d, `[data-testid="unhealthy-row"]`))
	}
	if d.Find(`svg[data-testid="activity-chart"] rect.in`).Length() != 1 || d.Find(`svg[data-testid="activity-chart"] rect.out`).Length() != 1 || d.Find(`svg[data-testid="activity-chart"] rect.err`).Length() != 1 {
		t.Fatal("chart bars")
	}
	res := b.htmx(http.MethodGet, "/?live=1", nil)
	if !strings.HasPrefix(strings.TrimSpace(res.body), `<div id="overview-live"`) {
		t.Fatalf("live overview: %.100s", res.body)
	}
}
