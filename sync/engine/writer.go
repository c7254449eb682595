package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/schemacheck"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// collectionLimit is how many records one sObject Collections call writes.
const collectionLimit = 200

// DefaultWriteBatch is how many trigger-log rows the writer claims per round: 25 collection calls,
// whose updates' conflict pre-check is one /composite call of 17 queries by id (preCheckBatch each,
// 25 to a call), so a backlog of updates costs 1.04 calls per 200 records with the pre-checks.
const DefaultWriteBatch = 5000

// change is one claimed trigger-log row and what happened to it.
type change struct {
	id       int64
	action   triggerlog.Action
	table    string
	recordID int64
	sfid     string
	values   map[string]*string
	old      map[string]*string
	cleared  map[string]bool // columns an update merged into this insert set to NULL (sendMerged)
	captured time.Time       // when the change was captured

	// conflict is the conflict detected for the change (see writer_conflict.go), stored with its
	// outcome; takeSalesforce makes its row take Salesforce's version.
	conflict       *conflict.Conflict
	takeSalesforce bool

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
	m         mapping.Mapping
	fields    fieldMap
	obj       mapping.Object
	described bool // fields and obj are set (describe)
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
	unrecorded []*writeBatch // in the order they were sent (writer_stream.go)
	held       heldLocks     // table locks held by the batches on their way

	// inFlight is set from before a claim until its outcome is recorded: a pausing (BUSY) connection
	// becomes PAUSED only when it is clear.
	inFlight atomic.Bool

	described map[string]describedObject // by lower-case object name (describe)
	cs        conflictState              // conflict detection's memory (writer_conflict.go)
	retry     retryState                 // transient refusals being retried (writer_retry.go)

	lanes lanes // how many write calls may be in flight now (writer_pipeline.go)
	// stateMu guards cs and retry while the pipeline sends runs concurrently.
	stateMu sync.Mutex
}

func newWriter(s *syncer, schema string) *writer {
	return &writer{s: s, schema: schema, log: s.log.With("part", "writer"), wakeCh: make(chan struct{}, 1),
		lanes: lanes{max: s.e.opts.WriteConcurrency}}
}

// Start runs the writer, and its listener for the trigger log's notifications, until Stop or until
// ctx ends.
func (w *writer) Start(ctx context.Context) error {
	return w.start(ctx, func(ctx context.Context, g *errgroup.Group) {
		listener := w.s.e.listener(triggerlog.NotifyChannel(w.schema), "listen to the trigger log", func(*pgconn.Notification) { w.poke() })
		g.Go(func() error { _ = listener.Listen(ctx); return nil })
		// Its calls name the writer to Salesforce (Sforce-Call-Options client=pgforce/writer): the
		// org's usage by client tells a backlog's calls from the polls beside it.
		g.Go(func() error { w.run(orgclient.WithPart(ctx, "writer")); return nil })
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
		w.inDoubt = true // released before the first claim
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
			delay = e.backoff(w.failures)
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

// releaseInDoubt puts rows left PENDING by a crashed or replaced writer back in the queue, under the
// lease fence: once another instance holds the connection, the rows claimed are its own.
func (w *writer) releaseInDoubt(ctx context.Context) error {
	e := w.s.e
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := e.leases.Check(ctx, tx, w.s.connID); err != nil {
			return err
		}
		return triggerlog.ReleaseClaimed(ctx, tx, w.s.currentConn().Schema)
	})
}

// writables returns the connection's read-write mappings that may be written now, by table name:
// not loading or aborted, and not orphaned or BAD_CONFIG (their changes wait in the queue). It asks
// Salesforce nothing: objects are described only when a batch has changes for them (describe).
func (w *writer) writables(ctx context.Context, c connection.Connection) (map[string]*writable, error) {
	ms, err := mapping.List(ctx, w.s.e.opts.Pool, c.ID)
	if err != nil {
		return nil, err
	}
	out := map[string]*writable{}
	for _, m := range ms {
		if m.Config.Access != mapping.ReadWrite || m.State.Loading() || m.State == mapping.Aborted || heldBack(m) {
			continue
		}
		out[m.Table] = &writable{m: m}
	}
	return out, nil
}

// heldBack reports whether a mapping's changes wait in the queue until an admin fixes or removes it:
// orphaned or BAD_CONFIG. Nothing else waits for them (a recovery is over without them).
func heldBack(m mapping.Mapping) bool { return m.State == mapping.BadConfig || m.OrphanedAt != nil }

// describeMaxAge is how long the writer trusts an object's describe: an idle read-write mapping
// costs no API call, a busy one about one describe per object every few minutes.
const describeMaxAge = 5 * time.Minute

type describedObject struct {
	obj        mapping.Object
	apiVersion string
	at         time.Time
}

// describe gives the batch's tables their fields from their objects' describe (cached for
// describeMaxAge, and refreshed sooner when a mapping names a field the cached describe lacks) and
// returns the changes to send. A table whose object is gone from Salesforce is orphaned and its
// changes go back to the queue; the rest of the batch is written.
func (w *writer) describe(ctx context.Context, org orgclient.Org, c connection.Connection, tables map[string]*writable, batch []*change) ([]*change, error) {
	e := w.s.e
	if w.described == nil {
		w.described = map[string]describedObject{}
	}
	gone := map[string]bool{}
	var listed map[string]bool // the org's objects, listed once a describe says one is missing
	for _, ch := range batch {
		wt := tables[ch.table]
		if wt == nil || wt.described || gone[ch.table] {
			continue
		}
		key := strings.ToLower(wt.m.Object)
		d, ok := w.described[key]
		if !ok || d.apiVersion != c.APIVersion || e.opts.Now().Sub(d.at) > describeMaxAge || !describes(d.obj, wt.m) {
			obj, err := org.Describe(ctx, wt.m.Object)
			if orgclient.ObjectGone(err, wt.m.Object, true) {
				delete(w.described, key)
				if listed == nil {
					// A describe's 404 can also mean a wrong API path: the object list confirms it.
					if listed, err = objectNames(ctx, org); err != nil {
						return nil, err
					}
				}
				if !listed[key] {
					w.log.Warn("the object of a read-write mapping is gone from Salesforce; its writes wait", "object", wt.m.Object)
					if err := schemacheck.MarkOrphan(ctx, e.opts.Pool, wt.m); err != nil {
						return nil, err
					}
					gone[ch.table] = true
					continue
				}
				err = fmt.Errorf("listed by Salesforce, yet: %w", err)
			}
			if err != nil {
				return nil, fmt.Errorf("describe %s: %w", wt.m.Object, err)
			}
			d = describedObject{obj: obj, apiVersion: c.APIVersion, at: e.opts.Now()}
			w.described[key] = d
		}
		wt.fields, wt.obj, wt.described = newFieldMap(wt.m, d.obj), d.obj, true
	}
	send := batch
	if len(gone) > 0 {
		send = nil
		for _, ch := range batch {
			if gone[ch.table] {
				ch.outcome = triggerlog.Release
				continue
			}
			send = append(send, ch)
		}
	}
	return send, nil
}

// objectNames lists the org's objects by lower-case name (describe global).
func objectNames(ctx context.Context, org orgclient.Org) (map[string]bool, error) {
	objects, err := org.Objects(ctx)
	if err != nil {
		return nil, fmt.Errorf("list objects: %w", err)
	}
	names := map[string]bool{}
	for _, o := range objects {
		names[strings.ToLower(o.Name)] = true
	}
	return names, nil
}

// forgetRefused drops the cached describe of objects that refused a field: the field may be gone
// or no longer writable, and the next batch should not send it again.
func (w *writer) forgetRefused(tables map[string]*writable, sent []*change) {
	for _, ch := range sent {
		if wt := tables[ch.table]; wt != nil && ch.outcome.To == triggerlog.Failed && strings.Contains(ch.message, "INVALID_FIELD") {
			delete(w.described, strings.ToLower(wt.m.Object))
		}
	}
}

// describes reports whether a describe has every field a mapping applies (a field added in
// Salesforce and then mapped is not in an older describe).
func describes(obj mapping.Object, m mapping.Mapping) bool {
	for _, af := range m.AppliedFields {
		if strings.Contains(af.Name, ".") {
			continue
		}
		if _, ok := obj.Field(af.Name); !ok {
			return false
		}
	}
	return true
}

// step claims a batch of captured changes, writes them and records the outcome, and goes on with
// the batches after it while they come full, overlapping (writer_stream.go). more reports that a
// full batch was claimed last (there may be more waiting).
func (w *writer) step(ctx context.Context) (more bool, err error) {
	e := w.s.e
	w.inFlight.Store(true)
	defer func() {
		w.inFlight.Store(false)
		w.s.finishPausing(context.WithoutCancel(ctx))
	}()
	for len(w.unrecorded) > 0 {
		if err := w.record(ctx, w.unrecorded[0]); err != nil {
			return false, err
		}
		w.unrecorded = w.unrecorded[1:]
	}
	if w.inDoubt {
		if err := w.releaseInDoubt(ctx); err != nil {
			return false, err
		}
		w.inDoubt = false
	}
	if !w.s.currentConn().State.Syncing() {
		return false, nil
	}
	org, err := w.s.openOrg(ctx)
	if err != nil {
		return false, err
	}
	first, err := w.prepare(ctx, org)
	if err != nil || first == nil {
		return false, err
	}
	c := first.c
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
	return w.stream(ctx, org, first)
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
		claimed, err := triggerlog.ClaimBatch(ctx, tx, c.Schema, tables, e.opts.WriteBatch)
		if err != nil {
			return nil, err
		}
		batch := make([]*change, len(claimed))
		for i, cl := range claimed {
			batch[i] = &change{id: cl.ID, action: cl.Action, table: cl.Table, recordID: cl.RecordID, sfid: cl.SFID, values: cl.Values, old: cl.Old, captured: cl.CapturedAt}
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
