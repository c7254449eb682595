package report_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/audit"
	"pgforce/sync/engine/table"
	"pgforce/sync/report"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
	"pgforce/sync/testsignal"
	"pgforce/sync/triggerlog"
)

// fixture is a migrated pgforce schema plus a connection schema holding a mapped "account" table.
type fixture struct {
	pool   *pgxpool.Pool
	schema string // the connection's schema (mapped tables, trigger log)
	connID int64
	r      *report.Reader
}

func setup(t *testing.T) fixture {
	t.Helper()
	pool, app := storetest.Pool(t)
	ctx := context.Background()
	f := fixture{pool: pool, schema: app + "_sf", r: report.New(pool)}
	t.Cleanup(func() { storetest.DropSchema(t, f.schema) })
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if err := triggerlog.InstallSchema(ctx, tx, f.schema); err != nil {
			return err
		}
		spec := table.Spec{Schema: f.schema, Object: "Account", Fields: []table.Field{
			{Name: "Id", Type: "id", Length: 18}, {Name: "SystemModstamp", Type: "datetime"}, {Name: "IsDeleted", Type: "boolean"},
			{Name: "Name", Type: "string", Length: 255},
		}}
		if err := table.Create(ctx, tx, spec); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO connections (name, schema_name, state, org_type, login_url, api_version)
			VALUES ('c', $1, 'IDLE', 'production', 'https://login.salesforce.com', '62.0') RETURNING id`, f.schema).Scan(&f.connID)
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func (f fixture) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := f.pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestCountsRowsPendingAndErrorsPerTable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	acct := pgx.Identifier{f.schema, "account"}.Sanitize()
	// Application writes are captured (NEW); one earlier write failed, one failed two days ago, one archived.
	f.exec(t, `INSERT INTO `+acct+` (sfid, name) VALUES ('001A', 'Acme'), ('001B', 'Globex'), (NULL, 'New Co')`)
	tl := pgx.Identifier{f.schema, "_trigger_log"}.Sanitize()
	f.exec(t, `INSERT INTO `+tl+` (state, action, table_name, record_id, sf_message, updated_at) VALUES
		('FAILED', 'UPDATE', 'account', 1, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', now()),
		('FAILED', 'UPDATE', 'account', 2, 'old', now() - interval '2 days')`)
	f.exec(t, `INSERT INTO `+pgx.Identifier{f.schema, "_trigger_log_archive"}.Sanitize()+` (id, state, action, table_name, record_id, updated_at)
		VALUES (9999, 'FAILED', 'INSERT', 'account', 3, now())`)

	// An empty table, and one with many rows whose statistics are current.
	f.exec(t, `CREATE TABLE `+pgx.Identifier{f.schema, "empty"}.Sanitize()+` (id serial)`)
	big := pgx.Identifier{f.schema, "big"}.Sanitize()
	f.exec(t, `CREATE TABLE `+big+` AS SELECT g AS id FROM generate_series(1, 5000) g`)
	f.exec(t, `ANALYZE `+big)

	got, err := f.r.Counts(context.Background(), f.schema, []string{"account", "contact", "empty", "big"})
	if err != nil {
		t.Fatal(err)
	}
	if a := got["account"]; a.Rows != 3 || a.Estimated || a.Missing || a.Pending != 3 || a.OldestPending == nil || a.Failed != 3 || a.OldestFailed == nil {
		t.Fatalf("account counts = %+v, want 3 rows exact, 3 pending, 3 unresolved failed writes (however old, archived or not)", a)
	}
	if c := got["contact"]; !c.Missing || c.Rows != 0 {
		t.Fatalf("a table that does not exist = %+v", c)
	}
	if e := got["empty"]; e.Missing || e.Rows != 0 || e.Estimated {
		t.Fatalf("an empty table = %+v", e)
	}
	if b := got["big"]; b.Rows != 5000 || !b.Estimated {
		t.Fatalf("a table above %d rows is estimated: %+v", report.ExactCountBelow, b)
	}
	none, err := f.r.Counts(context.Background(), f.schema, nil)
	if err != nil || len(none) != 0 {
		t.Fatalf("no tables: %v %v", none, err)
	}
}

func TestWriteErrorsAndRecordHistoryMergeLogAndArchive(t *testing.T) {
	t.Parallel()
	f := setup(t)
	tl := pgx.Identifier{f.schema, "_trigger_log"}.Sanitize()
	f.exec(t, `INSERT INTO `+tl+` (id, state, action, table_name, record_id, sf_message, "values") VALUES
		(5, 'FAILED', 'UPDATE', 'account', 7, 'REQUIRED_FIELD_MISSING', 'name=>NULL'),
		(6, 'NEW', 'UPDATE', 'account', 7, NULL, 'name=>"B"'),
		(8, 'FAILED', 'INSERT', 'contact', 1, 'nope', NULL)`)
	f.exec(t, `INSERT INTO `+pgx.Identifier{f.schema, "_trigger_log_archive"}.Sanitize()+` (id, state, action, table_name, record_id, created_at, updated_at)
		VALUES (2, 'SUCCESS', 'INSERT', 'account', 7, now(), now())`)
	ctx := context.Background()

	errs, err := f.r.WriteErrors(ctx, f.schema, []string{"account"}, time.Now().Add(-time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(errs) != 1 || errs[0].ID != 5 || errs[0].Message != "REQUIRED_FIELD_MISSING" {
		t.Fatalf("account write errors = %+v", errs)
	}
	all, _ := f.r.WriteErrors(ctx, f.schema, nil, time.Now().Add(-time.Hour), 0)
	if len(all) != 2 || all[0].ID != 8 {
		t.Fatalf("all write errors = %+v", all)
	}

	hist, err := f.r.RecordHistory(ctx, f.schema, "account", 7, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, h := range hist {
		ids = append(ids, h.ID)
	}
	if len(ids) != 3 || ids[0] != 6 || ids[1] != 5 || ids[2] != 2 || !hist[2].Archived || hist[0].Values != `"name"=>"B"` {
		t.Fatalf("history = %+v", hist)
	}
}

func TestRowsPageAndSearchTreatWildcardsLiterally(t *testing.T) {
	t.Parallel()
	f := setup(t)
	acct := pgx.Identifier{f.schema, "account"}.Sanitize()
	f.exec(t, `INSERT INTO `+acct+` (sfid, name) SELECT '001' || lpad(g::text, 15, '0'), 'Account ' || g FROM generate_series(1, 120) g`)
	f.exec(t, `INSERT INTO `+acct+` (sfid, name) VALUES ('001X', '100% Real_Co'), ('001Y', '100 Real Co')`)
	ctx := context.Background()

	p1, err := f.r.Rows(ctx, f.schema, "account", report.RowQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p1.Rows) != report.PerPage || !p1.HasNext || p1.Rows[0].ID != 1 || strings.Join(p1.Columns, ",") != "id,sfid,name,systemmodstamp,isdeleted,_hc_lastop,_hc_err" {
		t.Fatalf("page 1: %d rows, next %v, cols %v", len(p1.Rows), p1.HasNext, p1.Columns)
	}
	p3, _ := f.r.Rows(ctx, f.schema, "account", report.RowQuery{Page: 3})
	if len(p3.Rows) != 22 || p3.HasNext {
		t.Fatalf("page 3: %d rows, next %v", len(p3.Rows), p3.HasNext)
	}
	hit, _ := f.r.Rows(ctx, f.schema, "account", report.RowQuery{Search: "100% real_"})
	if len(hit.Rows) != 1 || hit.Rows[0].Values[2].Text != "100% Real_Co" {
		t.Fatalf("literal search: %+v", hit.Rows)
	}
	bySFID, _ := f.r.Rows(ctx, f.schema, "account", report.RowQuery{Search: "001y"})
	if len(bySFID.Rows) != 1 {
		t.Fatalf("sfid search: %+v", bySFID.Rows)
	}
	if _, err := f.r.Rows(ctx, f.schema, "no_such_table", report.RowQuery{}); err == nil {
		t.Fatal("browsing a missing table must fail")
	}

	rec, err := f.r.Record(ctx, f.schema, "account", 121)
	if err != nil {
		t.Fatal(err)
	}
	vals := map[string]report.Value{}
	for _, fl := range rec {
		vals[fl.Name] = fl.Value
	}
	if vals["name"].Text != "100% Real_Co" || !vals["_hc_err"].Null || vals["_hc_lastop"].Text != "PENDING" || vals["id"].Text != "121" {
		t.Fatalf("record = %+v", rec)
	}
	if _, err := f.r.Record(ctx, f.schema, "account", 99999); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing record: %v", err)
	}
}

func TestActivityEventsAndAudit(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(5 * time.Minute)
	f.exec(t, `INSERT INTO sync_stats (connection_id, mapping_id, bucket, direction, records, errors) VALUES
		($1, 1, $2, 'sf_to_pg', 10, 0), ($1, 2, $2, 'sf_to_pg', 5, 1), ($1, 1, $2, 'pg_to_sf', 3, 0), ($1, 1, $3, 'sf_to_pg', 99, 0)`,
		f.connID, now, now.Add(-48*time.Hour))
	bs, err := f.r.Activity(ctx, f.connID, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].Direction != report.PGToSF || bs[0].Records != 3 || bs[1].Records != 15 || bs[1].Errors != 1 {
		t.Fatalf("buckets = %+v", bs)
	}

	f.exec(t, `INSERT INTO events (connection_id, level, kind, message) VALUES ($1, 'info', 'state', 'IDLE → PAUSED'),
		($1, 'error', 'poll', 'boom'), ($1, 'info', 'poll', 'found 3')`, f.connID)
	evs, err := f.r.Events(ctx, f.connID, report.EventFilter{Kind: "poll"})
	if err != nil || len(evs) != 2 || evs[0].Message != "found 3" {
		t.Fatalf("poll events = %+v %v", evs, err)
	}
	evs, _ = f.r.Events(ctx, f.connID, report.EventFilter{Level: "error"})
	if len(evs) != 1 || evs[0].Message != "boom" {
		t.Fatalf("error events = %+v", evs)
	}
	kinds, _ := f.r.EventKinds(ctx, f.connID, time.Time{})
	if strings.Join(kinds, ",") != "poll,state" {
		t.Fatalf("kinds = %v", kinds)
	}

	err = store.Tx(ctx, f.pool, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.Actor{Name: "ann@example.com", Kind: audit.ActorUser}, Action: audit.ConnectionPause, Target: "=cmd"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := f.r.AuditCSV(ctx, audit.Filter{Action: "connection."}, &buf); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "connection.pause,'=cmd") {
		t.Fatalf("csv = %s", buf.String())
	}
}

func TestMappingSummariesReadTheConfigWithoutDecodingIt(t *testing.T) {
	t.Parallel()
	f := setup(t)
	f.exec(t, `INSERT INTO mappings (connection_id, object_name, table_name, state, config, load_expected, load_done)
		VALUES ($1, 'Contact', 'contact', 'RELOAD_TABLE', '{"access": "read_write", "sf_polling_seconds": 300, "sf_notify_enabled": true}', 10, 4),
		       ($1, 'Account', 'account', 'DATA_SYNCED', '{"access": "read_only", "sf_polling_seconds": 600}', NULL, 0)`, f.connID)
	ms, err := f.r.MappingSummaries(context.Background(), f.connID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 2 || ms[0].Object != "Account" || ms[0].Accelerated || ms[0].PollingSeconds != 600 {
		t.Fatalf("summaries = %+v", ms)
	}
	if c := ms[1]; c.Access != "read_write" || !c.Accelerated || c.PollingSeconds != 300 || *c.LoadExpected != 10 || c.LoadDone != 4 || c.State != "RELOAD_TABLE" {
		t.Fatalf("contact = %+v", c)
	}
}

// A load's COPY is counted while it runs, before anyone else can see its rows: the one source of a
// load's progress, read without waiting for the load.
func TestCountsSeeTheRowsARunningCopyHasWritten(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	conn, err := f.pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := conn.Conn().PgConn().CopyFrom(ctx, pr, `COPY `+pgx.Identifier{f.schema, "account"}.Sanitize()+` (sfid, name) FROM STDIN WITH (FORMAT csv)`)
		done <- err
	}()
	for i := range 500 {
		fmt.Fprintf(pw, "001%015d,Row %d\n", i, i)
	}
	var got report.TableCounts
	testsignal.Eventually(t, "the COPY's rows counted", 10*time.Second, func() (bool, string) {
		counts, err := f.r.Counts(ctx, f.schema, []string{"account"})
		if err != nil {
			t.Fatal(err)
		}
		got = counts["account"]
		return got.Copying == 500, fmt.Sprintf("%+v", got)
	})
	if got.Copying != 500 || got.Rows != 0 {
		t.Fatalf("while the COPY runs: %+v (want 500 copying, 0 visible)", got)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	counts, _ := f.r.Counts(ctx, f.schema, []string{"account"})
	if c := counts["account"]; c.Copying != 0 || c.Rows != 500 {
		t.Fatalf("after the COPY: %+v", c)
	}
}

// count reads the account table's row count.
func (f fixture) count(t *testing.T) int64 {
	t.Helper()
	counts, err := f.r.Counts(context.Background(), f.schema, []string{"account"})
	if err != nil {
		t.Fatal(err)
	}
	if c := counts["account"]; c.Missing || c.Estimated {
		t.Fatalf("account: %+v", c)
	}
	return counts["account"].Rows
}

func TestCountsStayExactWhateverChangesTheTable(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	acct := pgx.Identifier{f.schema, "account"}.Sanitize()
	want := func(what string, n int64) {
		t.Helper()
		if got := f.count(t); got != n {
			t.Fatalf("after %s: %d rows, want %d", what, got, n)
		}
	}
	want("nothing", 0)
	f.exec(t, `INSERT INTO `+acct+` (name) SELECT 'app ' || g FROM generate_series(1, 3) g`)
	want("an application's insert", 3)
	f.exec(t, `DELETE FROM `+acct+` WHERE name = 'app 1'`)
	want("an application's delete", 2)
	// pgforce's own writes (a poll applying Salesforce's changes) skip the capture triggers.
	err := store.Tx(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, triggerlog.SyncOriginSetting); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+acct+` (sfid, name) VALUES ('001000000000000001', 'polled'), ('001000000000000002', 'polled')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want("a poll's insert", 4)
	f.exec(t, `UPDATE `+acct+` SET name = 'renamed'`)
	want("an update", 4)
	// A change committed after a count's snapshot was taken, by a transaction running meanwhile.
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+acct+` (name) VALUES ('late')`); err != nil {
		t.Fatal(err)
	}
	want("an insert not committed yet", 4)
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want("its commit", 5)
	f.exec(t, `TRUNCATE `+acct)
	want("a truncation", 0)
	f.exec(t, `INSERT INTO `+acct+` (name) VALUES ('one')`)
	want("an insert", 1)
	// The table dropped and mapped again: another table under the same name.
	err = store.Tx(ctx, f.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DROP TABLE `+acct); err != nil {
			return err
		}
		return table.Create(ctx, tx, table.Spec{Schema: f.schema, Object: "Account", Fields: []table.Field{{Name: "Id", Type: "id", Length: 18}, {Name: "Name", Type: "string", Length: 255}}})
	})
	if err != nil {
		t.Fatal(err)
	}
	want("the table was created again", 0)
}

func TestCountsCountAgainOnlyTablesNotedAsChanged(t *testing.T) {
	t.Parallel()
	f := setup(t)
	acct := pgx.Identifier{f.schema, "account"}.Sanitize()
	notes := pgx.Identifier{f.schema, triggerlog.RowChanges}.Sanitize()
	f.exec(t, `INSERT INTO `+acct+` (name) VALUES ('a')`)
	if got := f.count(t); got != 1 {
		t.Fatalf("%d rows, want 1", got)
	}
	// A change whose note is taken away is not seen: the count kept is not taken again.
	f.exec(t, `INSERT INTO `+acct+` (name) VALUES ('b')`)
	f.exec(t, `DELETE FROM `+notes)
	if got := f.count(t); got != 1 {
		t.Fatalf("%d rows, want the kept count 1 (the table is not noted as changed)", got)
	}
	// The next noted change counts the table again.
	f.exec(t, `DELETE FROM `+acct+` WHERE name = 'a'`)
	if got := f.count(t); got != 1 {
		t.Fatalf("%d rows after a noted delete, want 1", got)
	}
	// A note purged (as if an hour old) leaves a horizon: a count taken before the change it noted
	// is not trusted any more.
	f.exec(t, `INSERT INTO `+acct+` (name) VALUES ('c')`)
	f.exec(t, `UPDATE `+notes+` SET at = now() - interval '2 hours'`)
	err := store.Tx(context.Background(), f.pool, func(tx pgx.Tx) error { return triggerlog.PurgeRowChanges(context.Background(), tx, f.schema) })
	if err != nil {
		t.Fatal(err)
	}
	var left int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+notes+` WHERE table_name = 'account'`).Scan(&left); err != nil || left != 0 {
		t.Fatalf("%d notes of account left after the purge (%v)", left, err)
	}
	if got := f.count(t); got != 2 {
		t.Fatalf("%d rows after the note of an insert was purged, want 2", got)
	}
	// A count taken after the purge needs none of the notes removed: it is kept.
	f.exec(t, `INSERT INTO `+acct+` (name) VALUES ('d')`)
	f.exec(t, `DELETE FROM `+notes+` WHERE table_name = 'account'`)
	if got := f.count(t); got != 2 {
		t.Fatalf("%d rows, want the kept count 2 (the horizon is older than the count)", got)
	}
}

func TestCountsCountEveryTimeATableWhoseChangesAreNotNoted(t *testing.T) {
	t.Parallel()
	f := setup(t)
	acct := pgx.Identifier{f.schema, "account"}.Sanitize()
	f.exec(t, `ALTER TABLE `+acct+` DISABLE TRIGGER `+pgx.Identifier{"hc_account_rowcount"}.Sanitize())
	f.exec(t, `INSERT INTO `+acct+` (name) VALUES ('a')`)
	if got := f.count(t); got != 1 {
		t.Fatalf("%d rows, want 1", got)
	}
	f.exec(t, `INSERT INTO `+acct+` (name) VALUES ('b')`)
	if got := f.count(t); got != 2 {
		t.Fatalf("%d rows, want 2", got)
	}
}

func TestSyncIndexesAreReadAgainAfterIndexesReadEvery(t *testing.T) {
	t.Parallel()
	f := setup(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	report.SetClock(f.r, func() time.Time { return now })
	sfid := func() bool {
		t.Helper()
		got, err := f.r.SyncIndexes(ctx, f.schema, []string{"account"})
		if err != nil {
			t.Fatal(err)
		}
		return got["account"].SFID
	}
	if !sfid() {
		t.Fatal("the sfid index of a mapped table is not found")
	}
	f.exec(t, `DROP INDEX `+pgx.Identifier{f.schema, "hcu_idx_account_sfid"}.Sanitize())
	now = now.Add(report.IndexesReadEvery - time.Second)
	if !sfid() {
		t.Fatal("read again before IndexesReadEvery passed")
	}
	now = now.Add(time.Second)
	if sfid() {
		t.Fatal("the dropped index is still reported after IndexesReadEvery")
	}
}
