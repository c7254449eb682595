// Package report holds the dashboard's read models: the SQL behind the counts, charts, histories and
// row browsers the pages show. It only reads; every change goes through the engine.
package report

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/audit"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/triggerlog"
)

// Reader runs the dashboard's queries.
type Reader struct {
	pool    *pgxpool.Pool
	now     func() time.Time
	mu      sync.Mutex
	kept    map[string]*schemaCounts // exact row counts by schema, see Counts
	indexes map[string]*indexesRead  // by schema, see SyncIndexes
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
// schema, keyed by table name. Rows are exact under ExactCountBelow, and a table's exact count is
// taken once and then reused while it stays exact: a table whose inserts, deletes and truncations
// its row-count trigger notes (triggerlog.RowChanges, written in the changing transaction) keeps the
// count taken in one snapshot until a transaction that snapshot did not see notes it. So a page of a
// thousand mappings counts only the tables that changed since the last read, in a few round trips.
func (r *Reader) Counts(ctx context.Context, schema string, tables []string) (map[string]TableCounts, error) {
	out := make(map[string]TableCounts, len(tables))
	if len(tables) == 0 {
		return out, nil
	}
	for _, t := range tables {
		out[t] = TableCounts{Missing: true}
	}
	// The counts kept from earlier reads, and since which transaction notes could make them stale.
	kept := r.counted(schema)
	minXmin := uint64(0)
	if kept != nil {
		for _, t := range tables {
			if k, ok := kept.tables[t]; ok && (minXmin == 0 || k.snap.xmin < minXmin) {
				minXmin = k.snap.xmin
			}
		}
	}
	b := &pgx.Batch{}
	// The snapshot in which the counts kept are checked (the notes are read in it too: one
	// statement), and the notes table they are valid with.
	if minXmin > 0 {
		b.Queue(`SELECT pg_current_snapshot()::text, COALESCE(to_regclass($1)::oid, 0),
			COALESCE((SELECT array_agg(table_name || ':' || xid::text) FROM `+ident(schema, triggerlog.RowChanges)+` WHERE xid >= $2::text::xid8), '{}')`,
			ident(schema, triggerlog.RowChanges), strconv.FormatUint(minXmin, 10))
	} else {
		b.Queue(`SELECT pg_current_snapshot()::text, COALESCE(to_regclass($1)::oid, 0), '{}'::text[]`, ident(schema, triggerlog.RowChanges))
	}
	// The statistics' live tuples (kept current as transactions commit) or the planner's estimate,
	// whichever is larger, and whether the table's row changes are noted.
	b.Queue(`SELECT c.relname, c.oid, GREATEST(pg_stat_get_live_tuples(c.oid), c.reltuples, 0)::bigint, `+triggerlog.HasRowCountTriggerSQL("$3")+`
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')`, schema, tables, triggerlog.RowChangeFunc(schema))
	triggerlog.QueueWaitingByTable(b, schema)
	triggerlog.QueueFailedByTable(b, schema)
	triggerlog.QueueHeldByTable(b, schema)
	b.Queue(`SELECT c.relname, p.tuples_processed, NULL::timestamptz FROM pg_stat_progress_copy p
		JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND p.command = 'COPY FROM'`, schema, tables)
	res := r.pool.SendBatch(ctx, b)
	var snapText string
	var logOID uint32
	var notes []string
	if err := res.QueryRow().Scan(&snapText, &logOID, &notes); err != nil {
		res.Close()
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
			r.forget(schema) // the notes table is gone: what was kept with it is no longer checked
		}
		return nil, fmt.Errorf("count rows: %w", err)
	}
	snap, err := parseSnapshot(snapText)
	if err != nil {
		res.Close()
		return nil, fmt.Errorf("count rows: %w", err)
	}
	type facts struct {
		oid   uint32
		noted bool
	}
	small := map[string]facts{} // tables counted exactly
	rows, err := res.Query()
	if err == nil {
		defer rows.Close()
		for rows.Next() {
			var table string
			var f facts
			var n int64
			if err = rows.Scan(&table, &f.oid, &n, &f.noted); err != nil {
				break
			}
			out[table] = TableCounts{Rows: n, Estimated: n >= ExactCountBelow}
			if n < ExactCountBelow {
				small[table] = f
			}
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
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
	if len(small) == 0 {
		return out, nil
	}
	// The counts kept that are still exact: of the same table, still noted, and named by no note
	// of a transaction the count's snapshot did not see.
	valid := map[string]int64{}
	if kept != nil && kept.logOID == logOID && logOID != 0 {
		for t, f := range small {
			if k, ok := kept.tables[t]; ok && f.noted && k.oid == f.oid {
				valid[t] = k.rows
			}
		}
		for _, note := range notes {
			i := strings.LastIndexByte(note, ':')
			xid, err := strconv.ParseUint(note[i+1:], 10, 64)
			if i < 0 || err != nil {
				return nil, fmt.Errorf("read row-count note %q: %v", note, err)
			}
			table := note[:i]
			if !strings.HasPrefix(table, triggerlog.RowChangeHorizon) {
				if _, ok := valid[table]; ok && !kept.tables[table].snap.sees(xid) {
					delete(valid, table)
				}
				continue
			}
			// Notes up to the horizon are gone: a count taken before the purge (its snapshot does not
			// see the purge's transaction) that may not have seen one of them is taken again.
			horizon, err := strconv.ParseUint(strings.TrimPrefix(table, triggerlog.RowChangeHorizon), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("read row-count note %q: %v", note, err)
			}
			for t := range valid {
				if k := kept.tables[t]; !k.snap.sees(xid) && k.snap.xmin <= horizon {
					delete(valid, t)
				}
			}
		}
	}
	fresh := map[string]countedRows{}
	for t, n := range valid {
		tc := out[t]
		tc.Rows = n
		out[t] = tc
		// Exact in the snapshot that kept it and changed by no transaction since: exact in this one.
		fresh[t] = countedRows{oid: small[t].oid, rows: n, snap: snap}
	}
	var toCount []string
	for t := range small {
		if _, ok := valid[t]; !ok {
			toCount = append(toCount, t)
		}
	}
	slices.Sort(toCount)
	for chunk := range slices.Chunk(toCount, countChunk) {
		counted, snap, err := r.countExactly(ctx, schema, chunk)
		if err != nil {
			return nil, err
		}
		for t, n := range counted {
			tc := out[t]
			tc.Rows = n
			out[t] = tc
			if f := small[t]; f.noted {
				fresh[t] = countedRows{oid: f.oid, rows: n, snap: snap}
			}
		}
	}
	if logOID != 0 {
		r.keep(schema, logOID, fresh)
	}
	return out, nil
}

// countChunk is how many tables one transaction counts: each holds a lock on every table (and index)
// it counted until it ends, and the server's lock table is shared by every session.
const countChunk = 100

// countExactly counts tables' rows in one snapshot, which it returns. A table whose file is empty
// holds no rows for sure: it is not scanned.
func (r *Reader) countExactly(ctx context.Context, schema string, tables []string) (map[string]int64, *snapshot, error) {
	out := make(map[string]int64, len(tables))
	tx, err := r.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, fmt.Errorf("count rows: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var snapText string
	var empty []string
	err = tx.QueryRow(ctx, `SELECT pg_current_snapshot()::text, COALESCE((SELECT array_agg(c.relname::text) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p') AND pg_relation_size(c.oid) = 0), '{}')`, schema, tables).Scan(&snapText, &empty)
	if err != nil {
		return nil, nil, fmt.Errorf("size tables: %w", err)
	}
	snap, err := parseSnapshot(snapText)
	if err != nil {
		return nil, nil, fmt.Errorf("count rows: %w", err)
	}
	var parts []string
	var args []any
	for _, t := range tables {
		if slices.Contains(empty, t) {
			out[t] = 0
			continue
		}
		args = append(args, t)
		parts = append(parts, fmt.Sprintf("SELECT $%d::text, count(*) FROM %s", len(args), ident(schema, t)))
	}
	if len(parts) > 0 {
		rows, err := tx.Query(ctx, strings.Join(parts, " UNION ALL "), args...)
		if err != nil {
			return nil, nil, fmt.Errorf("count rows: %w", err)
		}
		if err := collectPairs(rows, func(table string, n int64) { out[table] = n }); err != nil {
			return nil, nil, fmt.Errorf("count rows: %w", err)
		}
	}
	return out, snap, tx.Commit(ctx)
}

// countedRows is a table's exact row count as of a snapshot.
type countedRows struct {
	oid  uint32 // the table counted: one dropped and created again under its name is another
	rows int64
	snap *snapshot
}

// schemaCounts are the exact counts kept of a schema's tables, valid with its row-count notes table.
type schemaCounts struct {
	logOID uint32
	tables map[string]countedRows
}

// counted returns a copy of the counts kept for a schema (nil when none are).
func (r *Reader) counted(schema string) *schemaCounts {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := r.kept[schema]
	if k == nil {
		return nil
	}
	return &schemaCounts{logOID: k.logOID, tables: maps.Clone(k.tables)}
}

// forget drops the counts kept for a schema.
func (r *Reader) forget(schema string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.kept, schema)
}

// keep remembers exact counts for later reads.
func (r *Reader) keep(schema string, logOID uint32, fresh map[string]countedRows) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.kept == nil {
		r.kept = map[string]*schemaCounts{}
	}
	k := r.kept[schema]
	if k == nil || k.logOID != logOID {
		k = &schemaCounts{logOID: logOID, tables: map[string]countedRows{}}
		r.kept[schema] = k
	}
	maps.Copy(k.tables, fresh)
}

// snapshot is a Postgres snapshot (pg_snapshot): which transactions' effects it sees.
type snapshot struct {
	xmin, xmax uint64
	xip        []uint64 // in progress when it was taken
}

// parseSnapshot reads pg_snapshot's text form, "xmin:xmax:xip,xip,...".
func parseSnapshot(s string) (*snapshot, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return nil, fmt.Errorf("snapshot %q", s)
	}
	var snap snapshot
	var err error
	if snap.xmin, err = strconv.ParseUint(parts[0], 10, 64); err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", s, err)
	}
	if snap.xmax, err = strconv.ParseUint(parts[1], 10, 64); err != nil {
		return nil, fmt.Errorf("snapshot %q: %w", s, err)
	}
	for x := range strings.SplitSeq(parts[2], ",") {
		if x == "" {
			continue
		}
		xid, err := strconv.ParseUint(x, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("snapshot %q: %w", s, err)
		}
		snap.xip = append(snap.xip, xid)
	}
	return &snap, nil
}

// sees says whether a committed transaction's effects are visible in the snapshot.
func (s *snapshot) sees(xid uint64) bool {
	return xid < s.xmin || xid < s.xmax && !slices.Contains(s.xip, xid)
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
