package web_test

import (
	"strings"
	"testing"

	"pgforce/internal/apitoken"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
)

// A mapping's failed writes are retried or ignored by Salesforce's error code over the API, as with
// the dashboard's Retry all / Ignore all: admin tokens only, the code checked before anything is
// touched, how many were retried or ignored answered, the rows really requeued (re-captured, the
// failures REQUEUED) or dismissed (IGNORED), other codes' failures left alone, each call audited once.
func TestAPIRetriesAndIgnoresAMappingsFailedWritesByErrorCode(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	m, err := a.b.Admin.Mappings.Create(a.b.Ctx, enginetest.Admin, a.b.Conn.ID, "Contact", mapping.NewConfig("LastName", "Email"))
	if err != nil {
		t.Fatal(err)
	}
	tbl, tl := ident(a.b.Conn.Schema, "contact"), ident(a.b.Conn.Schema, "_trigger_log")
	a.b.Exec(`BEGIN; SET LOCAL xmlbinary = 'hex'; INSERT INTO ` + tbl + ` (id, sfid, lastname) VALUES
		(1, NULL, 'Doe'), (2, '003000000000002AAA', 'Roe'), (3, NULL, 'Poe'), (4, NULL, 'Moe'); COMMIT`)
	missing := `[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]`
	invalid := `[{"statusCode":"INVALID_EMAIL_ADDRESS","message":"Email: invalid email address","fields":["Email"]}]`
	a.b.Exec(`INSERT INTO `+tl+` (id, state, action, table_name, record_id, sf_message, updated_at) VALUES
		(901, 'FAILED', 'INSERT', 'contact', 1, $1, now()), (902, 'FAILED', 'UPDATE', 'contact', 2, $1, now()),
		(903, 'FAILED', 'INSERT', 'contact', 3, $2, now()), (904, 'FAILED', 'INSERT', 'contact', 4, 'refused without a code', now())`, missing, invalid)
	states := func() string {
		t.Helper()
		var s string
		if err := a.b.Pool.QueryRow(a.b.Ctx, `SELECT string_agg(id || ':' || state, ' ' ORDER BY id) FROM `+tl+` WHERE id >= 900`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	const untouched = "901:FAILED 902:FAILED 903:FAILED 904:FAILED"
	retry, ignore := "/api/v3/mappings/"+itoa(m.ID)+"/write-errors/actions/retry", "/api/v3/mappings/"+itoa(m.ID)+"/write-errors/actions/ignore"

	// Refused before anything changes: a viewer, no code, a code Salesforce does not write that way,
	// a code none of the mapping's failures has, a mapping that does not exist.
	if e := decode[apiError](t, a.as(apitoken.Viewer, "POST", retry, `{"code": "REQUIRED_FIELD_MISSING"}`, 403)); e.ID != "forbidden" {
		t.Fatalf("viewer: %+v", e)
	}
	for body, want := range map[string]string{
		"":                                   "needs a JSON body",
		`{}`:                                 `needs "code"`,
		`{"code": "required_field_missing"}`: `"required_field_missing" is not a Salesforce error code`,
		`{"code": "REQUIRED_FIELD_MISSING", "rows": [1]}`: "unknown field",
	} {
		if e := decode[apiError](t, a.as(apitoken.Admin, "POST", retry, body, 422)); e.ID != "invalid" || !strings.Contains(e.Message, want) {
			t.Errorf("body %q: %+v, want a message with %q", body, e, want)
		}
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", ignore, `{"code": "INVALID_CROSS_REFERENCE_KEY"}`, 404)); e.ID != "not_found" ||
		!strings.Contains(e.Message, "Contact has no failed write refused with INVALID_CROSS_REFERENCE_KEY") {
		t.Fatalf("a code with no failures: %+v", e)
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/mappings/99999/write-errors/actions/retry", `{"code": "REQUIRED_FIELD_MISSING"}`, 404)); e.ID != "not_found" {
		t.Fatalf("no such mapping: %+v", e)
	}
	if got := states(); got != untouched {
		t.Fatalf("a refused call changed the log: %s", got)
	}

	type result struct {
		MappingID int64  `json:"mapping_id"`
		Code      string `json:"code"`
		Action    string `json:"action"`
		Count     int    `json:"count"`
	}
	if r := decode[result](t, a.as(apitoken.Admin, "POST", retry, `{"code": "REQUIRED_FIELD_MISSING"}`, 200)); r != (result{m.ID, "REQUIRED_FIELD_MISSING", "retried", 2}) {
		t.Fatalf("retry: %+v", r)
	}
	if got := states(); got != "901:REQUEUED 902:REQUEUED 903:FAILED 904:FAILED" {
		t.Fatalf("after retry: %s", got)
	}
	var requeued string
	_ = a.b.Pool.QueryRow(a.b.Ctx, `SELECT string_agg(record_id || ':' || action, ' ' ORDER BY record_id) FROM `+tl+` WHERE state = 'NEW'`).Scan(&requeued)
	if requeued != "1:INSERT 2:UPDATE" {
		t.Fatalf("re-captured rows: %q", requeued)
	}
	if r := decode[result](t, a.as(apitoken.Admin, "POST", ignore, `{"code": "INVALID_EMAIL_ADDRESS"}`, 200)); r != (result{m.ID, "INVALID_EMAIL_ADDRESS", "ignored", 1}) {
		t.Fatalf("ignore: %+v", r)
	}
	if got := states(); got != "901:REQUEUED 902:REQUEUED 903:IGNORED 904:FAILED" {
		t.Fatalf("after ignore: %s", got)
	}
	// "" names the writes Salesforce refused without a code.
	if r := decode[result](t, a.as(apitoken.Admin, "POST", ignore, `{"code": ""}`, 200)); r != (result{m.ID, "", "ignored", 1}) {
		t.Fatalf("ignore those without a code: %+v", r)
	}
	if got := states(); got != "901:REQUEUED 902:REQUEUED 903:IGNORED 904:IGNORED" {
		t.Fatalf("after ignoring those without a code: %s", got)
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", retry, `{"code": "REQUIRED_FIELD_MISSING"}`, 404)); !strings.Contains(e.Message, "no failed write refused with REQUIRED_FIELD_MISSING") {
		t.Fatalf("retrying twice: %+v", e)
	}

	// Each call that acted is audited once, under the token's name.
	for action, target := range map[string]string{"write.retry": "Contact: 2 failed write(s) refused with REQUIRED_FIELD_MISSING", "write.ignore": "Contact: 1 failed write(s) refused with INVALID_EMAIL_ADDRESS"} {
		var n int
		if err := a.b.Pool.QueryRow(a.b.Ctx, `SELECT count(*) FROM audit_log WHERE action = $1 AND actor = 'token:admin-token' AND target = $2`, action, target).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d %s audit entries (%v), want 1", n, action, err)
		}
	}
}
