package report_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/report"
)

// Activity's one list: events, conflicts (detected and resolved by policy, held, resolved by an
// admin) and writes Salesforce refused, newest first, in the 24-hour window, filterable by kind,
// level and mapping; the filter offers conflict and write_failure only when there are some.
func TestTimelineMergesConflictsAndRefusedWritesWithEventsInTimeOrder(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	var acct, contact int64
	if err := f.pool.QueryRow(ctx, `INSERT INTO mappings (connection_id, object_name, table_name, state, config)
		VALUES ($1, 'Account', 'account', 'DATA_SYNCED', '{}') RETURNING id`, f.connID).Scan(&acct); err != nil {
		t.Fatal(err)
	}
	if err := f.pool.QueryRow(ctx, `INSERT INTO mappings (connection_id, object_name, table_name, state, config)
		VALUES ($1, 'Contact', 'contact', 'DATA_SYNCED', '{}') RETURNING id`, f.connID).Scan(&contact); err != nil {
		t.Fatal(err)
	}
	maps := []report.TimelineMapping{{ID: acct, Object: "Account", Table: "account"}, {ID: contact, Object: "Contact", Table: "contact"}}
	since := time.Now().Add(-24 * time.Hour)
	timeline := func(tf report.TimelineFilter) report.Timeline {
		t.Helper()
		tf.Since, tf.Mappings = since, maps
		tl, err := f.r.Timeline(ctx, f.connID, f.schema, tf)
		if err != nil {
			t.Fatal(err)
		}
		return tl
	}

	empty := timeline(report.TimelineFilter{})
	if len(empty.Entries) != 0 || len(empty.Kinds) != 0 {
		t.Fatalf("nothing happened, yet: %+v", empty)
	}

	f.exec(t, `INSERT INTO events (connection_id, mapping_id, object_name, level, kind, message, at) VALUES
		($1, $2, 'Account', 'info', 'poll', 'Polled Account', now() - interval '50 minutes'),
		($1, $3, 'Contact', 'error', 'write', 'Wrote 1 Contact change to Salesforce: 0 succeeded, 1 failed', now() - interval '40 minutes'),
		($1, $2, 'Account', 'info', 'poll', 'Too old', now() - interval '2 days')`, f.connID, acct, contact)
	tl := pgx.Identifier{f.schema, "_trigger_log"}.Sanitize()
	// The engine leaves sf_result 0 and processed_at on a refused change; both stay after it is
	// resent or dismissed. Row 6 failed two days ago, row 7 was written.
	f.exec(t, `INSERT INTO `+tl+` (id, state, action, table_name, record_id, sf_result, sf_message, processed_at, updated_at) VALUES
		(101, 'FAILED', 'UPDATE', 'contact', 5, 0, '[{"statusCode":"REQUIRED_FIELD_MISSING","message":"Required fields are missing: [LastName]","fields":["LastName"]}]', now() - interval '40 minutes', now() - interval '40 minutes'),
		(102, 'IGNORED', 'INSERT', 'contact', 8, 0, 'DUPLICATE_VALUE', now() - interval '30 minutes', now() - interval '1 minute'),
		(103, 'FAILED', 'UPDATE', 'contact', 6, 0, 'old', now() - interval '2 days', now() - interval '2 days'),
		(104, 'SUCCESS', 'UPDATE', 'contact', 7, 1, NULL, now() - interval '20 minutes', now() - interval '20 minutes')`)
	f.exec(t, `INSERT INTO conflicts (connection_id, mapping_id, object_name, table_name, record_id, sfid, trigger_log_id, kind,
			policy, outcome, detected_at, resolved_at, resolved_by) VALUES
		($1, $2, 'Account', 'account', 3, '001000000000003', 90, 'update_update', 'newest_wins', 'salesforce_won', now() - interval '45 minutes', now() - interval '45 minutes', 'policy'),
		($1, $2, 'Account', 'account', 4, '001000000000004', 91, 'update_update', 'manual', 'held', now() - interval '35 minutes', NULL, ''),
		($1, $2, 'Account', 'account', 9, '001000000000009', 92, 'deleted_in_salesforce', 'manual', 'kept_postgres', now() - interval '3 days', now() - interval '10 minutes', 'admin@example.com'),
		($1, $2, 'Account', 'account', 10, '001000000000010', 93, 'update_update', 'postgres_wins', 'postgres_won', now() - interval '3 days', now() - interval '3 days', 'policy')`,
		f.connID, acct)

	all := timeline(report.TimelineFilter{})
	if got, want := strings.Join(all.Kinds, ","), "conflict,poll,write,write_failure"; got != want {
		t.Errorf("kinds offered = %s, want %s", got, want)
	}
	if got, want := strings.Join(timeline(report.TimelineFilter{Kind: "poll", MappingID: contact, Level: "info"}).Kinds, ","), "conflict,poll,write,write_failure"; got != want {
		t.Errorf("kinds offered while filtering = %s, want %s (whatever the filter)", got, want)
	}
	var lines []string
	for i, e := range all.Entries {
		lines = append(lines, e.Kind+" "+e.Level+" "+e.Object+": "+e.Message)
		if i > 0 && e.At.After(all.Entries[i-1].At) {
			t.Errorf("entry %d is newer than the one before it", i)
		}
	}
	want := []string{
		"conflict info Account: Conflict on Account 001000000000009 resolved by admin@example.com: Admin kept Postgres.",
		"write_failure error Contact: Salesforce refused the insert of contact row 8: DUPLICATE_VALUE (dismissed since)",
		"conflict warn Account: Conflict on Account 001000000000004: Updated on both sides. Manual (an admin chooses) policy: held until an admin keeps one side.",
		"write_failure error Contact: Salesforce refused the update of contact row 5: REQUIRED_FIELD_MISSING: Required fields are missing: [LastName]",
		"write error Contact: Wrote 1 Contact change to Salesforce: 0 succeeded, 1 failed",
		"conflict warn Account: Conflict on Account 001000000000003: Updated on both sides. Newest wins policy: Salesforce version kept.",
		"poll info Account: Polled Account",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("timeline:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if e := all.Entries[3]; e.MappingID != contact || e.RecordID != 5 || e.Write == nil || e.Write.ID != 101 || e.Write.State != "FAILED" {
		t.Errorf("a failed write names its mapping, row and trigger-log entry: %+v", e)
	}
	if e := all.Entries[2]; e.MappingID != acct || e.RecordID != 4 || e.Conflict == nil || e.Conflict.Outcome != "held" {
		t.Errorf("a conflict names its mapping, row and conflict: %+v", e)
	}

	kinds := func(tl report.Timeline) string {
		var ks []string
		for _, e := range tl.Entries {
			ks = append(ks, e.Kind)
		}
		return strings.Join(ks, ",")
	}
	if got := kinds(timeline(report.TimelineFilter{Kind: report.KindConflict})); got != "conflict,conflict,conflict" {
		t.Errorf("kind conflict: %s", got)
	}
	if got := kinds(timeline(report.TimelineFilter{Kind: report.KindWriteFailure})); got != "write_failure,write_failure" {
		t.Errorf("kind write_failure: %s", got)
	}
	if got := kinds(timeline(report.TimelineFilter{Level: "error"})); got != "write_failure,write_failure,write" {
		t.Errorf("level error: %s", got)
	}
	if got := kinds(timeline(report.TimelineFilter{MappingID: acct})); got != "conflict,conflict,conflict,poll" {
		t.Errorf("Account only: %s", got)
	}
	if got := kinds(timeline(report.TimelineFilter{MappingID: contact, Kind: report.KindConflict})); got != "" {
		t.Errorf("Contact's conflicts: %s", got)
	}
	if got := timeline(report.TimelineFilter{Limit: 2}); len(got.Entries) != 2 || got.Entries[0].Kind != "conflict" || got.Entries[1].Kind != "write_failure" {
		t.Errorf("limit 2 keeps the newest two: %s", kinds(got))
	}
}
