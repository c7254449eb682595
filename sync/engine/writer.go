package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// Writer settings.
const (
	claimBatch      = 2000 // trigger-log rows claimed per round
	collectionLimit = 200  // records per sObject Collections call
)

// change is one claimed trigger-log row and what happened to it.
type change struct {
	id       int64
	action   triggerlog.Action
	table    string
	recordID int64
	sfid     string
	values   map[string]*string
	old      map[string]*string

	// outcome is what becomes of the change (Succeed, Fail, Merge, Skip, or Release: a retriable
	// failure, back to NEW with its order kept); zero until decided.
	outcome triggerlog.Transition
	message string // Salesforce's error, as JSON, for FAILED rows
	newSFID string // the record created by an insert
	lastop  string // what the table row's _hc_lastop becomes
}

// decided reports whether the change's outcome is known.
func (ch *change) decided() bool { return ch.outcome.Name != "" }

// released reports whether the change goes back to the queue.
func (ch *change) released() bool { return ch.outcome.Name == triggerlog.Release.Name }

// writable is a read-write mapping as the writer needs it.
type writable struct {
	m      mapping.Mapping
	fields fieldMap
}

// writer drains a connection's trigger log to Salesforce, woken by the log's notifications.
type writer struct {
	runner   // Start and Stop: the write loop and the trigger log's listener
	s        *syncer
	schema   string
	log      *slog.Logger
	wakeCh   chan struct{}
	failures int
	archived time.Time

	// After a failure between claiming rows and recording their outcome, the rows are PENDING and
	// only this writer knows them: inDoubt sends them back to the queue before anything else (they
	// were not sent), unrecorded keeps outcomes Salesforce already gave until they are stored.
	inDoubt    bool
	unrecorded *unrecordedBatch

	// inFlight is set from before a claim until its outcome is recorded: a pausing (BUSY) connection
	// becomes PAUSED only when it is clear.
	inFlight atomic.Bool
}

type unrecordedBatch struct {
	c      connection.Connection
	tables map[string]*writable
	batch  []*change
}

func newWriter(s *syncer, schema string) *writer {
	return &writer{s: s, schema: schema, log: s.log.With("part", "writer"), wakeCh: make(chan struct{}, 1)}
}

// Start runs the writer, and its listener for the trigger log's notifications, until Stop or until
// ctx ends.
func (w *writer) Start(ctx context.Context) error {
	return w.start(ctx, func(ctx context.Context, g *errgroup.Group) {
		listener := w.s.e.listener(triggerlog.NotifyChannel(w.schema), "listen to the trigger log", func(*pgconn.Notification) { w.poke() })
		g.Go(func() error { _ = listener.Listen(ctx); return nil })
		g.Go(func() error { w.run(ctx); return nil })
	})
}

func (w *writer) poke() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// run writes until ctx ends.
func (w *writer) run(ctx context.Context) {
	e := w.s.e

	if err := w.releaseInDoubt(ctx); err != nil {
		e.logTransient("release in-doubt writes", err)
	}
	for {
		more, err := w.step(ctx)
		e.opts.Signals.WriterRound.Fire(w.s.connID)
		delay := e.opts.Tick
		switch {
		case errors.Is(err, lease.ErrLost) && ctx.Err() == nil:
			// With nothing new captured, nothing would wake the writer before a long backoff ends.
			delay = e.leaseRetry()
			w.log.Info("lease not held; will retry", "in", delay)
		case err != nil && ctx.Err() == nil:
			w.failures++
			delay = backoff(w.failures)
			w.log.Warn("writing to Salesforce failed; will retry", "err", err, "in", delay)
			switch {
			case failure.Is(err, failure.Unauthenticated):
				w.s.loseAuth(ctx, err)
			case givesUp(err, w.failures):
				// Not a passing outage: stop with SYSTEM_ERROR until an admin recovers.
				w.s.fail(ctx, "writing to Salesforce: "+failure.Message(err)+" ("+err.Error()+")")
			}
		case err == nil:
			w.failures = 0
			if more {
				delay = 0
			}
		}
		if time.Since(w.archived) > e.opts.ArchiveEvery {
			if err := w.archive(ctx); err != nil {
				e.logTransient("archive trigger log", err)
			}
			w.archived = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-w.wakeCh:
		case <-time.After(delay):
		}
	}
}

// releaseInDoubt puts rows left PENDING by a crashed or replaced writer back in the queue.
func (w *writer) releaseInDoubt(ctx context.Context) error {
	return triggerlog.ReleaseClaimed(ctx, w.s.e.opts.Pool, w.s.currentConn().Schema)
}

// writables returns the connection's read-write mappings that may be written now, by table name.
func (w *writer) writables(ctx context.Context, org orgclient.Org, c connection.Connection) (map[string]*writable, error) {
	ms, err := mapping.List(ctx, w.s.e.opts.Pool, c.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]*writable{}
	for _, m := range ms {
		if m.Config.Access != mapping.ReadWrite || m.State.Loading() || m.State == mapping.Aborted {
			continue
		}
		obj, err := org.Describe(ctx, m.Object)
		if err != nil {
			return nil, err
		}
		out[m.Table] = &writable{m: m, fields: newFieldMap(m, obj)}
	}
	return out, nil
}

// step claims a batch of captured changes, writes them and records the outcome. more reports that a
// full batch was claimed (there may be more waiting).
func (w *writer) step(ctx context.Context) (more bool, err error) {
	e := w.s.e
	w.inFlight.Store(true)
	defer func() {
		w.inFlight.Store(false)
		w.s.finishPausing(context.WithoutCancel(ctx))
	}()
	if u := w.unrecorded; u != nil {
		if err := w.record(ctx, u.c, u.tables, u.batch, 0); err != nil {
			return false, err
		}
		w.unrecorded = nil
	}
	if w.inDoubt {
		if err := w.releaseInDoubt(ctx); err != nil {
			return false, err
		}
		w.inDoubt = false
	}
	c := w.s.currentConn()
	if !c.State.Syncing() {
		return false, nil
	}
	org, err := w.s.openOrg(ctx)
	if err != nil {
		return false, err
	}
	tables, err := w.writables(ctx, org, c)
	if err != nil || len(tables) == 0 {
		return false, err
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	batch, algo, err := w.claim(ctx, c, names)
	if err != nil || len(batch) == 0 {
		return false, err
	}
	c.WriteAlgorithm = algo // as stored now: it may have changed while the connection was paused
	if c.State == connection.Idle {
		_ = store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
			_, err := connection.Apply(ctx, tx, c.ID, connection.StartWriting, "")
			return err
		})
	}
	defer func() {
		_ = store.Tx(context.WithoutCancel(ctx), e.opts.Pool, func(tx pgx.Tx) error {
			_, err := connection.Apply(ctx, tx, c.ID, connection.FinishWriting, "")
			if failure.Is(err, failure.Conflict) {
				return nil
			}
			return err
		})
	}()
	var claimed []string
	for _, ch := range batch {
		claimed = append(claimed, ch.table)
	}
	unlock := w.s.tables.lock(claimed...)
	defer unlock()
	if err := w.checkRows(ctx, c, batch); err != nil {
		w.inDoubt = true
		return false, err
	}
	start := time.Now()
	var sendErr error
	if c.WriteAlgorithm == connection.Merged {
		sendErr = w.sendMerged(ctx, org, tables, batch)
	} else {
		sendErr = w.sendOrdered(ctx, org, tables, batch)
	}
	if err := w.record(ctx, c, tables, batch, time.Since(start)); err != nil {
		w.unrecorded = &unrecordedBatch{c: c, tables: tables, batch: batch}
		return false, err
	}
	w.log.Debug("wrote changes", "rows", len(batch), "took", time.Since(start))
	return len(batch) == claimBatch, sendErr
}

// claim moves the oldest waiting rows of writable tables to PENDING, under the lease fence.
func (w *writer) claim(ctx context.Context, c connection.Connection, tables []string) ([]*change, connection.WriteAlgorithm, error) {
	e := w.s.e
	var algo connection.WriteAlgorithm
	batch, err := store.TxResult(ctx, e.opts.Pool, func(tx pgx.Tx) ([]*change, error) {
		if err := e.leases.Check(ctx, tx, c.ID); err != nil {
			return nil, err
		}
		var state connection.State
		var err error
		if state, algo, err = connection.LockShared(ctx, tx, c.ID); err != nil {
			return nil, err
		}
		if !state.Syncing() {
			return nil, nil
		}
		claimed, err := triggerlog.ClaimBatch(ctx, tx, c.Schema, tables, claimBatch)
		if err != nil {
			return nil, err
		}
		batch := make([]*change, len(claimed))
		for i, cl := range claimed {
			batch[i] = &change{id: cl.ID, action: cl.Action, table: cl.Table, recordID: cl.RecordID, sfid: cl.SFID, values: cl.Values, old: cl.Old}
		}
		return batch, nil
	})
	return batch, algo, err
}

// checkRows reads the current rows of a batch's inserts and sfid-less updates, one query per table:
//   - an insert whose row was deleted before it reached Salesforce is IGNORED (its delete was captured
//     as IGNORE, the row having no sfid, so sending the insert would leave a record Postgres no
//     longer has);
//   - an update captured before its row's insert reached Salesforce takes the sfid the row holds by
//     now (the insert was written in an earlier batch, or before a restart).
func (w *writer) checkRows(ctx context.Context, c connection.Connection, batch []*change) error {
	needs := func(ch *change) bool {
		return ch.action == triggerlog.Insert || (ch.action == triggerlog.Update && ch.sfid == "")
	}
	ids := map[string][]int64{}
	for _, ch := range batch {
		if needs(ch) {
			ids[ch.table] = append(ids[ch.table], ch.recordID)
		}
	}
	for name, recs := range ids {
		rows, err := w.s.e.opts.Pool.Query(ctx, `SELECT id, COALESCE(sfid, '') FROM `+table.Ident(c.Schema, name)+` WHERE id = ANY($1)`, recs)
		if err != nil {
			return fmt.Errorf("check rows of %s: %w", name, err)
		}
		live := map[int64]string{}
		for rows.Next() {
			var id int64
			var sfid string
			if err := rows.Scan(&id, &sfid); err != nil {
				rows.Close()
				return err
			}
			live[id] = sfid
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, ch := range batch {
			if ch.table != name || !needs(ch) {
				continue
			}
			sfid, alive := live[ch.recordID]
			switch {
			case ch.action == triggerlog.Insert && !alive:
				ch.outcome, ch.message = triggerlog.Skip, `{"message":"the row was deleted in Postgres before it reached Salesforce"}`
			case ch.action == triggerlog.Update:
				ch.sfid = sfid
			}
		}
	}
	return nil
}
