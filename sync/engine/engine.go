// Package engine is pgforce's sync runtime: it keeps each connection's mapped tables in step with its
// Salesforce org. A supervisor runs a syncer for every connection whose lease this instance holds
// (exactly one instance syncs a connection at a time); a syncer runs a worker per mapping (loads,
// polls, backfills), a writer (the trigger log to Salesforce) and a change-event stream. The
// administration (package admin) changes connections and mappings through the database and tells
// the runtime with a notification.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgxlisten"
	"golang.org/x/sync/errgroup"

	"pgforce/internal/keyring"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/schemacheck"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
	"pgforce/sync/testsignal"
)

// Defaults.
const (
	DefaultTick = 2 * time.Second
	// DefaultPollBatchWindow is how long a due poll waits to share its call with the others.
	DefaultPollBatchWindow = 200 * time.Millisecond
	// DefaultSafetyPollEvery is how often a streaming mapping polls anyway.
	DefaultSafetyPollEvery = 10 * time.Minute
	DefaultBulkThreshold   = 10000 // records above which loads use the Bulk API, as Heroku Connect does
	DefaultOverlap         = 60 * time.Second
)

// Options configure the engine.
type Options struct {
	Pool     *pgxpool.Pool
	Keyring  *keyring.Keyring
	Orgs     orgclient.Orgs
	Log      *slog.Logger
	Instance string        // unique name of this process for leases; generated when empty
	LeaseTTL time.Duration // default lease.DefaultTTL
	Tick     time.Duration // how often leases are renewed and idle work re-checked
	// RetryUnit scales the backoff after failures: the n-th retry waits about RetryUnit·2^n, at most
	// 120 units (default DefaultRetryUnit; tests shorten it so retries do not cost them seconds).
	RetryUnit time.Duration
	// BulkThreshold: loads of more records use the Bulk API.
	BulkThreshold int
	// Overlap is how far back each poll re-reads, so records committed late with an earlier
	// SystemModstamp are never missed.
	Overlap time.Duration
	// PollInterval overrides every mapping's polling interval (tests, benchmarks); 0 = the mapping's.
	PollInterval time.Duration
	// WriteConcurrency is how many write calls (collections, Bulk jobs) a connection keeps in flight
	// at most; fewer while Salesforce asks to slow down (default DefaultWriteConcurrency; 1: one at a time).
	WriteConcurrency int
	// WriteBatch is how many trigger-log rows the writer claims per round (default DefaultWriteBatch).
	WriteBatch int
	// PollBatchWindow is how long a due poll waits for the connection's other due polls, to read
	// them all in one API call (default DefaultPollBatchWindow; negative: every poll alone).
	PollBatchWindow time.Duration
	// SafetyPollEvery is how often an accelerated mapping whose change events stream polls anyway,
	// as a safety net (change events make it poll at once); default DefaultSafetyPollEvery, and
	// never more often than its polling interval.
	SafetyPollEvery time.Duration
	// ArchiveAfter is how long processed trigger-log rows stay before moving to the archive.
	ArchiveAfter time.Duration
	// ArchiveEvery is how often the archive job runs (default 1 minute).
	ArchiveEvery time.Duration
	// CountCheckEvery is how often a syncing mapping's counts are compared with Salesforce's (after
	// a poll, at most this often; default DefaultCountCheckEvery).
	CountCheckEvery time.Duration
	// SchemaCheckEvery is how often a syncer compares its mappings with the org's describe (orphans,
	// field drift; default schemacheck.Interval).
	SchemaCheckEvery time.Duration
	Now              func() time.Time
	// Signals tell tests what the runtime did; zero (every signal nil) in production.
	Signals Signals
}

// Signals are the runtime's test hooks (package testsignal): tests wait on them instead of sleeping,
// and a round that happened proves that nothing was done in it.
type Signals struct {
	LeaseAcquired *testsignal.Signal[int64] // a connection's id, when this instance starts syncing it
	LoadFinished  *testsignal.Signal[int64] // a mapping's id, when its (re)load committed
	PollDone      *testsignal.Signal[int64] // a mapping's id, when a poll committed
	WorkerRound   *testsignal.Signal[int64] // a mapping's id, after each step of its worker, idle or not
	WriterRound   *testsignal.Signal[int64] // a connection's id, after each round of its writer, idle or not
	BatchRecorded *testsignal.Signal[int]   // a write batch's size, when its outcome is stored
	// VerificationDone: a verification's id, when its comparison or repair ended (whatever the outcome).
	VerificationDone *testsignal.Signal[int64]
	CountChecked     *testsignal.Signal[int64] // a mapping's id, when a count check was stored
	SchemaChecked    *testsignal.Signal[int64] // a connection's id, when a periodic schema check completed
}

// Engine runs syncers for the connections whose lease it holds.
type Engine struct {
	opts   Options
	log    *slog.Logger
	leases *lease.Manager

	mu      sync.Mutex
	syncers map[int64]*syncer
	// handing lists the connections this instance is giving to another (its fair share is smaller
	// now): their syncer stops, then the lease is released; meanwhile they are not taken again.
	handing map[int64]bool
	// dbDownSince is when the database stopped answering (zero while it answers): the outage is
	// recorded on each connection as DB_UNAVAILABLE once it can be written again.
	dbDownSince time.Time
	wake        chan struct{}

	runner // Start and Stop: the notification listener and the supervisor
}

// New returns an engine; Start runs it.
func New(opts Options) *Engine {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Instance == "" {
		opts.Instance = lease.HolderName()
	}
	if opts.Tick <= 0 {
		opts.Tick = DefaultTick
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = lease.DefaultTTL
	}
	if opts.RetryUnit <= 0 {
		opts.RetryUnit = DefaultRetryUnit
	}
	if opts.BulkThreshold <= 0 {
		opts.BulkThreshold = DefaultBulkThreshold
	}
	if opts.Overlap <= 0 {
		opts.Overlap = DefaultOverlap
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ArchiveEvery <= 0 {
		opts.ArchiveEvery = time.Minute
	}
	if opts.WriteConcurrency <= 0 {
		opts.WriteConcurrency = DefaultWriteConcurrency
	}
	if opts.WriteBatch <= 0 {
		opts.WriteBatch = DefaultWriteBatch
	}
	if opts.PollBatchWindow == 0 {
		opts.PollBatchWindow = DefaultPollBatchWindow
	}
	if opts.SafetyPollEvery <= 0 {
		opts.SafetyPollEvery = DefaultSafetyPollEvery
	}
	if opts.CountCheckEvery <= 0 {
		opts.CountCheckEvery = DefaultCountCheckEvery
	}
	if opts.SchemaCheckEvery <= 0 {
		opts.SchemaCheckEvery = schemacheck.Interval
	}
	return &Engine{
		opts:    opts,
		log:     opts.Log.With("instance", opts.Instance),
		leases:  lease.New(opts.Pool, opts.Instance, opts.LeaseTTL),
		syncers: map[int64]*syncer{},
		handing: map[int64]bool{},
		wake:    make(chan struct{}, 1),
	}
}

// Instance is this engine's lease holder name.
func (e *Engine) Instance() string { return e.opts.Instance }

// Start runs the engine in the background until Stop or until ctx ends.
func (e *Engine) Start(ctx context.Context) error {
	return e.start(ctx, func(ctx context.Context, g *errgroup.Group) {
		listener := e.listener(connection.NotifyChannel, "listen for notifications", func(n *pgconn.Notification) { e.dispatch(n.Payload) })
		g.Go(func() error { _ = listener.Listen(ctx); return nil })
		g.Go(func() error { e.supervise(ctx); return nil })
	})
}

// listener listens on a channel with a connection of its own, taken out of the pool for good.
func (e *Engine) listener(channel, what string, on func(*pgconn.Notification)) *pgxlisten.Listener {
	l := &pgxlisten.Listener{
		Connect: func(ctx context.Context) (*pgx.Conn, error) {
			c, err := e.opts.Pool.Acquire(ctx)
			if err != nil {
				return nil, err
			}
			return c.Hijack(), nil
		},
		LogError:       func(_ context.Context, err error) { e.logTransient(what, err) },
		ReconnectDelay: time.Second,
	}
	l.Handle(channel, pgxlisten.HandlerFunc(func(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
		on(n)
		return nil
	}))
	return l
}

// Stop (promoted from runner) stops every syncer, releases leases so another instance can take over
// at once, and returns when every goroutine of the engine has ended. It is safe to call more than
// once, and before Start.

// supervise keeps a syncer running for every connection whose lease this instance holds.
func (e *Engine) supervise(ctx context.Context) {
	ticker := time.NewTicker(e.opts.Tick)
	defer ticker.Stop()
	for {
		e.reconcile(ctx)
		select {
		case <-ctx.Done():
			e.stopAll()
			return
		case <-ticker.C:
		case <-e.wake:
		}
	}
}

func (e *Engine) reconcile(ctx context.Context) {
	conns, err := connection.List(ctx, e.opts.Pool)
	if err != nil {
		e.logTransient("list connections", err)
		if failure.Transient(err) && e.dbDownSince.IsZero() && ctx.Err() == nil {
			e.dbDownSince = e.opts.Now()
			e.log.Warn("the database is unreachable; syncing resumes when it answers again", "err", err)
		}
		e.stopStale()
		return
	}
	if !e.dbDownSince.IsZero() {
		e.recordOutage(ctx, conns)
		if conns, err = connection.List(ctx, e.opts.Pool); err != nil {
			return
		}
	}
	share := e.fairShare(ctx, conns)
	e.mu.Lock()
	mine := len(e.syncers)
	e.mu.Unlock()
	live := map[int64]bool{}
	for _, c := range conns {
		live[c.ID] = true
		if c.State == connection.New {
			continue // nothing to sync before authorization
		}
		e.mu.Lock()
		s, handing := e.syncers[c.ID], e.handing[c.ID]
		e.mu.Unlock()
		if handing || (s == nil && mine >= share) {
			continue // being handed over, or this instance has its share: another one takes it
		}
		held, err := e.leases.TryAcquire(ctx, c.ID)
		if err != nil {
			e.logTransient("renew lease", err)
			continue
		}
		e.mu.Lock()
		switch {
		case held && s == nil:
			mine++
			s = newSyncer(e, c.ID)
			e.syncers[c.ID] = s
			e.opts.Signals.LeaseAcquired.Fire(c.ID)
			e.log.Info("syncing connection", "connection", c.Name, "schema", c.Schema)
			if err := s.Start(ctx); err != nil {
				e.log.Error("start syncer", "err", err)
			}
		case held:
			s.renewed(e.opts.Now())
			s.poke(0)
		case s != nil:
			e.log.Warn("lost the lease; another instance syncs this connection now", "connection", c.Name)
			mine--
			delete(e.syncers, c.ID)
			e.goStop(s)
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	for id, s := range e.syncers {
		if !live[id] {
			delete(e.syncers, id)
			e.goStop(s)
		}
	}
	handed := e.handOver(len(e.syncers) - share)
	e.mu.Unlock()
	for _, h := range handed {
		e.goStop(h)
	}
	e.stopStale()
}

// fairShare is how many connections this instance should hold: its share among the live instances
// (lease.Share), which each announce themselves here every round. When that cannot be known, as
// many as it can get.
func (e *Engine) fairShare(ctx context.Context, conns []connection.Connection) int {
	syncable := 0
	for _, c := range conns {
		if c.State != connection.New {
			syncable++
		}
	}
	instances, err := e.leases.Announce(ctx)
	if err != nil {
		e.logTransient("announce this instance", err)
		return syncable
	}
	return lease.Share(syncable, instances)
}

// handOver gives n of this instance's connections (the newest) to the others: each one's syncer
// stops, then its lease is released at once, and an instance under its share takes it at its next
// round. It returns what to stop, for after e.mu (held) is released.
func (e *Engine) handOver(n int) []stopFunc {
	if n <= 0 {
		return nil
	}
	var out []stopFunc
	ids := slices.Sorted(maps.Keys(e.syncers))
	for _, id := range ids[len(ids)-n:] {
		s := e.syncers[id]
		delete(e.syncers, id)
		e.handing[id] = true
		e.log.Info("handing a connection over to another instance (fair share)", "connection_id", id)
		out = append(out, stopFunc(func() {
			s.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.leases.Release(ctx, id); err != nil {
				e.log.Warn("release lease", "err", err) // it expires instead
			}
			e.mu.Lock()
			delete(e.handing, id)
			e.mu.Unlock()
		}))
	}
	return out
}

// stopFunc is a Stop for goStop.
type stopFunc func()

func (f stopFunc) Stop() { f() }

// stopStale stops syncers whose lease could not be renewed for most of its lifetime: by the time it
// expires and another instance takes over, this one has stopped.
// recordOutage writes a database outage into each syncing connection's history: DB_UNAVAILABLE for
// the time it lasted, then RECOVERY, which catches up on what changed meanwhile on both sides.
func (e *Engine) recordOutage(ctx context.Context, conns []connection.Connection) {
	from, to := e.dbDownSince, e.opts.Now()
	reason := fmt.Sprintf("The database could not be reached from %s to %s (%s); reconnected automatically.",
		from.UTC().Format(time.TimeOnly), to.UTC().Format(time.TimeOnly), to.Sub(from).Round(time.Second))
	for _, c := range conns {
		if !connection.LoseDatabase.Allowed(c.State) {
			continue
		}
		err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
			if _, err := connection.Apply(ctx, tx, c.ID, connection.LoseDatabase, reason); err != nil {
				return err
			}
			_, err := connection.Apply(ctx, tx, c.ID, connection.RegainDatabase, "Database reachable again: catching up on changes made meanwhile.")
			return err
		})
		if err != nil && !failure.Is(err, failure.Conflict) {
			e.logTransient("record database outage", err)
			return // still flaky: try again next round
		}
	}
	e.log.Info("the database answers again", "down", to.Sub(from).Round(time.Millisecond))
	e.dbDownSince = time.Time{}
}

func (e *Engine) stopStale() {
	limit := e.opts.LeaseTTL * 7 / 10
	now := e.opts.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, s := range e.syncers {
		if now.Sub(s.lastRenewed()) > limit {
			e.log.Warn("cannot renew lease; stopping sync of this connection", "connection_id", id)
			delete(e.syncers, id)
			e.goStop(s)
		}
	}
}

func (e *Engine) stopAll() {
	e.mu.Lock()
	syncers := e.syncers
	e.syncers = map[int64]*syncer{}
	e.mu.Unlock()
	var wg sync.WaitGroup
	for id, s := range syncers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Stop()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := e.leases.Release(ctx, id); err != nil {
				e.log.Warn("release lease", "err", err)
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.leases.Leave(ctx); err != nil {
		e.log.Warn("leave", "err", err)
	}
}

// dispatch routes a notification: "conn:ID" wakes a connection's syncer, "mapping:CONN:ID" a mapping.
func (e *Engine) dispatch(payload string) {
	select {
	case e.wake <- struct{}{}:
	default:
	}
	connID, mappingID, ok := connection.ParseNotice(payload)
	if !ok {
		return
	}
	e.mu.Lock()
	s := e.syncers[connID]
	e.mu.Unlock()
	if s != nil {
		s.poke(mappingID)
	}
}

// logTransient logs errors expected during outages at warn level.
func (e *Engine) logTransient(what string, err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	e.log.Warn(what, "err", err)
}

// leaseRetry is how soon work refused for want of the lease is tried again. Another instance syncs
// now, or this one is renewing late: the syncer sorts the lease out, so retry soon rather than after
// a backoff grown by earlier failures.
func (e *Engine) leaseRetry() time.Duration { return e.leases.TTL() / 4 }

// DefaultRetryUnit is the backoff's unit in production: retries after 2, 4, 8 … seconds.
const DefaultRetryUnit = time.Second

// backoff returns a jittered exponential delay: 2^n units ±10%, capped at 120 units (2 minutes
// with the default unit).
func (e *Engine) backoff(attempt int) time.Duration {
	if attempt > 7 {
		attempt = 7
	}
	unit := e.opts.RetryUnit
	d := time.Duration(1<<attempt) * unit
	if d > 120*unit {
		d = 120 * unit
	}
	jitter := time.Duration(rand.Int64N(int64(d) / 5))
	return d - d/10 + jitter
}
