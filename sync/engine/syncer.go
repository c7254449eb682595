package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
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
	"pgforce/sync/triggerlog"
)

// syncer syncs one connection while this instance holds its lease: it runs a worker per mapping, owns
// the connection's org client, and moves the connection out of RECOVERY once every mapping caught up.
type syncer struct {
	e      *Engine
	connID int64
	log    *slog.Logger

	runner    // Start and Stop: the step loop, then the writer, the stream and the workers it started
	wakeCh    chan struct{}
	renewedAt atomic.Int64

	mu      sync.Mutex
	workers map[int64]*worker
	org     orgclient.Org
	conn    connection.Connection

	nextSchemaCheck time.Time
	// seenConn and seenMappings are what the last step read (step's goroutine only).
	seenConn     *connection.Connection
	seenMappings map[int64]workerView
	// schemaSince is when the last complete schema check began, less the polls' overlap (a margin
	// for the clocks of pgforce and Salesforce; zero: none yet): the next one asks only for metadata
	// changed after it.
	schemaSince time.Time
	writer      *writer
	stream      *loop     // the change-event subscription (stream.go)
	verifier    *verifier // verifications and repairs (verify.go)
	orgAuthAt   time.Time // the authorization the open org client uses
	savedUsage  [2]int    // API usage (used, max) last stored by saveUsage
	tables      tableLocks
	streamWake  chan struct{}           // mappings changed: the change-event subscription may need to change
	streamNotes []orgclient.StreamEvent // subscription outcomes for the stream loop to record (guarded by mu)
	pubsubDown  atomic.Bool             // the Pub/Sub API's unavailability is in the mappings' history
	polls       pollBatch               // the polls due together, sent as one call (poll_batch.go)
	streaming   map[string]bool         // objects whose change events stream now, lower-case (guarded by mu)
}

func newSyncer(e *Engine, connID int64) *syncer {
	s := &syncer{e: e, connID: connID, log: e.log.With("connection_id", connID),
		wakeCh: make(chan struct{}, 1), streamWake: make(chan struct{}, 1), workers: map[int64]*worker{},
		polls: pollBatch{window: e.opts.PollBatchWindow}}
	s.verifier = newVerifier(s)
	s.renewed(e.opts.Now())
	return s
}

func (s *syncer) renewed(t time.Time) { s.renewedAt.Store(t.UnixNano()) }

func (s *syncer) lastRenewed() time.Time { return time.Unix(0, s.renewedAt.Load()) }

// Start runs the syncer until Stop or until ctx ends.
func (s *syncer) Start(ctx context.Context) error {
	return s.start(ctx, func(ctx context.Context, g *errgroup.Group) {
		g.Go(func() error { s.run(ctx); return nil })
	})
}

// stopChildren stops what the step loop started, once it has returned.
func (s *syncer) stopChildren() {
	s.mu.Lock()
	workers := make([]*worker, 0, len(s.workers))
	for _, w := range s.workers {
		workers = append(workers, w)
	}
	s.mu.Unlock()
	for _, w := range workers {
		w.Stop()
	}
	if s.writer != nil {
		s.writer.Stop()
	}
	if s.stream != nil {
		s.stream.Stop()
	}
	s.verifier.Stop()
}

// wakeStream makes the change-event loop look at the mappings again now.
func (s *syncer) wakeStream() {
	select {
	case s.streamWake <- struct{}{}:
	default:
	}
}

// poke wakes the syncer (mappingID 0) or one mapping's worker.
func (s *syncer) poke(mappingID int64) {
	s.wakeStream()
	s.verifier.poke()
	if mappingID == 0 {
		select {
		case s.wakeCh <- struct{}{}:
		default:
		}
		return
	}
	s.mu.Lock()
	w := s.workers[mappingID]
	s.mu.Unlock()
	if w != nil {
		w.poke()
	} else {
		s.poke(0)
	}
}

func (s *syncer) run(ctx context.Context) {
	defer s.stopChildren()
	attempt := 0
	for {
		delay := s.e.opts.Tick
		err := s.step(ctx)
		if c := s.currentConn(); s.writer == nil && c.Schema != "" {
			// The writer drains the trigger log and the stream follows change events; both run for
			// the syncer's lifetime.
			s.writer = newWriter(s, c.Schema)
			s.stream = &loop{run: s.runStream}
			if err := cmp.Or(s.writer.Start(ctx), s.stream.Start(ctx), s.verifier.Start(ctx)); err != nil {
				s.log.Error("start the writer, the stream and the verifier", "err", err)
			}
		}
		if err != nil && ctx.Err() == nil {
			s.e.logTransient("sync connection", err)
			delay = s.e.backoff(attempt)
			attempt++
		} else {
			attempt = 0
		}
		select {
		case <-ctx.Done():
			return
		case <-s.wakeCh:
		case <-time.After(delay):
		}
	}
}

// step refreshes the connection, keeps one worker per mapping, and finishes a recovery.
func (s *syncer) step(ctx context.Context) error {
	c, err := connection.Load(ctx, s.e.opts.Pool, s.connID)
	if err != nil {
		return err
	}
	s.mu.Lock()
	authChanged := c.AuthorizedAt != nil && (s.conn.AuthorizedAt == nil || !c.AuthorizedAt.Equal(*s.conn.AuthorizedAt))
	if authChanged || c.APIVersion != s.conn.APIVersion {
		s.org = nil // new tokens or API version: reopen the client
	}
	s.conn = c
	s.mu.Unlock()
	s.saveUsage(ctx)

	ms, err := mapping.ListStates(ctx, s.e.opts.Pool, s.connID)
	if err != nil {
		return err
	}
	live := map[int64]bool{}
	// A worker looks at its mapping again when the connection or its mapping changed since the last
	// step (an admin's change also pokes it directly); the others sleep until their next poll is
	// due. Waking every worker at every step costs a read of each mapping per step, which at a
	// thousand mappings keeps the database busy, and makes creating each mapping cost as many.
	connChanged := s.seenConn == nil || !sameConnState(*s.seenConn, c)
	s.seenConn = &c
	seen := make(map[int64]workerView, len(ms))
	s.mu.Lock()
	for _, m := range ms {
		live[m.ID] = true
		seen[m.ID] = viewOf(m)
		if w, ok := s.workers[m.ID]; ok {
			if prev, ok := s.seenMappings[m.ID]; connChanged || !ok || prev.changedTo(seen[m.ID]) {
				w.poke()
			}
			continue
		}
		w := newWorker(s, m.ID, m.Object)
		s.workers[m.ID] = w
		if err := w.Start(ctx); err != nil {
			s.log.Error("start worker", "err", err)
		}
	}
	for id, w := range s.workers {
		if !live[id] {
			s.goStop(w) // its operation ends at its next check of the context
			delete(s.workers, id)
		}
	}
	s.mu.Unlock()
	s.seenMappings = seen

	if c.State.Syncing() && !s.e.opts.Now().Before(s.nextSchemaCheck) {
		began := s.e.opts.Now()
		org, err := s.openOrg(ctx)
		if err == nil {
			err = schemacheck.RunSince(ctx, s.e.opts.Pool, org, c, s.schemaSince)
		}
		if failure.Is(err, failure.Unauthenticated) {
			s.loseAuth(ctx, err)
		} else if err != nil {
			s.e.logTransient("check mappings against Salesforce", err)
		}
		if err == nil {
			s.nextSchemaCheck = s.e.opts.Now().Add(s.e.opts.SchemaCheckEvery)
			s.schemaSince = began.Add(-s.e.opts.Overlap)
			s.e.opts.Signals.SchemaChecked.Fire(c.ID)
		} else {
			s.nextSchemaCheck = s.e.opts.Now().Add(time.Minute)
		}
	}
	if c.State == connection.Recovery {
		return s.finishRecovery(ctx, c, ms)
	}
	if c.State == connection.Busy {
		s.finishPausing(ctx)
	}
	return nil
}

// workerView is what the syncer's step last saw of a mapping, to wake its worker only when it changed.
type workerView struct {
	state      mapping.State
	updatedAt  time.Time
	revision   int
	action     mapping.Action
	nextPollAt time.Time
}

func viewOf(m mapping.Mapping) workerView {
	v := workerView{state: m.State, updatedAt: m.UpdatedAt, revision: m.Revision, action: m.RequestedAction}
	if m.NextPollAt != nil {
		v.nextPollAt = *m.NextPollAt
	}
	return v
}

// changedTo reports whether the worker should look at its mapping again: anything but a poll it
// stored itself (which only moves the next poll later).
func (v workerView) changedTo(now workerView) bool {
	return v.state != now.state || !v.updatedAt.Equal(now.updatedAt) || v.revision != now.revision || v.action != now.action ||
		now.nextPollAt.Before(v.nextPollAt)
}

// sameConnState reports whether nothing changed in the connection between two reads (nothing in its
// row changes in the ordinary course of syncing: its state, settings, authorization do).
func sameConnState(a, b connection.Connection) bool { return reflect.DeepEqual(a, b) }

// finishPausing moves a pausing (BUSY) connection to PAUSED once no write batch is in flight. A
// claim after the pause committed sees BUSY and takes nothing, so a clear writer stays clear.
func (s *syncer) finishPausing(ctx context.Context) {
	if s.currentConn().State != connection.Busy || (s.writer != nil && s.writer.inFlight.Load()) {
		return
	}
	err := store.Tx(ctx, s.e.opts.Pool, func(tx pgx.Tx) error {
		_, err := connection.Apply(ctx, tx, s.connID, connection.FinishPausing, "the work in flight is done")
		return err
	})
	if err != nil && !failure.Is(err, failure.Conflict) {
		s.e.logTransient("finish pausing", err)
	}
}

// finishRecovery moves the connection to IDLE once it caught up (Recovered's preconditions: every
// syncing mapping polled since the recovery began and no database change waits to be written).
func (s *syncer) finishRecovery(ctx context.Context, c connection.Connection, ms []mapping.Mapping) error {
	var written []string
	for _, m := range ms {
		if m.Config.Access == mapping.ReadWrite && !heldBack(m) {
			written = append(written, m.Table)
		}
	}
	return store.Tx(ctx, s.e.opts.Pool, func(tx pgx.Tx) error {
		_, err := connection.Apply(ctx, tx, c.ID, connection.Recovered.With(triggerlog.WritesDone(c.Schema, written)), "caught up")
		if failure.Is(err, failure.Conflict) {
			return nil // not caught up yet, or someone paused or failed it meanwhile
		}
		return err
	})
}

// currentConn returns the connection as last read.
func (s *syncer) currentConn() connection.Connection {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conn
}

// openOrg returns the connection's org client, opening it from the stored tokens when needed. The
// connection is read again with its tokens, so the client knows exactly which authorization it uses.
func (s *syncer) openOrg(ctx context.Context) (orgclient.Org, error) {
	s.mu.Lock()
	org := s.org
	s.mu.Unlock()
	if org != nil {
		return org, nil
	}
	c, err := connection.Load(ctx, s.e.opts.Pool, s.connID)
	if err != nil {
		return nil, err
	}
	tokens, err := connection.LoadTokens(ctx, s.e.opts.Pool, s.e.opts.Keyring, c.ID)
	if err != nil {
		return nil, err
	}
	if tokens.AccessToken == "" && tokens.RefreshToken == "" {
		return nil, failure.E(failure.Unauthenticated, "the connection has no Salesforce tokens; authorize it")
	}
	org, err = s.e.opts.Orgs.Open(ctx, c, tokens, func(ctx context.Context, access, refresh string) error {
		return store.Tx(ctx, s.e.opts.Pool, func(tx pgx.Tx) error {
			return connection.SaveTokens(ctx, tx, s.e.opts.Keyring, c.ID, connection.Tokens{AccessToken: access, RefreshToken: refresh})
		})
	})
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.AuthorizedAt != nil && c.AuthorizedAt.Before(s.orgAuthAt) {
		return nil, failure.E(failure.Unavailable, "authorization changed while opening the client")
	}
	s.org = org
	if c.AuthorizedAt != nil {
		s.orgAuthAt = *c.AuthorizedAt
	}
	return org, nil
}

// loseAuth records that Salesforce refused the tokens: the connection waits for re-authorization.
func (s *syncer) loseAuth(ctx context.Context, cause error) {
	s.mu.Lock()
	s.org = nil
	usedAuth := s.orgAuthAt
	s.mu.Unlock()
	// A client opened before a re-authorization fails with the old tokens: that says nothing about
	// the new ones (a precondition of the transition).
	err := store.Tx(ctx, s.e.opts.Pool, func(tx pgx.Tx) error {
		_, err := connection.Apply(ctx, tx, s.connID, connection.LoseAuth.With(connection.AuthorizedNoLaterThan(usedAuth)), failure.Message(cause))
		return err
	})
	if err != nil && !failure.Is(err, failure.Conflict) {
		s.e.logTransient("record lost authorization", err)
	}
	s.mu.Lock()
	if s.conn.AuthorizedAt == nil || !s.conn.AuthorizedAt.After(usedAuth) {
		s.conn.State = connection.NeedAuthentication // workers stop at once, not at the next refresh
	}
	s.mu.Unlock()
	s.log.Warn("Salesforce refused the connection's tokens; waiting for re-authorization", "err", cause)
}

// fail records an unexpected error that stops the connection (SYSTEM_ERROR) until an admin recovers.
func (s *syncer) fail(ctx context.Context, reason string) {
	err := store.Tx(ctx, s.e.opts.Pool, func(tx pgx.Tx) error {
		_, err := connection.Apply(ctx, tx, s.connID, connection.Fail, reason)
		return err
	})
	if err != nil && !failure.Is(err, failure.Conflict) {
		s.e.logTransient("record connection failure", err)
	}
	s.mu.Lock()
	s.conn.State = connection.SystemError
	s.mu.Unlock()
}

// retriable reports whether work that failed with err is tried again as it is: a passing outage or
// limit (failure.Transient), or a lease this instance was only slow to renew. A lost lease is
// nobody's fault: the supervisor either takes it again or stops this syncer because another instance
// took over.
func retriable(err error) bool {
	return failure.Transient(err) || errors.Is(err, lease.ErrLost)
}

// givesUp is the one rule by which the writer and the mapping workers stop retrying work that failed
// attempts times in a row with err: never while it is retriable; at once when the error says what is
// wrong (invalid, missing, conflicting, forbidden: trying again cannot help); after three attempts
// when it is unexpected, which may be a fluke.
func givesUp(err error, attempts int) bool {
	if retriable(err) {
		return false
	}
	if failure.KindOf(err) == failure.Internal {
		return attempts >= 3
	}
	return true
}

var errAborted = fmt.Errorf("operation aborted")
