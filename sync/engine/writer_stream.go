package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// A backlog is written as a stream of batches that overlap: while a batch's calls are in flight the
// writer records the batch before it and, beside that, claims, checks and describes the batch after
// it, so the pipe to Salesforce does not stand idle during the database work (an org 150 ms away
// spends about as long answering a batch as the database spends claiming and recording it).
//
// What keeps this as safe as one batch at a time:
//   - batches are sent one after the other (a batch's calls start once the previous batch's are
//     answered) and recorded in the same order;
//   - the batch claimed ahead was checked (checkRows) before the two batches sent before it were
//     recorded, so its updates of records they created take their sfids from them (carrySFIDs);
//   - when a batch stops (a retriable failure, a change back in the queue) or the connection stops
//     syncing (paused) or the lease is lost, the batch claimed ahead is released unsent, order kept;
//   - a batch's table locks are held from before its rows are checked until it is recorded, shared
//     by overlapping batches of a table, so a poll never applies between a write and its record;
//     once a poll has waited pollWaitMax for one of those tables, no batch is claimed ahead and the
//     locks go when the batch in flight is recorded;
//   - conflict detection learns pgforce's own writes when Salesforce answers (noteWrites), before
//     the next batch is judged, and a batch's Salesforce versions are applied with its own record;
//   - the batch claimed ahead has its conflict pre-check read meanwhile, but is judged only when it
//     is sent, by versions still fresh then (writer_readahead.go).

// pollWaitMax is how long a poll (or a check) waits at most for a table lock the writer's overlapping
// batches keep held, plus the batch in flight: about what it waited with one batch at a time, and
// no poll is skipped in a long backlog, while polls every few hundred milliseconds do not end the
// overlap at every batch.
const pollWaitMax = time.Second

// writeBatch is one claimed batch on its way: claimed and checked, sent, recorded.
type writeBatch struct {
	c           connection.Connection
	tables      map[string]*writable
	batch       []*change  // everything claimed, in capture order
	claimed     int        // how many rows the claim asked for (Options.WriteBatch)
	send        []*change  // what describe left to send
	describeErr error      // describe failed: nothing is sent, the batch goes back to the queue
	locked      []string   // the tables whose locks it holds (sorted), nil once released
	ahead       *readAhead // its conflict pre-check, read while the batch before was in flight
	refreshes   []sfRefresh
	start       time.Time
	took        time.Duration // from the first call to the last answer (0: not known)
	sendErr     error         // the retriable error that stopped its calls
}

// full reports whether the batch took a whole claim: more may be waiting.
func (b *writeBatch) full() bool { return len(b.batch) == b.claimed }

// stopped reports whether the batch ended early: what follows it is not sent now.
func (b *writeBatch) stopped() bool {
	return b.describeErr != nil || b.sendErr != nil || slices.ContainsFunc(b.batch, (*change).released)
}

// stream sends cur and the batches after it while they come full, each overlapping its neighbours'
// database work, and returns as step does.
func (w *writer) stream(ctx context.Context, org orgclient.Org, cur *writeBatch) (more bool, err error) {
	var prev *writeBatch
	for {
		sent := make(chan struct{})
		go func() {
			defer close(sent)
			w.sendBatch(ctx, org, cur)
		}()
		next, err := w.overlap(ctx, org, prev, cur)
		<-sent
		w.answered(cur)
		if err == nil && next != nil {
			var send bool
			if send, err = w.sendNext(ctx, cur, next); !send {
				if rerr := w.releaseUnsent(ctx, next); err == nil {
					err = rerr
				}
				next = nil
			}
		}
		if next == nil || err != nil {
			if rerr := w.recordBatch(ctx, cur); err == nil {
				err = rerr
			}
			switch {
			case err != nil:
				return false, err
			case cur.describeErr != nil:
				return cur.full(), cur.describeErr
			case cur.sendErr != nil:
				return cur.full(), cur.sendErr
			}
			return cur.full(), w.backoffAfterTransient()
		}
		carrySFIDs(cur, next)
		prev, cur = cur, next
	}
}

// overlap is the database work done while cur's calls are in flight: record prev (sent before cur)
// and, beside it, claim the batch after cur if cur was full and no poll has waited pollWaitMax for
// the locks of cur's tables, and start reading its conflict pre-check. The batch claimed may have been checked before prev was recorded: it
// takes the sfids of prev's inserts from prev (as of cur's once cur is answered).
func (w *writer) overlap(ctx context.Context, org orgclient.Org, prev, cur *writeBatch) (*writeBatch, error) {
	var recorded chan error
	if prev != nil {
		if len(w.unrecorded) > 0 { // not in a stream (step records them first), but never out of order
			return nil, w.recordBatch(ctx, prev)
		}
		recorded = make(chan error, 1)
		go func() { recorded <- w.record(ctx, prev) }()
	}
	var next *writeBatch
	var err error
	if cur.full() && cur.describeErr == nil && !w.s.tables.awaited(cur.locked, pollWaitMax) {
		if next, err = w.prepare(ctx, org); next != nil {
			next.ahead = w.readAheadFor(ctx, org, next)
		}
	}
	if prev == nil {
		return next, err
	}
	if rerr := w.recorded(prev, <-recorded); rerr != nil {
		if next != nil {
			_ = w.releaseUnsent(ctx, next) // or in doubt
		}
		return nil, rerr
	}
	if next != nil {
		carrySFIDs(prev, next)
	}
	return next, err
}

// prepare claims a batch, takes its tables' locks, checks its rows and describes its objects. nil:
// nothing to write now.
func (w *writer) prepare(ctx context.Context, org orgclient.Org) (*writeBatch, error) {
	c := w.s.currentConn()
	if !c.State.Syncing() {
		return nil, nil
	}
	tables, err := w.writables(ctx, c)
	if err != nil || len(tables) == 0 {
		return nil, err
	}
	names := make([]string, 0, len(tables))
	for n := range tables {
		names = append(names, n)
	}
	batch, algo, err := w.claim(ctx, c, names)
	if err != nil || len(batch) == 0 {
		return nil, err
	}
	c.WriteAlgorithm = algo // as stored now: it may have changed while the connection was paused
	b := &writeBatch{c: c, tables: tables, batch: batch, claimed: w.s.e.opts.WriteBatch}
	for _, ch := range batch {
		b.locked = append(b.locked, ch.table)
	}
	slices.Sort(b.locked)
	b.locked = slices.Compact(b.locked)
	w.lockTables(b.locked)
	if err := w.checkRows(ctx, c, batch); err != nil {
		w.unlockTables(b)
		w.inDoubt = true
		return nil, err
	}
	b.send, b.describeErr = w.describe(ctx, org, c, tables, batch)
	return b, nil
}

// sendBatch writes a batch's changes to Salesforce (nothing when describe failed: it goes back to
// the queue when recorded).
func (w *writer) sendBatch(ctx context.Context, org orgclient.Org, b *writeBatch) {
	b.start = time.Now()
	if b.describeErr != nil {
		return
	}
	b.ahead.wait()
	w.cs.beginBatch(b.send, b.ahead)
	if b.c.WriteAlgorithm == connection.Merged {
		b.sendErr = w.sendMerged(ctx, org, b.tables, b.send)
	} else {
		b.sendErr = w.sendOrdered(ctx, org, b.tables, b.send)
	}
}

// answered takes in what Salesforce's answers to a batch teach the writer, before the next batch
// is sent: refused fields' describes are dropped, pgforce's own writes are remembered, and the
// Salesforce versions its rows take go with its record.
func (w *writer) answered(b *writeBatch) {
	b.took = time.Since(b.start)
	if b.describeErr != nil {
		return
	}
	w.forgetRefused(b.tables, b.send)
	w.noteWrites(b.batch)
	b.refreshes, w.cs.refreshes = w.cs.refreshes, nil
}

// sendNext reports whether the batch claimed while cur was in flight is sent now: not after cur
// stopped (what follows it goes back in order), nor once the connection stopped syncing (paused
// meanwhile: pausing stops after what is in flight) or the lease is lost.
func (w *writer) sendNext(ctx context.Context, cur, next *writeBatch) (bool, error) {
	if cur.stopped() {
		return false, nil
	}
	e := w.s.e
	syncing := false
	err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := e.leases.Check(ctx, tx, next.c.ID); err != nil {
			return err
		}
		state, _, err := connection.LockShared(ctx, tx, next.c.ID)
		syncing = state.Syncing()
		return err
	})
	return err == nil && syncing, err
}

// carrySFIDs gives next's updates and deletes of records that cur's inserts created their sfids:
// next's rows were checked before cur was recorded.
func carrySFIDs(cur, next *writeBatch) {
	created := map[rowKey]string{}
	for _, ch := range cur.batch {
		if ch.action == triggerlog.Insert && ch.newSFID != "" {
			created[rowKey{ch.table, ch.recordID}] = ch.newSFID
		}
	}
	if len(created) == 0 {
		return
	}
	for _, ch := range next.batch {
		if ch.sfid == "" && ch.action != triggerlog.Insert {
			ch.sfid = created[rowKey{ch.table, ch.recordID}]
		}
	}
}

// errEarlierUnrecorded keeps a batch's outcome from being stored before an earlier batch's.
var errEarlierUnrecorded = errors.New("an earlier write batch is not recorded yet")

// recordBatch records a batch's outcome after those of the batches before it.
func (w *writer) recordBatch(ctx context.Context, b *writeBatch) error {
	err := errEarlierUnrecorded
	if len(w.unrecorded) == 0 {
		err = w.record(ctx, b)
	}
	return w.recorded(b, err)
}

// recorded releases a batch's table locks once its record is done (err: failed). A batch not
// recorded waits in unrecorded, in order, for the next round.
func (w *writer) recorded(b *writeBatch, err error) error {
	w.unlockTables(b)
	if err != nil {
		b.took = 0 // recorded again later: how long it took is no longer known
		w.unrecorded = append(w.unrecorded, b)
		return err
	}
	w.log.Debug("wrote changes", "rows", len(b.batch), "took", b.took)
	return nil
}

// releaseUnsent puts a batch claimed ahead back in the queue without sending it. If that fails its
// rows stay claimed and in doubt: released before the next claim.
func (w *writer) releaseUnsent(ctx context.Context, b *writeBatch) error {
	defer w.unlockTables(b)
	b.ahead.stop()
	e := w.s.e
	ids := make([]int64, len(b.batch))
	for i, ch := range b.batch {
		ids[i] = ch.id
	}
	ctx = context.WithoutCancel(ctx)
	err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := e.leases.Check(ctx, tx, b.c.ID); err != nil {
			return err
		}
		return triggerlog.ReleaseUnsent(ctx, tx, b.c.Schema, ids)
	})
	if err != nil {
		w.inDoubt = true
		return fmt.Errorf("release a batch claimed ahead: %w", err)
	}
	return nil
}

// heldLocks are the table locks the writer's batches hold; overlapping batches of a table share its
// lock, taken by the first and released by the last.
type heldLocks struct {
	unlock map[string]func()
	users  map[string]int
}

// lockTables takes the locks of the tables (sorted) the writer does not hold yet.
func (w *writer) lockTables(names []string) {
	h := &w.held
	if h.users == nil {
		h.unlock, h.users = map[string]func(){}, map[string]int{}
	}
	for _, n := range names {
		if h.users[n] == 0 {
			h.unlock[n] = w.s.tables.lock(n)
		}
		h.users[n]++
	}
}

// unlockTables releases a batch's hold on its tables' locks (once).
func (w *writer) unlockTables(b *writeBatch) {
	h := &w.held
	for _, n := range slices.Backward(b.locked) {
		if h.users[n]--; h.users[n] == 0 {
			h.unlock[n]()
			delete(h.unlock, n)
			delete(h.users, n)
		}
	}
	b.locked = nil
}
