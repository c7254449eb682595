package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

// TestFailedWritesRetriedAndIgnoredByErrorCode: the mapping's errors view groups every unresolved
// failed write (live log and archive) by Salesforce's error code; Retry all sends one code's rows
// again (each re-captured, the failures REQUEUED), Ignore all dismisses another's, each audited once,
// and the other codes' failures are left alone.
func TestFailedWritesRetriedAndIgnoredByErrorCode(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Contact", "LastName", "Email")
	tbl, tl := ident(c.Schema, "contact"), ident(c.Schema, "_trigger_log")
	a.exec(`BEGIN; SET LOCAL xmlbinary = 'hex'; INSERT INTO ` + tbl + ` (id, sfid, lastname) VALUES
		(1, NULL, 'Doe'), (2, '003000000000002AAA', 'Roe'), (3, NULL, 'Poe'), (4, NULL, 'Moe'); COMMIT`)
	missing := `[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]`
	invalid := `[{"statusCode":"INVALID_EMAIL_ADDRESS","message":"Email: invalid email address","fields":["Email"]}]`
	a.exec(`INSERT INTO `+tl+` (id, state, action, table_name, record_id, sf_message, updated_at) VALUES
		(901, 'FAILED', 'INSERT', 'contact', 1, $1, now()), (902, 'FAILED', 'UPDATE', 'contact', 2, $1, now()),
		(903, 'FAILED', 'INSERT', 'contact', 3, $2, now())`, missing, invalid)
	a.exec(`INSERT INTO `+ident(c.Schema, "_trigger_log_archive")+` (id, state, action, table_name, record_id, sf_message, created_at, updated_at) VALUES
		(800, 'FAILED', 'INSERT', 'contact', 4, $1, now() - interval '3 days', now() - interval '3 days')`, missing)

	page := "/mappings/" + itoa(m.ID)
	d := b.get(page).doc(t)
	counts := map[string]string{}
	d.Find(`[data-testid="error-code"]`).Each(func(_ int, s *goquery.Selection) {
		counts[s.AttrOr("data-code", "")] = strings.TrimSpace(s.Find(`[data-testid="error-code-count"]`).Text())
	})
	if len(counts) != 2 || counts["REQUIRED_FIELD_MISSING"] != "3" || counts["INVALID_EMAIL_ADDRESS"] != "1" {
		t.Fatalf("failed writes by code: %v", counts)
	}

	res := b.post(page+"/errors/retry", url.Values{"code": {"REQUIRED_FIELD_MISSING"}, "next": {page}})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "Retrying 3 failed write(s) of Contact refused with REQUIRED_FIELD_MISSING") {
		t.Fatalf("retry all: %q", msg)
	}
	states := func() string {
		var s string
		if err := a.pool.QueryRow(context.Background(), `SELECT string_agg(id || ':' || state, ' ' ORDER BY id) FROM (
			SELECT id, state FROM `+tl+` WHERE id >= 800 AND id < 1000 UNION ALL
			SELECT id, state FROM `+ident(c.Schema, "_trigger_log_archive")+`) l`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := states(); got != "800:REQUEUED 901:REQUEUED 902:REQUEUED 903:FAILED" {
		t.Fatalf("after retry all: %s", got)
	}
	var requeued string
	_ = a.pool.QueryRow(context.Background(), `SELECT string_agg(record_id || ':' || action, ' ' ORDER BY record_id) FROM `+tl+` WHERE state = 'NEW'`).Scan(&requeued)
	if requeued != "1:INSERT 2:UPDATE 4:INSERT" {
		t.Fatalf("re-captured rows: %q", requeued)
	}

	res = b.post(page+"/errors/ignore", url.Values{"code": {"INVALID_EMAIL_ADDRESS"}, "next": {page}})
	d = b.follow(res).doc(t)
	if msg := text(d, `[data-testid="flash"]`); !strings.Contains(msg, "Ignored 1 failed write(s) of Contact refused with INVALID_EMAIL_ADDRESS") {
		t.Fatalf("ignore all: %q", msg)
	}
	if got := states(); got != "800:REQUEUED 901:REQUEUED 902:REQUEUED 903:IGNORED" {
		t.Fatalf("after ignore all: %s", got)
	}
	if d.Find(`[data-testid="error-codes"]`).Length() != 0 {
		t.Fatal("no failed write is left to group")
	}
	res = b.post(page+"/errors/retry", url.Values{"code": {"REQUIRED_FIELD_MISSING"}, "next": {page}})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "no failed write refused with REQUIRED_FIELD_MISSING") {
		t.Fatalf("nothing left to retry: %q", msg)
	}
	var audited string
	_ = a.pool.QueryRow(context.Background(), `SELECT string_agg(action || ' ' || target || ' / ' || COALESCE(detail, ''), ' | ' ORDER BY id) FROM audit_log
		WHERE action IN ('write.retry', 'write.ignore')`).Scan(&audited)
	if audited != "write.retry Contact: 3 failed write(s) refused with REQUIRED_FIELD_MISSING / retried writes 800, 901, 902 | "+
		"write.ignore Contact: 1 failed write(s) refused with INVALID_EMAIL_ADDRESS / ignored writes 903" {
		t.Fatalf("audit: %q", audited)
	}
}

// A change held as a manual conflict for more than an hour is a problem on the Overview, with the
// fix in words and a link to the mapping's conflicts.
func TestOverviewFlagsConflictsHeldTooLong(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	a.connState(c.ID, connection.Idle)
	a.mappingState(m.ID, mapping.DataSynced)
	a.exec(`UPDATE mappings SET last_poll_at = now() WHERE id = $1`, m.ID)
	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log") + ` (state, action, table_name, record_id, created_at, updated_at)
		VALUES ('CONFLICT', 'UPDATE', 'account', 1, now() - interval '3 hours', now() - interval '3 hours')`)
	d := b.get("/").doc(t)
	var found bool
	d.Find(`[data-testid="health-summary"] [data-testid="problem"]`).Each(func(_ int, s *goquery.Selection) {
		if strings.Contains(s.Text(), "1 change of Account is held as a conflict") && strings.Contains(s.Text(), "Keep Postgres or Keep Salesforce") &&
			s.Find(`a[href="/conflicts?mapping=`+itoa(m.ID)+`"]`).Length() > 0 {
			found = true
		}
	})
	if !found {
		t.Fatalf("the Overview's problems: %q", text(d, `[data-testid="health-summary"]`))
	}
}
