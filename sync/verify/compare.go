package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/salesforce"
	"pgforce/sync/triggerlog"
)

// Salesforce is what verification asks of the org (the engine adapts its client). Query returns
// totalSize, so "SELECT COUNT() ..." counts; all selects queryAll (deleted records included).
type Salesforce interface {
	Query(ctx context.Context, soql string, all bool, fn func(rec map[string]json.RawMessage) error) (int, error)
	BulkQuery(ctx context.Context, soql string, all bool, page func(csv io.Reader) error) error
}

// Env is what verification runs with.
type Env struct {
	Pool *pgxpool.Pool
	SF   Salesforce
	// Margin: records changed this close before the high-water mark may still be on their way (a poll
	// re-reads an overlap window for records committed late), so they are not judged.
	Margin time.Duration
	// BulkAbove is the record count above which Salesforce is read through the Bulk API.
	BulkAbove int
	// Fence runs first in every transaction that writes the table (repair): it checks the lease.
	Fence func(ctx context.Context, tx pgx.Tx) error
	// Progress receives what the work is doing, for the dashboard; nil ignores it.
	Progress func(msg string)
	Now      func() time.Time
}

func (e Env) progress(format string, args ...any) {
	if e.Progress != nil {
		e.Progress(fmt.Sprintf(format, args...))
	}
}

func (e Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// Table is a mapped table as verification sees it.
type Table struct {
	Target     apply.Target // schema, object and mapped fields
	MappingID  int64
	Filter     string // the mapping's record filter (a SOQL condition), or ""
	HasDeleted bool   // the object has IsDeleted: queryAll returns deleted records with their deletion stamp
}

func (t Table) name() string { return table.Name(t.Target.Object) }

func (t Table) where(extra ...string) string {
	var parts []string
	for _, c := range append([]string{t.Filter}, extra...) {
		if c != "" {
			parts = append(parts, "("+c+")")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(parts, " AND ")
}

// Result is what a comparison found.
type Result struct {
	Watermark              time.Time
	SFRecords, PGRows      int64
	InFlight               int64
	Missing, Extra, Stale  int64
	UnconfirmedExtraChecks int // records outside the filter looked up by Id
}

// Drift is how many records differ.
func (r Result) Drift() int64 { return r.Missing + r.Extra + r.Stale }

func soqlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// CaughtUp is when the table last caught up with Salesforce: when its last poll (or load) began. Every
// change Salesforce stamped before that, less the margin a late commit may take, is in the table. A
// table that never finished loading claims nothing, so everything up to now is judged.
func CaughtUp(m mapping.Mapping, now time.Time) time.Time {
	switch {
	case !m.TableLoaded():
		return now.UTC()
	case m.LastPollAt != nil:
		return m.LastPollAt.UTC()
	}
	return m.Watermark.UTC()
}

// Compare compares the table with Salesforce and stores the findings under verification id.
//
// Postgres is read in one REPEATABLE READ snapshot taken first, with the time T the table last caught
// up (CaughtUp): it claims to hold every change Salesforce stamped before T, less the margin. Salesforce
// is read after, so whatever it shows stamped before that must be in the snapshot; records stamped
// later, and rows with writes waiting for Salesforce, are in flight and not judged.
func Compare(ctx context.Context, env Env, tbl Table, id int64) (Result, error) {
	var res Result
	tx, err := env.Pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return res, fmt.Errorf("begin verification: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	m, err := mapping.Load(ctx, tx, tbl.MappingID)
	if err != nil {
		return res, fmt.Errorf("read the high-water mark: %w", err)
	}
	res.Watermark = CaughtUp(m, env.now())
	judged := res.Watermark.Add(-env.Margin)
	tbName := table.Ident(tbl.Target.Schema, tbl.name())

	// The snapshot: rows with an sfid, and records with writes waiting for Salesforce.
	for _, stmt := range []string{
		`CREATE TEMP TABLE pgforce_verify_pg ON COMMIT DROP AS SELECT sfid::text AS id, systemmodstamp AS stamp FROM ` + tbName + ` WHERE sfid IS NOT NULL`,
		`CREATE TEMP TABLE pgforce_verify_pending (id text PRIMARY KEY) ON COMMIT DROP`,
		`CREATE TEMP TABLE pgforce_verify_sf (id text, stamp timestamptz, deleted boolean NOT NULL DEFAULT false) ON COMMIT DROP`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return res, fmt.Errorf("snapshot %s: %w", tbName, err)
		}
	}
	waiting, err := triggerlog.WaitingRecords(ctx, tx, tbl.Target.Schema, tbl.name(), nil)
	if err != nil {
		return res, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO pgforce_verify_pending SELECT unnest($1::text[])`, waiting); err != nil {
		return res, err
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM pgforce_verify_pg`).Scan(&res.PGRows); err != nil {
		return res, err
	}

	// Salesforce: Id, SystemModstamp (and IsDeleted) of every record matching the filter.
	total, err := env.SF.Query(ctx, "SELECT COUNT() FROM "+tbl.Target.Object+tbl.where(), false, func(map[string]json.RawMessage) error { return nil })
	if err != nil {
		return res, fmt.Errorf("count %s records: %w", tbl.Target.Object, err)
	}
	res.SFRecords = int64(total)
	env.progress("reading the Id and SystemModstamp of %d %s records", total, tbl.Target.Object)
	if err := downloadIDs(ctx, env, tx, tbl, tbl.where(), total > env.BulkAbove); err != nil {
		return res, err
	}
	if _, err := tx.Exec(ctx, `CREATE INDEX ON pgforce_verify_sf (id)`); err != nil {
		return res, err
	}
	if _, err := tx.Exec(ctx, `ANALYZE pgforce_verify_sf`); err != nil {
		return res, err
	}

	env.progress("comparing %d records with %d rows", total, res.PGRows)
	// Candidates: what differs and is judged. Extra rows whose record Salesforce did not return at all
	// may only have left the filter after W: those are looked up by Id below.
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE pgforce_verify_found ON COMMIT DROP AS
		SELECT s.id, 'missing'::text AS kind, s.stamp AS sf_stamp, NULL::timestamptz AS pg_stamp, true AS confirmed
			FROM pgforce_verify_sf s WHERE NOT s.deleted AND s.stamp <= $1
			AND NOT EXISTS (SELECT 1 FROM pgforce_verify_pg p WHERE p.id = s.id)
		UNION ALL
		SELECT s.id, 'stale', s.stamp, p.stamp, true FROM pgforce_verify_sf s JOIN pgforce_verify_pg p ON p.id = s.id
			WHERE NOT s.deleted AND s.stamp <= $1 AND (p.stamp IS NULL OR p.stamp < s.stamp)
		UNION ALL
		SELECT p.id, 'extra', s.stamp, p.stamp, s.id IS NOT NULL FROM pgforce_verify_pg p LEFT JOIN pgforce_verify_sf s ON s.id = p.id
			WHERE s.id IS NULL OR (s.deleted AND s.stamp <= $1)`, judged); err != nil {
		return res, fmt.Errorf("compare %s: %w", tbName, err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM pgforce_verify_found f USING pgforce_verify_pending w WHERE w.id = f.id`); err != nil {
		return res, err
	}
	if tbl.Filter != "" {
		n, err := confirmOutsideFilter(ctx, env, tx, tbl, judged)
		if err != nil {
			return res, err
		}
		res.UnconfirmedExtraChecks = n
	}
	// In flight: records that differ but changed after the mark, or wait to be written.
	if err := tx.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM pgforce_verify_sf s LEFT JOIN pgforce_verify_pg p ON p.id = s.id
			WHERE s.stamp > $1 AND (p.id IS NULL OR p.stamp IS DISTINCT FROM s.stamp OR s.deleted))
		+ (SELECT count(*) FROM pgforce_verify_pending)`, judged).Scan(&res.InFlight); err != nil {
		return res, err
	}
	// A restarted verification replaces what an interrupted run recorded.
	if _, err := tx.Exec(ctx, `DELETE FROM verification_findings WHERE verification_id = $1`, id); err != nil {
		return res, err
	}
	if _, err := tx.Exec(ctx, `INSERT INTO verification_findings (verification_id, sfid, kind, sf_modstamp, pg_modstamp)
		SELECT $1, id, kind, sf_stamp, pg_stamp FROM pgforce_verify_found ON CONFLICT DO NOTHING`, id); err != nil {
		return res, fmt.Errorf("record findings: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE kind = 'missing'), count(*) FILTER (WHERE kind = 'extra'),
		count(*) FILTER (WHERE kind = 'stale') FROM verification_findings WHERE verification_id = $1`, id).Scan(&res.Missing, &res.Extra, &res.Stale); err != nil {
		return res, err
	}
	return res, tx.Commit(ctx)
}

// summary says what a comparison found, for the verification's reason.
func summary(r Result) string {
	if r.Drift() == 0 {
		return fmt.Sprintf("%d records and %d rows agree up to %s (%d changes in flight not judged).", r.SFRecords, r.PGRows,
			r.Watermark.Format(time.RFC3339), r.InFlight)
	}
	return fmt.Sprintf("%d missing in Postgres, %d extra in Postgres, %d stale (of %d records and %d rows; %d changes in flight not judged).",
		r.Missing, r.Extra, r.Stale, r.SFRecords, r.PGRows, r.InFlight)
}

// downloadIDs copies Id, SystemModstamp and IsDeleted of the records matching where into
// pgforce_verify_sf: a Bulk API job's CSV straight into COPY for large objects, REST pages otherwise.
func downloadIDs(ctx context.Context, env Env, tx pgx.Tx, tbl Table, where string, bulk bool) error {
	fields, cols := "Id, SystemModstamp", "id, stamp"
	if tbl.HasDeleted {
		fields, cols = fields+", IsDeleted", cols+", deleted"
	}
	soql := "SELECT " + fields + " FROM " + tbl.Target.Object + where
	copyInto := func(r io.Reader, header bool) error {
		_, err := tx.Conn().PgConn().CopyFrom(ctx, r, fmt.Sprintf("COPY pgforce_verify_sf (%s) FROM STDIN WITH (FORMAT csv, HEADER %t)", cols, header))
		if err != nil {
			return fmt.Errorf("stage %s ids: %w", tbl.Target.Object, err)
		}
		return nil
	}
	if bulk {
		if err := env.SF.BulkQuery(ctx, soql, tbl.HasDeleted, func(page io.Reader) error { return copyInto(page, true) }); err != nil {
			return fmt.Errorf("read %s ids through the Bulk API: %w", tbl.Target.Object, err)
		}
	} else {
		pr, pw := io.Pipe()
		errc := make(chan error, 1)
		go func() {
			w := newIDWriter(pw, tbl.HasDeleted)
			_, err := env.SF.Query(ctx, soql, tbl.HasDeleted, w.write)
			if err == nil {
				err = w.flush()
			}
			pw.CloseWithError(err)
			errc <- err
		}()
		cerr := copyInto(pr, false)
		pr.CloseWithError(cerr)
		if qerr := <-errc; qerr != nil {
			return fmt.Errorf("read %s ids: %w", tbl.Target.Object, qerr)
		}
		if cerr != nil {
			return cerr
		}
	}
	return nil
}

// confirmOutsideFilter looks up, by Id and without the filter, the rows Salesforce did not return:
// a record that changed after the mark (it may have left the filter) is in flight, not extra.
func confirmOutsideFilter(ctx context.Context, env Env, tx pgx.Tx, tbl Table, judged time.Time) (int, error) {
	rows, err := tx.Query(ctx, `SELECT id FROM pgforce_verify_found WHERE kind = 'extra' AND NOT confirmed ORDER BY id`)
	if err != nil {
		return 0, err
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	var inFlight []string
	fields := "Id, SystemModstamp"
	for chunk := range chunks(wellFormedIDs(ids), idsPerQuery) {
		soql := "SELECT " + fields + " FROM " + tbl.Target.Object + " WHERE Id IN (" + quotedIDs(chunk) + ")"
		_, err := env.SF.Query(ctx, soql, tbl.HasDeleted, func(rec map[string]json.RawMessage) error {
			var id, stamp string
			_ = json.Unmarshal(rec["Id"], &id)
			_ = json.Unmarshal(rec["SystemModstamp"], &stamp)
			if t, err := salesforce.ParseTime(stamp); err == nil && t.After(judged) {
				inFlight = append(inFlight, id)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("look up %s records outside the filter: %w", tbl.Target.Object, err)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM pgforce_verify_found WHERE kind = 'extra' AND id = ANY($1)`, inFlight); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// idsPerQuery bounds an "Id IN (...)" list: 200 ids keep a SOQL statement near 4,500 characters.
const idsPerQuery = 200

func chunks(ids []string, n int) func(func([]string) bool) {
	return func(yield func([]string) bool) {
		for len(ids) > 0 {
			k := min(n, len(ids))
			if !yield(ids[:k]) {
				return
			}
			ids = ids[k:]
		}
	}
}

// wellFormedIDs keeps the ids Salesforce can be asked about: one malformed id (an application's
// bad sfid) fails the whole query with INVALID_QUERY_FILTER_OPERATOR, and no record has it anyway.
func wellFormedIDs(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		ok := len(id) == 15 || len(id) == 18
		for i := 0; ok && i < len(id); i++ {
			c := id[i]
			ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		}
		if ok {
			out = append(out, id)
		}
	}
	return out
}

func quotedIDs(ids []string) string {
	q := make([]string, len(ids))
	for i, id := range ids {
		q[i] = "'" + strings.ReplaceAll(id, "'", "") + "'"
	}
	return strings.Join(q, ", ")
}

// idWriter encodes REST records as the CSV rows of pgforce_verify_sf.
type idWriter struct {
	w       io.Writer
	deleted bool
	buf     []byte
}

func newIDWriter(w io.Writer, deleted bool) *idWriter { return &idWriter{w: w, deleted: deleted} }

func (w *idWriter) write(rec map[string]json.RawMessage) error {
	var id, stamp string
	var del bool
	if err := json.Unmarshal(rec["Id"], &id); err != nil {
		return fmt.Errorf("record without an Id: %w", err)
	}
	_ = json.Unmarshal(rec["SystemModstamp"], &stamp)
	w.buf = append(w.buf, id...)
	w.buf = append(w.buf, ',')
	w.buf = append(w.buf, stamp...)
	if w.deleted {
		_ = json.Unmarshal(rec["IsDeleted"], &del)
		w.buf = append(w.buf, ',')
		if del {
			w.buf = append(w.buf, "true"...)
		} else {
			w.buf = append(w.buf, "false"...)
		}
	}
	w.buf = append(w.buf, '\n')
	if len(w.buf) >= 64<<10 {
		return w.flush()
	}
	return nil
}

func (w *idWriter) flush() error {
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	return err
}

// Client adapts a Salesforce API client.
func Client(c *salesforce.Client) Salesforce { return client{c} }

type client struct{ c *salesforce.Client }

func (c client) Query(ctx context.Context, soql string, all bool, fn func(rec map[string]json.RawMessage) error) (int, error) {
	return c.c.Query(ctx, soql, all, func(r salesforce.Record) error { return fn(r) })
}

func (c client) BulkQuery(ctx context.Context, soql string, all bool, page func(csv io.Reader) error) error {
	_, err := c.c.BulkQuery(ctx, soql, all, salesforce.BulkQueryOptions{}, page)
	return err
}
