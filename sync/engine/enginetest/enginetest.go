// Package enginetest is the one harness for tests of the sync runtime and of the surfaces built on it
// (administration, CLI, API, metrics, diagnose): a fresh migrated schema in the test database, a
// simulated Salesforce org on a loopback port, the administration, and one connection authorized
// against the org. The engine runs unless NoStart is set (then nothing syncs behind a test's back and
// states can be arranged exactly).
package enginetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
	"pgforce/sync/testsignal"
)

// Admin is the actor tests act as.
var Admin = audit.Actor{Name: "admin@example.com", Kind: audit.ActorUser}

// Harness is the runtime and the administration over real Postgres and a simulated org.
type Harness struct {
	T         testing.TB
	Ctx       context.Context
	Pool      *pgxpool.Pool // the tests' pool (never through the proxy)
	AppSchema string        // pgforce's own schema
	Schema    string        // the connection's schema
	Keyring   *keyring.Keyring
	Key       []byte
	Org       *sforg.Org
	Srv       *httptest.Server
	Engine    *engine.Engine
	Options   engine.Options
	Admin     *admin.Service
	Conn      connection.Connection // authorized
	Proxy     *DBProxy              // with ViaProxy
	PubSub    *sforg.PubSubServer   // with PubSub
}

// Options for New. The runtime's timings are the tests' (a 50 ms tick, a 2 s lease, polls every
// 300 ms re-reading a 1 s overlap, retries after 0.5, 1, 2 … s); the fields below change what a test
// needs changed.
type Options struct {
	Seed     int64         // the simulated org's demo data (0 = none)
	Org      sforg.Options // the simulated org's options (Seed above wins when set)
	NoStart  bool          // do not run the sync loops
	Instance string        // the engine's lease holder name
	// PollInterval and Overlap override the 300 ms polling interval and the 1 s overlap window.
	PollInterval, Overlap time.Duration
	// ViaProxy connects the engine and the administration (not the test) to Postgres through a proxy
	// the test can cut.
	ViaProxy bool
	// LogTo receives the engine's log instead of the test log (fuzz targets must not log through
	// *testing.F; tests that inspect the log capture it). Debug logs at debug level.
	LogTo io.Writer
	Debug bool
	// WriteBatch is how many trigger-log rows the writer claims per round: 0 is 2,000, the batch the
	// writer tests are written for (production claims engine.DefaultWriteBatch).
	WriteBatch int
	// PubSub serves the org's Pub/Sub API and tells the engine where (without it the org offers
	// none, and accelerated mappings stream over CometD).
	PubSub bool
}

// Orgs is the simulated org's connected app for every connection.
func Orgs() orgclient.SalesforceOrgs {
	return orgclient.SalesforceOrgs{App: func(connection.Connection) orgclient.ConnectedApp {
		return orgclient.ConnectedApp{ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
	}}
}

// New builds the harness; everything it made is removed when the test ends.
func New(t testing.TB, o Options) *Harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pool, app := storetest.Pool(t)
	key := bytes.Repeat([]byte{7}, 32)
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	if o.Seed != 0 {
		o.Org.Seed = o.Seed
	}
	o.Org.AllowPasswordFlow = true // the harness authorizes with the username-password flow
	org, srv := sforgtest.NewServer(t, o.Org)
	h := &Harness{T: t, Ctx: ctx, Pool: pool, AppSchema: app, Schema: app + "_sf", Keyring: kr, Key: key, Org: org, Srv: srv}
	t.Cleanup(func() { storetest.DropSchema(t, h.Schema) })
	level := slog.LevelWarn
	if os.Getenv("ENGINE_DEBUG") != "" || o.Debug {
		level = slog.LevelDebug
	}
	var logTo io.Writer = testWriter{t}
	if o.LogTo != nil {
		logTo = o.LogTo
	}
	log := slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level}))
	h.Options = engine.Options{Pool: pool, Keyring: kr, Orgs: Orgs(), Log: log, Instance: o.Instance,
		Tick: 50 * time.Millisecond, LeaseTTL: 2 * time.Second, PollInterval: 300 * time.Millisecond, Overlap: time.Second,
		WriteBatch: 2000,
		Signals: engine.Signals{LeaseAcquired: testsignal.New[int64](), LoadFinished: testsignal.New[int64](), PollDone: testsignal.New[int64](),
			WorkerRound: testsignal.New[int64](), WriterRound: testsignal.New[int64](), BatchRecorded: testsignal.New[int]()}}
	// A quarter of production's backoff: a test that rides out a failure waits 0.5 s for its first
	// retry, not 2 s (the three retries of a refused record cost 3.5 s instead of 14 s).
	h.Options.RetryUnit = engine.DefaultRetryUnit / 4
	if o.PollInterval > 0 {
		h.Options.PollInterval = o.PollInterval
	}
	if o.Overlap > 0 {
		h.Options.Overlap = o.Overlap
	}
	if o.WriteBatch > 0 {
		h.Options.WriteBatch = o.WriteBatch
	}
	if o.ViaProxy {
		h.Options.Pool = h.proxiedPool(app)
	}
	if o.PubSub {
		h.PubSub = sforg.NewPubSubServer(org, sforg.PubSubOptions{})
		if err := h.PubSub.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.PubSub.Stop)
		orgs := Orgs()
		orgs.PubSub = func(connection.Connection) *orgclient.PubSubEndpoint {
			return &orgclient.PubSubEndpoint{Addr: h.PubSub.Addr(), TLS: h.PubSub.ClientTLS()}
		}
		h.Options.Orgs = orgs
	}
	h.Engine = engine.New(h.Options)
	t.Cleanup(h.Engine.Stop)
	h.Admin = admin.New(admin.Options{Pool: h.Options.Pool, Keyring: kr, Orgs: h.Options.Orgs, Log: log})
	c, err := h.Admin.Connections.Create(ctx, Admin, admin.NewConnection{Schema: h.Schema, OrgType: connection.Simulated, LoginURL: srv.URL + "/login"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Conn, err = h.Admin.Connections.AuthorizeWithPassword(ctx, Admin, c.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		t.Fatal(err)
	}
	if !o.NoStart {
		if err := h.Engine.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// proxiedPool opens a pool on the app schema through a proxy the test can cut.
func (h *Harness) proxiedPool(app string) *pgxpool.Pool {
	u, err := url.Parse(storetest.URL())
	if err != nil {
		h.T.Fatal(err)
	}
	h.Proxy = NewDBProxy(h.T, u.Host)
	u.Host = h.Proxy.Addr
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	pool, err := store.Open(h.Ctx, store.Options{URL: u.String(), Schema: app, MaxConns: 8, AppName: app + "_engine"})
	if err != nil {
		h.T.Fatal(err)
	}
	h.T.Cleanup(pool.Close)
	return pool
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Exec runs SQL to arrange a test's state; $schema stands for the connection's schema.
func (h *Harness) Exec(sql string, args ...any) {
	h.T.Helper()
	if _, err := h.Pool.Exec(h.Ctx, strings.ReplaceAll(sql, "$schema", h.Schema), args...); err != nil {
		h.T.Fatalf("%s: %v", sql, err)
	}
}

// Count counts the rows of a table of the connection's schema matching where (all when empty).
func (h *Harness) Count(table string, where string, args ...any) int {
	h.T.Helper()
	var n int
	q := `SELECT count(*) FROM ` + h.Schema + `.` + table
	if where != "" {
		q += " WHERE " + where
	}
	if err := h.Pool.QueryRow(h.Ctx, q, args...).Scan(&n); err != nil {
		h.T.Fatal(err)
	}
	return n
}

// Signals are what the engine tells the test (see engine.Signals).
func (h *Harness) Signals() engine.Signals { return h.Options.Signals }

// Rounds waits until sig fired n times for id after mark: the runtime looked n times, so anything it
// would have done by then is done (or, asserting that nothing happens, was not).
func Rounds(t testing.TB, sig *testsignal.Signal[int64], what string, mark, n int, id int64) {
	t.Helper()
	sig.WaitFor(t, what, mark, n, 20*time.Second, func(v int64) bool { return v == id })
}

// Eventually waits until cond holds (see Eventually).
func (h *Harness) Eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	h.T.Helper()
	Eventually(h.T, what, timeout, cond)
}

// Eventually polls cond until it holds or the deadline passes (testsignal.Eventually).
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	testsignal.Eventually(t, what, timeout, cond)
}

// MappingState waits until a mapping is in state want.
func (h *Harness) MappingState(id int64, want mapping.State) {
	h.T.Helper()
	h.Eventually(fmt.Sprintf("mapping %d to be %s", id, want), 20*time.Second, func() (bool, string) {
		m, err := h.Admin.Mappings.Get(h.Ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return m.State == want, fmt.Sprintf("%s %s", m.State, m.StateReason)
	})
}

// ConnState waits until the connection is in state want.
func (h *Harness) ConnState(want connection.State) {
	h.T.Helper()
	h.Eventually("connection to be "+string(want), 20*time.Second, func() (bool, string) {
		c, err := h.Admin.Connections.Get(h.Ctx, h.Conn.ID)
		if err != nil {
			return false, err.Error()
		}
		return c.State == want, string(c.State) + " " + c.StateReason
	})
}

// CreateMapping maps an object of the org with the given access and fields.
func (h *Harness) CreateMapping(object string, access mapping.Access, fields ...string) mapping.Mapping {
	h.T.Helper()
	cfg := mapping.NewConfig(fields...)
	cfg.Access = access
	m, err := h.Admin.Mappings.Create(h.Ctx, Admin, h.Conn.ID, object, cfg)
	if err != nil {
		h.T.Fatalf("create mapping %s: %v", object, err)
	}
	return m
}

// WebServerFlow re-authorizes the connection through the org's login and approval pages, as an
// admin does from the dashboard (PKCE, state), so the connection holds a refresh token. The org
// must have callback among its RedirectURIs.
func (h *Harness) WebServerFlow(callback string) {
	h.T.Helper()
	c, err := h.AuthorizeByWebServerFlow(h.Conn.ID, callback)
	if err != nil {
		h.T.Fatal(err)
	}
	h.Conn = c
}

// AuthorizeByWebServerFlow authorizes connection connID through the org's login and approval pages
// and returns what the authorization's completion returned.
func (h *Harness) AuthorizeByWebServerFlow(connID int64, callback string) (connection.Connection, error) {
	h.T.Helper()
	verifier, state := keyring.RandomToken(32), keyring.RandomToken(24)
	authURL, err := h.Admin.Connections.AuthorizeURL(h.Ctx, connID, callback, state, verifier)
	if err != nil {
		h.T.Fatal(err)
	}
	cb := sforgtest.SignInAndApprove(h.T, authURL)
	if cb.Query().Get("state") != state {
		h.T.Fatalf("state not echoed: %s", cb)
	}
	return h.Admin.Connections.CompleteAuthorization(h.Ctx, Admin, connID, callback, cb.Query().Get("code"), verifier)
}
