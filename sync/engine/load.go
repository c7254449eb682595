package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// soqlTime formats a SOQL datetime literal (unquoted, UTC).
func soqlTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// target is the table a mapping writes to.
func target(c connection.Connection, m mapping.Mapping) apply.Target {
	return apply.Target{Schema: c.Schema, Object: m.Object, Fields: m.AppliedFields, UpsertField: m.Config.UpsertField}
}

func whereClause(conds ...string) string {
	var parts []string
	for _, c := range conds {
		if c != "" {
			parts = append(parts, "("+c+")")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(parts, " AND ")
}

func hasField(m mapping.Mapping, name string) bool {
	for _, f := range m.AppliedFields {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// latestStamp returns the newest SystemModstamp in the org for the object: the high-water mark a load
// starts from, on Salesforce's clock. Changes made during the load are newer and the first poll
// fetches them.
func latestStamp(ctx context.Context, org orgclient.Org, m mapping.Mapping, now time.Time) (time.Time, error) {
	var latest time.Time
	_, err := org.Query(ctx, fmt.Sprintf("SELECT SystemModstamp FROM %s ORDER BY SystemModstamp DESC LIMIT 1", m.Object), false,
		func(rec map[string]json.RawMessage) error {
			var s string
			if err := json.Unmarshal(rec["SystemModstamp"], &s); err == nil {
				latest, _ = salesforce.ParseTime(s)
			}
			return nil
		})
	if err != nil {
		return time.Time{}, err
	}
	if latest.IsZero() {
		latest = now
	}
	return latest, nil
}

// load fills the table with every record (every matching one, with a filter): the first load after
// creating a mapping and every reload. Up to BulkThreshold records it pages through the REST API;
// above, it runs a Bulk API 2.0 query job. Rows stream into COPY inside one transaction, so an abort
// or a crash leaves the table as it was before the load began.
func (w *worker) load(ctx context.Context, org orgclient.Org, c connection.Connection, m mapping.Mapping) error {
	e := w.s.e
	if err := w.transition(ctx, m, mapping.StartLoad, ""); err != nil && m.State != mapping.WaitBulkLoad && m.State != mapping.LoadingBulkJob {
		return err
	}
	where := whereClause(m.Config.Filter())
	// Two independent round trips: the size (REST or Bulk, progress) and the watermark to start from.
	var expected int
	var stamp time.Time
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) {
		expected, err = org.Count(gctx, "SELECT COUNT() FROM "+m.Object+where)
		return err
	})
	g.Go(func() (err error) {
		stamp, err = latestStamp(gctx, org, m, e.opts.Now())
		return err
	})
	if err := g.Wait(); err != nil {
		return err
	}
	if err := mapping.RecordLoadSize(ctx, e.opts.Pool, m.ID, expected); err != nil {
		return err
	}
	w.event(ctx, m, "info", "load", fmt.Sprintf("Loading %d %s records via the %s API", expected, m.Object, map[bool]string{true: "Bulk", false: "REST"}[expected > e.opts.BulkThreshold]))
	tgt := target(c, m)
	soql := "SELECT " + tgt.SelectList() + " FROM " + m.Object + where
	progress := newProgress(e, m.ID)
	start := time.Now()

	var loaded int64
	err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := apply.AsSync(ctx, tx); err != nil {
			return err
		}
		if err := e.leases.Check(ctx, tx, c.ID); err != nil {
			return err
		}
		if err := table.Truncate(ctx, tx, c.Schema, m.Object); err != nil {
			return err
		}
		if err := triggerlog.SuspendTableTriggers(ctx, tx, c.Schema, m.Table); err != nil {
			return err
		}
		buildIndexes, err := table.DeferIndexes(ctx, tx, c.Schema, m.Object)
		if err != nil {
			return err
		}
		n, err := w.copyRecords(ctx, tx, org, m, tgt, soql, expected > e.opts.BulkThreshold, progress)
		loaded = n
		if err != nil {
			return err
		}
		if err := buildIndexes(ctx); err != nil {
			return err
		}
		if err := triggerlog.ResumeTableTriggers(ctx, tx, c.Schema, m.Table); err != nil {
			return err
		}
		// The rows, the load's figures and DATA_SYNCED commit together: nobody sees the table loaded
		// while the mapping says loading, or the mapping synced before its rows are there. An abort
		// meanwhile rolls the whole load back.
		took := time.Since(start)
		if still, err := mapping.FinishLoad(ctx, tx, m.ID, loaded, stamp, w.interval(m)); err != nil || !still {
			return cmp.Or(err, errAborted)
		}
		if err := mapping.StampHistory(ctx, tx, m.ID, table.Ident(c.Schema, m.Table)); err != nil {
			return err
		}
		if err := addStats(ctx, tx, c.ID, m.ID, "sf_to_pg", loaded, 0, e.opts.Now()); err != nil {
			return err
		}
		_, err = mapping.Apply(ctx, tx, m.ID, mapping.Loaded, fmt.Sprintf("loaded %d records in %s", loaded, took.Round(time.Millisecond)))
		return err
	})
	took := time.Since(start)
	if err == nil {
		w.log.Info("load complete", "records", loaded, "took", took)
		e.opts.Signals.LoadFinished.Fire(m.ID)
		w.s.wakeStream() // an accelerated mapping streams from now on
	}
	return err
}

// copyRecords streams the query's records into COPY: a Bulk API 2.0 job's CSV pages as they are, or
// REST pages encoded as the same CSV. It returns the rows copied.
func (w *worker) copyRecords(ctx context.Context, tx pgx.Tx, org orgclient.Org, m mapping.Mapping, tgt apply.Target, soql string, bulk bool, progress *progress) (int64, error) {
	if bulk {
		var loaded int64
		err := org.BulkQuery(ctx, soql, false, func(st orgclient.BulkState) {
			tr := mapping.WaitBulk
			if st == orgclient.BulkLoading {
				tr = mapping.LoadBulk
			}
			if err := w.transition(ctx, m, tr, ""); err != nil {
				w.log.Warn("bulk state", "err", err)
			}
		}, func(page io.Reader) error {
			n, err := apply.Copy(ctx, tx, tgt, page, true)
			loaded += n
			if err != nil {
				return err
			}
			return progress.add(ctx, n)
		})
		return loaded, err
	}
	pr, pw := io.Pipe()
	enc := apply.NewRecordEncoder(tgt, pw)
	errc := make(chan error, 1)
	go func() {
		var batch int64
		_, err := org.Query(ctx, soql, false, func(rec map[string]json.RawMessage) error {
			if err := enc.Encode(rec); err != nil {
				return err
			}
			if batch++; batch == 2000 {
				batch = 0
				return progress.add(ctx, 2000)
			}
			return nil
		})
		if err == nil {
			err = enc.Flush()
		}
		pw.CloseWithError(err)
		errc <- err
	}()
	n, copyErr := apply.Copy(ctx, tx, tgt, pr, false)
	pr.CloseWithError(copyErr)
	if qerr := <-errc; qerr != nil {
		return n, qerr
	}
	return n, copyErr
}

// interval is the mapping's polling interval.
// interval is how long the mapping waits between polls now: its polling interval, or while its
// change events stream (every change makes it poll at once), the rarer safety poll.
func (w *worker) interval(m mapping.Mapping) time.Duration {
	d := pollInterval(w.s.e.opts, m)
	if m.Config.Accelerated() && w.s.isStreaming(m.Object) {
		return max(d, w.s.e.opts.SafetyPollEvery)
	}
	return d
}

func pollInterval(opts Options, m mapping.Mapping) time.Duration {
	if d := opts.PollInterval; d > 0 {
		return d
	}
	return time.Duration(m.Config.SFPollingSeconds) * time.Second
}

// transition applies a mapping transition in its own transaction.
func (w *worker) transition(ctx context.Context, m mapping.Mapping, t mapping.Transition, reason string) error {
	err := store.Tx(ctx, w.s.e.opts.Pool, func(tx pgx.Tx) error {
		_, err := mapping.Apply(ctx, tx, m.ID, t, reason)
		return err
	})
	if failure.Is(err, failure.Conflict) {
		// An admin changed the mapping (edit, reload, abort) since this worker read it: this round's
		// work is void, and the next round starts from the new state.
		return fmt.Errorf("%w: %v", errAborted, err)
	}
	return err
}

// progress persists load progress every page; when the mapping left its loading state (aborted) the
// update matches nothing and the load stops.
type progress struct {
	e    *Engine
	id   int64
	done int64
}

func newProgress(e *Engine, id int64) *progress { return &progress{e: e, id: id} }

func (p *progress) add(ctx context.Context, n int64) error {
	p.done += n
	still, err := mapping.SaveLoadProgress(ctx, p.e.opts.Pool, p.id, p.done)
	if err != nil || !still {
		return cmp.Or(err, errAborted)
	}
	return nil
}

// addStats counts records synced per 5-minute bucket for the activity chart.
func addStats(ctx context.Context, tx pgx.Tx, connID, mappingID int64, direction string, records, errs int64, now time.Time) error {
	if records == 0 && errs == 0 {
		return nil
	}
	bucket := now.UTC().Truncate(5 * time.Minute)
	_, err := tx.Exec(ctx, `INSERT INTO sync_stats (connection_id, mapping_id, bucket, direction, records, errors)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (connection_id, mapping_id, bucket, direction)
		DO UPDATE SET records = sync_stats.records + EXCLUDED.records, errors = sync_stats.errors + EXCLUDED.errors`,
		connID, mappingID, bucket, direction, records, errs)
	if err != nil {
		return fmt.Errorf("record sync stats: %w", err)
	}
	return nil
}
