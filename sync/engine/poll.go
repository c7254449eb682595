package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
)

// poll reads records changed in Salesforce since the high-water mark (minus an overlap window) with one
// queryAll, which also returns deleted records, and merges them into the table. The new high-water
// mark is stored in the same transaction as the rows, so a crash can never skip changes.
func (w *worker) poll(ctx context.Context, org orgclient.Org, c connection.Connection, m mapping.Mapping) (err error) {
	e := w.s.e
	begun := e.opts.Now()
	urgent := w.pollNow.Swap(false) // a change event asked for it: no waiting for a batch
	committed := false
	defer func() {
		if err != nil && urgent && !committed {
			// The changes the event announced are not in Postgres: the retry after the backoff polls
			// at once again (as a failed gap refresh keeps its ids), not at the next interval, which is
			// an hour away for an accelerated mapping between events.
			w.pollNow.Store(true)
		}
	}()
	replayID := w.replayID.Load()
	var pubsubReplay []byte
	if p := w.pubsubReplay.Load(); p != nil {
		pubsubReplay = *p
	}
	if max := c.MaxDailyAPICalls; max != nil {
		if used, _ := org.Usage(); used >= *max {
			w.retryAt = e.opts.Now().Add(10 * time.Minute)
			w.event(ctx, m, "warn", "throttle", fmt.Sprintf("Daily API allowance for pgforce (%d calls) reached; polling %s again in 10 minutes", *max, m.Object))
			return nil
		}
	}
	if err := w.checkRollback(ctx, c, m); err != nil {
		return err
	}
	if m.State == mapping.DataSynced {
		if err := w.startPoll(ctx, m); err != nil {
			return err
		}
	}
	since := pollSince(m, e.opts.Now(), e.opts.Overlap)
	tgt := target(c, m)
	tgt.Waiting = pollWaiting(c, m) // rows with changes not yet written keep what the policy keeps
	filter := m.Config.Filter()
	soql := "SELECT " + tgt.SelectList() + " FROM " + m.Object +
		whereClause("SystemModstamp > "+soqlTime(since), filter) + " ORDER BY SystemModstamp, Id"
	all := hasField(m, "IsDeleted")

	// The poll begins before its query, by the database's clock (see SavePoll): when the mapping was
	// read for it, which costs no round trip of its own.
	started := m.ReadAt
	if started.IsZero() { // not read from the database (never so today): ask for its time
		if err := e.opts.Pool.QueryRow(ctx, `SELECT now()`).Scan(&started); err != nil {
			return fmt.Errorf("read the database's time: %w", err)
		}
	}
	var first *orgclient.FirstPage
	// A filtered poll reads on its own: the records changed in its window, filter aside, must be read
	// before the filtered ones (a record that came to match between the two reads would otherwise be
	// taken for one that left), and the batch's first page is read before the poll begins.
	// A poll paging through many changes reads on its own too (worker.paging).
	if !urgent && filter == "" && w.paging == 0 {
		var err error
		if first, err = w.s.polls.first(ctx, org, orgclient.BatchQuery{SOQL: soql, All: all}, w.interval(m)); err != nil {
			return err
		}
	}
	answered := e.opts.Now()
	// The records download before the table is locked: the writer, which holds the lock while it
	// sends and records, does not wait for Salesforce's pages of a poll (its own writes read back).
	// Merged only after the writer recorded its inserts' sfids, a record it created is never taken
	// for a new one.
	spooled := newSpool()
	defer spooled.Close()
	fetched, err := queryInto(tgt, w.whileSyncing(records(ctx, org, soql, all, first)), func(rows io.Reader) error {
		_, err := io.Copy(spooled, rows)
		return err
	})
	if err != nil {
		return err
	}
	downloaded := e.opts.Now()
	switch {
	case first != nil && first.Next != "":
		w.paging = len(first.Records)
	case first == nil && fetched <= w.paging:
		w.paging = 0 // no more than a page (read on its own, it cannot tell how many it paged)
	}

	var res apply.Result
	var left apply.Left // rows of records that no longer match the record filter
	var departed int64  // rows kept back from leaving before, that went now
	var after departing // whether rows stay kept back, once settled
	var committedMark *time.Time
	// The lock is held for the transaction only: what follows it (the count check's calls to
	// Salesforce among them) would otherwise hold up the writer of this table for their round trips.
	unlock := w.s.tables.lock(m.Table)
	// Most polls find nothing: without records (and without a filter, whose departures are found
	// through the staged records) nothing is merged, no staging table is made, and no row of the
	// table is written (unless rows kept back from leaving may be due to go: settleDepartures).
	mayDepart := tgt.Waiting != nil && (!w.departing.known || w.departing.any)
	quiet := filter == "" && spooled.empty() && !mayDepart
	err = store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if quiet {
			// Nothing changes but the mapping's bookkeeping: the commit need not wait for the disk.
			// Lost in a database crash, it takes only this poll's time with it, and the next poll
			// reads the same window again from the same mark (checkRollback compares marks, which
			// do not move).
			if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
				return fmt.Errorf("record an empty poll: %w", err)
			}
		} else if err := apply.AsSync(ctx, tx); err != nil {
			return err
		}
		// Paused (or stopped) while the records downloaded, a batch's window included: what Salesforce
		// answered after the pause is not applied (the mark stays; Resume polls again). Read with the
		// lease, in the transaction of the rows: no round trip of its own.
		state, err := e.leases.CheckSyncing(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		if !connection.State(state).Syncing() {
			return errAborted
		}
		var changedMark *time.Time
		if filter != "" {
			// First every record changed in the window, matching or not (Ids and stamps only).
			soqlChanged := "SELECT Id, SystemModstamp FROM " + m.Object + whereClause("SystemModstamp > "+soqlTime(since))
			if _, err := queryInto(changedTarget(c, m.Object), records(ctx, org, soqlChanged, all, nil), func(rows io.Reader) (err error) {
				changedMark, err = apply.StageChanged(ctx, tx, changedTarget(c, m.Object), rows)
				return err
			}); err != nil {
				return err
			}
		}
		if !quiet {
			rows, err := spooled.Reader()
			if err != nil {
				return err
			}
			if res, err = apply.Merge(ctx, tx, tgt, rows); err != nil {
				return err
			}
		}
		if filter != "" {
			if left, err = apply.DeleteLeft(ctx, tx, tgt); err != nil {
				return err
			}
		}
		if mayDepart || left.Deferred > 0 {
			w.departing.any = true // so that settleDepartures looks
			gone, remain, err := w.settleDepartures(ctx, tx, org, m, tgt)
			if err != nil {
				return err
			}
			departed, after = gone, departing{known: true, any: remain}
		}
		watermark := m.Watermark
		for _, mark := range []*time.Time{res.MaxStamp, changedMark} {
			if mark != nil && (watermark == nil || mark.After(*watermark)) {
				watermark = mark
			}
		}
		committedMark = watermark
		still, err := mapping.SavePoll(ctx, tx, m.ID, mapping.Poll{Watermark: watermark, WatermarkID: res.MaxID, Interval: w.interval(m), ReplayID: replayID,
			PubSubReplayID: pubsubReplay, StartedAt: &started, Table: table.Ident(c.Schema, m.Table)})
		if err != nil || !still {
			return cmp.Or(err, errAborted) // reloaded or edited meanwhile: drop this batch
		}
		changed := res.Upserted + res.Deleted + left.Deleted + departed
		if err := addStats(ctx, tx, c.ID, m.ID, "sf_to_pg", changed, 0, e.opts.Now()); err != nil {
			return err
		}
		if changed > 0 || left.Deferred > 0 {
			msg := fmt.Sprintf("Polling Salesforce found %d updated and %d deleted %s records", res.Upserted, res.Deleted, m.Object)
			if left.Deleted > 0 {
				msg += fmt.Sprintf("; %d no longer match the record filter and left the table", left.Deleted)
			}
			if left.Deferred > 0 {
				msg += fmt.Sprintf("; %d no longer match the record filter but stay while application changes of them wait to be written (they leave once written or set aside)", left.Deferred)
			}
			if departed > 0 {
				msg += fmt.Sprintf("; %d kept while application changes of them waited left the table, their changes written or set aside", departed)
			}
			if err := mapping.RecordEvent(ctx, tx, m, "info", "poll", msg); err != nil {
				return err
			}
		}
		// Back to DATA_SYNCED with the rows and the mark: one commit per poll, not two, and nobody
		// sees the mapping polling after its poll is stored (SavePoll holds the row: no admin
		// change can come between).
		if _, err := mapping.Apply(ctx, tx, m.ID, mapping.Polled, ""); failure.Is(err, failure.Conflict) {
			return fmt.Errorf("%w: %v", errAborted, err)
		} else if err != nil {
			return err
		}
		return nil
	})
	unlock()
	if err != nil {
		return err
	}
	if after.known {
		w.departing = after // committed: what the database holds now
	}
	committed = true
	w.remember(m, committedMark)
	// Its timings from when it came due: a poll late beyond its interval shows where it waited.
	w.log.Debug("polled", "since", since, "fetched", fetched, "upserted", res.Upserted, "deleted", res.Deleted, "urgent", urgent,
		"batched", first != nil, "due", w.dueAt.Format(time.TimeOnly+".000"), "after_last", sinceLast(m, w.dueAt), "begun", begun.Sub(w.dueAt), "answered", answered.Sub(w.dueAt),
		"downloaded", downloaded.Sub(w.dueAt), "applied", e.opts.Now().Sub(w.dueAt))
	e.opts.Signals.PollDone.Fire(m.ID)
	w.countCheck(ctx, org, c, m)
	return nil
}

// startPoll marks the mapping POLLING_SF_CHANGES while its poll runs. That state is shown only for
// the poll's moment, so its commit does not wait for the disk (synchronous_commit off; the poll's
// own commit, later in the same log, does): lost in a database crash, the mapping is DATA_SYNCED
// and polls again. With a thousand mappings polling, the flushes of commits are most of what the
// database does.
func (w *worker) startPoll(ctx context.Context, m mapping.Mapping) error {
	err := store.Tx(ctx, w.s.e.opts.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
			return fmt.Errorf("start poll: %w", err)
		}
		_, err := mapping.Apply(ctx, tx, m.ID, mapping.StartPoll, "")
		return err
	})
	if failure.Is(err, failure.Conflict) {
		return fmt.Errorf("%w: %v", errAborted, err) // as transition: an admin changed the mapping meanwhile
	}
	return err
}

// sinceLast is how long after the previous poll began this one came due (0: none before).
func sinceLast(m mapping.Mapping, due time.Time) time.Duration {
	if m.LastPollAt == nil {
		return 0
	}
	return due.Sub(*m.LastPollAt)
}

// changedTarget is what a filtered mapping's poll reads of every record changed in its window, the
// filter aside: a record that changed and is not among the filtered changes left the filter (or was
// deleted outside it), and its row leaves the table. One query more per poll, of Ids and stamps.
func changedTarget(c connection.Connection, object string) apply.Target {
	return apply.Target{Schema: c.Schema, Object: object, Fields: []table.Field{{Name: "Id", Type: "id", Length: 18}, {Name: "SystemModstamp", Type: "datetime"}}}
}

// pollSince is where a poll starts reading. A record can become visible after a poll with a
// SystemModstamp from before it (Salesforce stamps a transaction when it starts, not when it commits),
// so each poll re-reads an overlap window: the one before the previous poll began, as only a record
// committed after that poll can have been missed. (Re-reading the window before the high-water mark
// instead reads a burst of changes, a million-record data load say, again on every poll until newer
// changes move the mark on.)
func pollSince(m mapping.Mapping, now time.Time, overlap time.Duration) time.Time {
	if m.Watermark == nil {
		return now.Add(-overlap)
	}
	since := *m.Watermark
	if m.LastPollAt == nil {
		return since.Add(-overlap)
	}
	if t := m.LastPollAt.Add(-overlap); t.Before(since) {
		since = t
	}
	return since
}

// checkRollback detects a database rolled back (restored to an earlier point) under a synced mapping:
// its stored high-water mark went back from the one this worker committed last (within one load), or,
// after a restart, when the worker remembers nothing, the mark was stored in another database history
// (mapping.RolledBack). Heroku Connect's answer, which the seed prescribes, is to reload the mapping.
func (w *worker) checkRollback(ctx context.Context, c connection.Connection, m mapping.Mapping) error {
	if w.committed == nil || !w.loadMark.Equal(loadMark(m)) {
		back, err := mapping.RolledBack(ctx, w.s.e.opts.Pool, m.ID, table.Ident(c.Schema, m.Table))
		if err != nil || !back {
			return err
		}
		return failure.E(failure.Invalid, "The database was rolled back: this mapping's high-water mark was stored before the database was restored to an earlier point (or failed over to a standby that may lack the last commits). Reload the mapping to make the table consistent with Salesforce again.")
	}
	if m.Watermark != nil && !m.Watermark.Before(*w.committed) {
		return nil
	}
	was := w.committed.UTC().Format(time.RFC3339)
	w.committed = nil
	return failure.E(failure.Invalid, "The database was rolled back: this mapping's high-water mark went back from %s. Reload the mapping to make the table consistent with Salesforce again.", was)
}

// remember notes the high-water mark just committed, for checkRollback.
func (w *worker) remember(m mapping.Mapping, mark *time.Time) {
	if mark != nil {
		w.committed, w.loadMark = mark, loadMark(m)
	}
}

func loadMark(m mapping.Mapping) time.Time {
	if m.LoadStartedAt == nil {
		return time.Time{}
	}
	return *m.LoadStartedAt
}

// resync finishes an edit: it loads the values of columns the edit added (or recreated) from Salesforce
// into the existing rows, then the mapping is in sync again.
func (w *worker) resync(ctx context.Context, org orgclient.Org, c connection.Connection, m mapping.Mapping) error {
	e := w.s.e
	if m.State == mapping.SchemaChanged {
		if err := w.transition(ctx, m, mapping.StartResync, ""); err != nil {
			return err
		}
	}
	added := m.Backfill
	if len(added) > 0 {
		part := apply.Target{Schema: c.Schema, Object: m.Object, Fields: added}
		soql := "SELECT " + part.SelectList() + " FROM " + m.Object + whereClause(m.Config.Filter())
		var n int64
		err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
			if err := apply.AsSync(ctx, tx); err != nil {
				return err
			}
			if err := e.leases.Check(ctx, tx, c.ID); err != nil {
				return err
			}
			_, err := queryInto(part, records(ctx, org, soql, false, nil), func(rows io.Reader) (err error) {
				n, err = apply.Backfill(ctx, tx, part, rows)
				return err
			})
			return err
		})
		if err != nil {
			return err
		}
		w.event(ctx, m, "info", "resync", fmt.Sprintf("Loaded new columns of %d %s rows", n, m.Object))
	}
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := mapping.FinishBackfill(ctx, tx, m.ID); err != nil {
			return err
		}
		_, err := mapping.Apply(ctx, tx, m.ID, mapping.Loaded, "")
		return err
	})
}

// queryInto streams a query's records (read calls its fn for each) as CSV rows in the target's field
// order into apply, which writes them (in the caller's transaction) while they download. It returns
// how many records the query returned, and the query's error or else apply's.
// whileSyncing stops a poll's download once its connection is paused or stopped: what it reads
// would not be applied (see CheckSyncing), and a PAUSED connection makes no more calls, so no more
// than the pages already asked for are read (a poll of 100,000 records just written went on paging
// for seconds after the pause).
func (w *worker) whileSyncing(read func(fn func(map[string]json.RawMessage) error) (int, error)) func(fn func(map[string]json.RawMessage) error) (int, error) {
	return func(fn func(map[string]json.RawMessage) error) (int, error) {
		n := 0
		return read(func(r map[string]json.RawMessage) error {
			if n++; n%200 == 0 && !w.s.currentConn().State.Syncing() {
				return errAborted
			}
			return fn(r)
		})
	}
}

func queryInto(t apply.Target, read func(fn func(map[string]json.RawMessage) error) (int, error), write func(rows io.Reader) error) (int, error) {
	pr, pw := io.Pipe()
	enc := apply.NewRecordEncoder(t, pw)
	var fetched int
	errc := make(chan error, 1)
	go func() {
		n, err := read(func(rec map[string]json.RawMessage) error { return enc.Encode(rec) })
		fetched = n
		if err == nil {
			err = enc.Flush()
		}
		pw.CloseWithError(err)
		errc <- err
	}()
	werr := write(pr)
	pr.CloseWithError(werr)
	if qerr := <-errc; qerr != nil {
		return fetched, qerr
	}
	return fetched, werr
}
