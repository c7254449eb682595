// Package report holds the dashboard's read models: the SQL behind the counts, charts, histories and
// row browsers the pages show. It only reads; every change goes through the engine.
package report

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/audit"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/triggerlog"
)

// Reader runs the dashboard's queries.
type Reader struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// New returns a Reader over pgforce's pool (search_path: pgforce's schema, public).
func New(pool *pgxpool.Pool) *Reader { return &Reader{pool: pool, now: time.Now} }

// ident quotes a schema-qualified identifier.
func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// ExactCountBelow is the row estimate under which tables are counted exactly; bigger tables show the
// statistics' live-tuple estimate (Heroku Connect shows estimates for large tables too), so refreshing
// the Mappings page every two seconds with hundreds of mappings scans at most a few rows per table.
const ExactCountBelow = 1000

// TableCounts are the per-mapping figures of the Mappings page, the health model and the metrics:
// one source for each figure.
type TableCounts struct {
	Rows          int64
	Estimated     bool // Rows is the planner's estimate, not an exact count
	Missing       bool // the table does not exist (yet)
	Pending       int64
	OldestPending *time.Time // capture time of the oldest change waiting to be written
	// Failed counts writes Salesforce refused that are not resolved: a FAILED entry counts until an
	// admin retries or dismisses it (or a later write of the row succeeds), however old it is.
	Failed       int64
	OldestFailed *time.Time
	// Held counts changes held as manual conflicts (trigger-log state CONFLICT) until an admin keeps
	// a side; OldestHeld is when the oldest was held.
	Held       int64
	OldestHeld *time.Time
	// Copying is how many rows a load's COPY running now has written into the table: not visible to
	// anyone else until the load commits (pg_stat_progress_copy, read without waiting for the load).
	Copying int64
}

// Counts returns row, pending-write and unresolved failed-write counts for tables of a connection's
// schema, keyed by table name, in two round trips whatever the number of tables.
func (r *Reader) Counts(ctx context.Context, schema string, tables []string) (map[string]TableCounts, error) {
	out := make(map[string]TableCounts, len(tables))
	if len(tables) == 0 {
		return out, nil
	}
	b := &pgx.Batch{}
	// The statistics' live tuples (kept current as transactions commit) or the planner's estimate,
	// whichever is larger; where both say none, the file's size tells: an empty file holds no rows
	// for sure (count 0 without scanning), another is counted. Only those tables are sized, as
	// sizing opens the table (at a thousand tables, most of the page's time).
	b.Queue(`SELECT c.relname, CASE WHEN GREATEST(pg_stat_get_live_tuples(c.oid), c.reltuples) > 0 THEN GREATEST(pg_stat_get_live_tuples(c.oid), c.reltuples)::bigint
			WHEN pg_relation_size(c.oid) = 0 THEN -1 ELSE 0 END
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')`, schema, tables)
	triggerlog.QueueWaitingByTable(b, schema)
	triggerlog.QueueFailedByTable(b, schema)
	triggerlog.QueueHeldByTable(b, schema)
	b.Queue(`SELECT c.relname, p.tuples_processed, NULL::timestamptz FROM pg_stat_progress_copy p
		JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND p.command = 'COPY FROM'`, schema, tables)
	res := r.pool.SendBatch(ctx, b)
	for _, t := range tables {
		out[t] = TableCounts{Missing: true}
	}
	var exact []string
	err := eachPair(res, func(table string, n int64) {
		tc := out[table]
		tc.Missing, tc.Rows, tc.Estimated = false, max(n, 0), n >= ExactCountBelow
		if n >= 0 && !tc.Estimated {
			exact = append(exact, table)
		}
		out[table] = tc
	})
	if err != nil {
		res.Close()
		return nil, fmt.Errorf("estimate table sizes: %w", err)
	}
	steps := []struct {
		what string
		fn   func(tc *TableCounts, n int64, oldest *time.Time)
	}{
		{"count pending writes", func(tc *TableCounts, n int64, oldest *time.Time) { tc.Pending, tc.OldestPending = n, oldest }},
		{"count failed writes", func(tc *TableCounts, n int64, oldest *time.Time) { tc.Failed, tc.OldestFailed = n, oldest }},
		{"count held conflicts", func(tc *TableCounts, n int64, oldest *time.Time) { tc.Held, tc.OldestHeld = n, oldest }},
		{"read copy progress", func(tc *TableCounts, n int64, _ *time.Time) { tc.Copying += n }},
	}
	for _, st := range steps {
		rows, err := res.Query()
		if err == nil {
			err = eachOldest(rows, func(table string, n int64, oldest *time.Time) {
				if tc, ok := out[table]; ok {
					st.fn(&tc, n, oldest)
					out[table] = tc
				}
			})
		}
		if err != nil {
			res.Close()
			return nil, fmt.Errorf("%s: %w", st.what, err)
		}
	}
	if err := res.Close(); err != nil {
		return nil, err
	}
	if len(exact) == 0 {
		return out, nil
	}
	// One statement counts every small table.
	parts := make([]string, len(exact))
	args := make([]any, len(exact))
	for i, t := range exact {
		parts[i] = fmt.Sprintf("SELECT $%d::text, count(*) FROM %s", i+1, ident(schema, t))
		args[i] = t
	}
	rows, err := r.pool.Query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	err = collectPairs(rows, func(table string, n int64) {
		tc := out[table]
		tc.Rows = n
		out[table] = tc
	})
	if err != nil {
		return nil, fmt.Errorf("count rows: %w", err)
	}
	return out, nil
}

func eachPair(res pgx.BatchResults, fn func(string, int64)) error {
	rows, err := res.Query()
	if err != nil {
		return err
	}
	return collectPairs(rows, fn)
}

// eachOldest reads (table, count, oldest) rows.
func eachOldest(rows pgx.Rows, fn func(string, int64, *time.Time)) error {
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		var oldest *time.Time
		if err := rows.Scan(&name, &n, &oldest); err != nil {
			return err
		}
		fn(name, n, oldest)
	}
	return rows.Err()
}

func collectPairs(rows pgx.Rows, fn func(string, int64)) error {
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return err
		}
		fn(name, n)
	}
	return rows.Err()
}

// Bucket is one 5-minute bucket of records synced in one direction.
type Bucket struct {
	At        time.Time
	Direction string // sf_to_pg or pg_to_sf
	Records   int64
	Errors    int64
	APICalls  int64
}

// Directions of sync_stats.
const (
	SFToPG = "sf_to_pg"
	PGToSF = "pg_to_sf"
)

// Activity returns a connection's records synced per 5-minute bucket and direction since a time, all
// mappings summed, oldest first.
func (r *Reader) Activity(ctx context.Context, connID int64, since time.Time) ([]Bucket, error) {
	rows, err := r.pool.Query(ctx, `SELECT bucket, direction, sum(records)::bigint, sum(errors)::bigint, sum(api_calls)::bigint
		FROM sync_stats WHERE connection_id = $1 AND bucket >= $2 GROUP BY bucket, direction ORDER BY bucket, direction`, connID, since)
	if err != nil {
		return nil, fmt.Errorf("read activity: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (Bucket, error) {
		var b Bucket
		return b, row.Scan(&b.At, &b.Direction, &b.Records, &b.Errors, &b.APICalls)
	})
}

// EventFilter selects events; zero values mean no filter.
type EventFilter struct {
	Since     time.Time
	MappingID int64
	Level     string // info, warn, error
	Kind      string // state, load, poll, drift, write, ...
	Limit     int    // default 200
}

// Events returns a connection's events matching f, newest first.
func (r *Reader) Events(ctx context.Context, connID int64, f EventFilter) ([]mapping.Event, error) {
	if f.Limit <= 0 {
		f.Limit = 200
	}
	rows, err := r.pool.Query(ctx, `SELECT at, mapping_id, object_name, level, kind, from_state, to_state, message FROM events
		WHERE connection_id = $1 AND at >= $2 AND ($3 = 0 OR mapping_id = $3) AND ($4 = '' OR level = $4) AND ($5 = '' OR kind = $5)
		ORDER BY at DESC, id DESC LIMIT $6`, connID, f.Since, f.MappingID, f.Level, f.Kind, f.Limit)
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (mapping.Event, error) {
		var e mapping.Event
		return e, row.Scan(&e.At, &e.MappingID, &e.Object, &e.Level, &e.Kind, &e.FromState, &e.ToState, &e.Message)
	})
}

// EventKinds lists the kinds of a connection's events since a time, for the Activity filter.
func (r *Reader) EventKinds(ctx context.Context, connID int64, since time.Time) ([]string, error) {
	rows, err := r.pool.Query(ctx, `SELECT DISTINCT kind FROM events WHERE connection_id = $1 AND at >= $2 ORDER BY kind`, connID, since)
	if err != nil {
		return nil, fmt.Errorf("list event kinds: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LogEntry is one trigger-log row (live log or archive).
type LogEntry = triggerlog.Entry

// WriteErrors returns FAILED writes of a connection's schema updated since a time, optionally only
// for some tables, newest first.
func (r *Reader) WriteErrors(ctx context.Context, schema string, tables []string, since time.Time, limit int) ([]LogEntry, error) {
	if limit <= 0 {
		limit = 200
	}
	return triggerlog.FailedSince(ctx, r.pool, schema, tables, since, limit)
}

// ErrorCodeCount is how many unresolved failed writes of a table Salesforce refused with one code.
type ErrorCodeCount = triggerlog.CodeCount

// WriteErrorCodes counts a table's unresolved failed writes (of any age) per error code, most first.
func (r *Reader) WriteErrorCodes(ctx context.Context, schema, table string) ([]ErrorCodeCount, error) {
	return triggerlog.FailedByCode(ctx, r.pool, schema, table)
}

// RecordHistory returns the trigger-log entries of one row, newest first.
func (r *Reader) RecordHistory(ctx context.Context, schema, table string, recordID int64, limit int) ([]LogEntry, error) {
	if limit <= 0 {
		limit = 100
	}
	return triggerlog.History(ctx, r.pool, schema, table, recordID, limit)
}

// AuditCSV writes the audit trail as CSV.
func (r *Reader) AuditCSV(ctx context.Context, f audit.Filter, w io.Writer) error {
	return audit.WriteCSV(ctx, r.pool, f, w)
}

// MappingSummary is what the Mappings table and the Overview show of a mapping.
type MappingSummary = mapping.Summary

// MappingSummaries lists a connection's mappings by object name.
func (r *Reader) MappingSummaries(ctx context.Context, connID int64) ([]MappingSummary, error) {
	return mapping.Summaries(ctx, r.pool, connID)
}

// AuditEntries returns the audit trail entries matching f, oldest first.
func (r *Reader) AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, error) {
	var out []audit.Entry
	err := audit.Each(ctx, r.pool, f, func(e audit.Entry) error {
		out = append(out, e)
		return nil
	})
	return out, err
}
