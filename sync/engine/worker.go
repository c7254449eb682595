package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/schemacheck"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
)

// worker runs one mapping: its loads, polls and backfills, one at a time.
type worker struct {
	s      *syncer
	id     int64
	object string
	log    *slog.Logger
	wakeCh chan struct{}
	runner // Start and Stop: the loop of steps

	failures int
	retryAt  time.Time
	// committed is the high-water mark this worker last stored, for the load that began at loadMark:
	// finding an older one in the database later means the database was rolled back.
	committed *time.Time
	loadMark  time.Time
	pollNow   atomic.Bool // set by a change notification (accelerated mode)
	dueAt     time.Time   // when the poll now running came due (for its timings in the log)
	// paging is the size of the first page of this mapping's last poll when that one found more
	// than a page (0: it did not). Its query is then a batch's slow one (Salesforce answers the first
	// page of many changes last, and a /composite call with it): it polls alone until a poll finds
	// no more than a page, and the connection's other polls do not wait for it.
	paging   int
	replayID atomic.Int64 // last change event seen for this object, stored with the next poll
	gaps     gapQueue     // records named by gap events, to read by id
	// departing: whether the mapping has rows kept back from leaving (departures.go).
	departing departing
	// pubsubReplay is the same for the Pub/Sub API, whose replay ids are bytes.
	pubsubReplay atomic.Pointer[[]byte]
}

func newWorker(s *syncer, id int64, object string) *worker {
	return &worker{s: s, id: id, object: object, log: s.log.With("mapping_id", id, "object", object), wakeCh: make(chan struct{}, 1)}
}

func (w *worker) poke() {
	select {
	case w.wakeCh <- struct{}{}:
	default:
	}
}

// Start runs the worker until Stop, until ctx ends or until its mapping is deleted.
func (w *worker) Start(ctx context.Context) error {
	return w.start(ctx, func(ctx context.Context, g *errgroup.Group) {
		g.Go(func() error { w.run(ctx); return nil })
	})
}

func (w *worker) run(ctx context.Context) {
	for {
		next, gone := w.step(ctx)
		w.s.e.opts.Signals.WorkerRound.Fire(w.id)
		if gone {
			return
		}
		timer := time.NewTimer(next)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-w.wakeCh:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// step does the mapping's next piece of work, if any, and says when to look again; gone reports
// that the mapping was deleted.
func (w *worker) step(ctx context.Context) (next time.Duration, gone bool) {
	e := w.s.e
	tick := e.opts.Tick
	m, err := mapping.Load(ctx, e.opts.Pool, w.id)
	if failure.Is(err, failure.NotFound) {
		return tick, true
	}
	if err != nil {
		e.logTransient("load mapping", err)
		return tick, false
	}
	c := w.s.currentConn()
	if !c.State.Syncing() {
		return tick, false // paused, waiting for authorization, or stopped by an error
	}
	now := e.opts.Now()
	if now.Before(w.retryAt) {
		return w.retryAt.Sub(now), false
	}
	var op func(context.Context, orgclient.Org, connection.Connection, mapping.Mapping) error
	switch m.State {
	case mapping.Initial, mapping.ReloadTable, mapping.WaitBulkLoad, mapping.LoadingBulkJob:
		op = w.load
	case mapping.SchemaChanged, mapping.Resync:
		op = w.resync
	case mapping.DataSynced, mapping.PollingSFChanges, mapping.PollingSFBulk:
		if w.gaps.pending() {
			op = w.refreshGaps
			break
		}
		dueAt := w.pollDueAt(m, c, now)
		if due := dueAt.Sub(now); due > 0 {
			return min(due, tick*5), false
		}
		w.dueAt = dueAt
		op = w.poll
	default:
		return tick, false
	}
	org, err := w.s.openOrg(ctx)
	if err == nil {
		err = w.guarded(ctx, m, func(ctx context.Context) error { return op(ctx, org, c, m) })
		if err != nil {
			err = schemacheck.Explain(ctx, e.opts.Pool, org, m, err) // a value the table cannot hold: drift?
		}
	}
	w.handle(ctx, m, err)
	return 0, false
}

// pollDueAt returns when the mapping's next poll is due (now or earlier: poll now).
func (w *worker) pollDueAt(m mapping.Mapping, c connection.Connection, now time.Time) time.Time {
	if w.pollNow.Load() || m.NextPollAt == nil || m.LastPollAt == nil {
		return now
	}
	if c.State == connection.Recovery && m.LastPollAt.Before(c.StateChangedAt) {
		return now // catch up after a pause or an error
	}
	next := *m.NextPollAt
	// Due an interval after the last poll, the interval that holds now (a stream that stopped
	// brings the polling interval back), on the connection's grid (pollSlot); unless a poll was
	// asked for sooner (a recovery, "poll now"), which is due when asked.
	if interval := w.interval(m); !next.Before(m.LastPollAt.Add(interval)) {
		next = pollSlot(c.ID, *m.LastPollAt, interval)
	}
	return next
}

// guarded runs op with a context that is cancelled as soon as the mapping leaves the state it started
// in (an admin aborted or reloaded it): Abort takes effect within moments, not at the end of a load.
func (w *worker) guarded(ctx context.Context, start mapping.Mapping, op func(context.Context) error) error {
	opCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan struct{})
	var watch sync.WaitGroup
	defer watch.Wait() // after close(done): the watcher has ended when guarded returns
	defer close(done)
	watch.Go(func() {
		for {
			select {
			case <-done:
				return
			case <-w.wakeCh:
				m, err := mapping.Load(opCtx, w.s.e.opts.Pool, w.id)
				if err == nil && stateChangedUnderUs(start.State, m.State) {
					cancel()
					return
				}
			}
		}
	})
	err := op(opCtx)
	if err != nil && opCtx.Err() != nil && ctx.Err() == nil {
		return errAborted
	}
	return err
}

// stateChangedUnderUs reports whether an admin moved the mapping away from what the running operation
// is doing (the operation's own transitions stay within its family of states).
func stateChangedUnderUs(started, now mapping.State) bool {
	switch now {
	case mapping.Aborted:
		return true
	case mapping.ReloadTable:
		return !started.Loading() // a reload requested while polling
	}
	return false
}

// handle turns an operation's outcome into retries, states and events.
func (w *worker) handle(ctx context.Context, m mapping.Mapping, err error) {
	e := w.s.e
	if err == nil {
		if w.failures > 0 {
			w.event(ctx, m, "info", "recovered", fmt.Sprintf("%s is syncing again after %d failed attempts", m.Object, w.failures))
		}
		w.failures, w.retryAt = 0, time.Time{}
		return
	}
	switch {
	case errors.Is(err, errAborted), ctx.Err() != nil:
		return
	case failure.Is(err, failure.Unauthenticated):
		w.s.loseAuth(ctx, err)
		return
	case !m.State.Loading() && orgclient.ObjectGone(err, m.Object, false):
		// Removed or renamed in Salesforce: an orphaned mapping (BAD_CONFIG with the reason), not an
		// error of the connection; the other mappings go on.
		w.log.Warn("the mapped object is gone from Salesforce", "err", err)
		if oerr := schemacheck.MarkOrphan(ctx, e.opts.Pool, m); oerr != nil {
			e.logTransient("record orphaned mapping", oerr)
		}
		return
	case errors.Is(err, lease.ErrLost):
		w.retryAt = e.opts.Now().Add(e.leaseRetry())
		w.log.Info("lease not held; will retry", "in", e.leaseRetry())
		return
	case !givesUp(err, w.failures+1):
		w.failures++
		delay := e.backoff(w.failures)
		w.retryAt = e.opts.Now().Add(delay)
		if w.failures == 1 || w.failures%10 == 0 {
			w.event(ctx, m, "warn", "retry", fmt.Sprintf("%s: %s; retrying in %s", m.Object, failure.Message(err), delay.Round(time.Second)))
		}
		w.log.Warn("transient failure; will retry", "err", err, "attempt", w.failures, "in", delay)
		return
	}
	w.log.Error("mapping failed", "err", err)
	reason := failure.Message(err)
	if failure.KindOf(err) == failure.Internal {
		reason = err.Error()
	}
	tr := mapping.Fail
	if failure.Is(err, failure.Invalid) && errors.As(err, new(mapping.Problems)) {
		tr = mapping.Misconfigured
	}
	if terr := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		_, err := mapping.Apply(ctx, tx, m.ID, tr, reason)
		return err
	}); terr != nil {
		e.logTransient("record mapping failure", terr)
	}
}

func (w *worker) event(ctx context.Context, m mapping.Mapping, level, kind, msg string) {
	if err := mapping.RecordEvent(ctx, w.s.e.opts.Pool, m, level, kind, msg); err != nil {
		w.s.e.logTransient("record event", err)
	}
}
