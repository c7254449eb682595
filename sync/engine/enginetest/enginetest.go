// Package enginetest sets up a real engine for tests of the surfaces built on it (CLI, API, metrics,
// diagnose): a fresh migrated schema in the test database, a simulated Salesforce org on a loopback
// port, and one connection authorized against it. The engine is not started unless asked, so nothing
// syncs behind a test's back and states can be arranged exactly.
package enginetest

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/audit"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store/storetest"
)

// Admin is the actor tests act as.
var Admin = audit.Actor{Name: "admin@example.com", Kind: audit.ActorUser}

// Simulated org credentials and connected app.
const (
	User, Password         = "admin@pgforce.test", "demo"
	ClientID, ClientSecret = "pgforce-demo", "pgforce-demo-secret"
)

// Bench is an engine over real Postgres and a simulated org.
type Bench struct {
	Ctx     context.Context
	Pool    *pgxpool.Pool
	AppSch  string // pgforce's own schema
	Keyring *keyring.Keyring
	Key     []byte
	Org     *sforg.Org
	Srv     *httptest.Server
	Engine  *engine.Engine
	Options engine.Options
	Conn    connection.Connection // authorized; its schema is AppSch + "_sf"
}

// Options for New.
type Options struct {
	Seed  int64 // simulated org's demo data (0 = none)
	Start bool  // run the sync loops
}

// Orgs is the simulated org's connected app for every connection.
func Orgs() engine.SalesforceOrgs {
	return engine.SalesforceOrgs{App: func(connection.Connection) engine.ConnectedApp {
		return engine.ConnectedApp{ClientID: ClientID, ClientSecret: ClientSecret}
	}}
}

// New builds the bench; everything it made is removed when the test ends.
func New(t testing.TB, o Options) *Bench {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pool, app := storetest.Pool(t)
	key := bytes.Repeat([]byte{7}, 32)
	kr, err := keyring.New(key)
	if err != nil {
		t.Fatal(err)
	}
	org, srv := sforg.NewTestServer(t, sforg.Options{Seed: o.Seed, AllowPasswordFlow: true})
	b := &Bench{Ctx: ctx, Pool: pool, AppSch: app, Keyring: kr, Key: key, Org: org, Srv: srv}
	t.Cleanup(func() { storetest.DropSchema(t, app+"_sf") })
	b.Options = engine.Options{Pool: pool, Keyring: kr, Orgs: Orgs(), Log: slog.New(slog.DiscardHandler),
		Tick: 50 * time.Millisecond, LeaseTTL: 2 * time.Second, PollInterval: 300 * time.Millisecond, Overlap: time.Second}
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	c, err := b.Engine.CreateConnection(ctx, Admin, engine.NewConnection{Schema: app + "_sf", OrgType: connection.Simulated, LoginURL: srv.URL + "/login"})
	if err != nil {
		t.Fatal(err)
	}
	if b.Conn, err = b.Engine.AuthorizeWithPassword(ctx, Admin, c.ID, User, Password); err != nil {
		t.Fatal(err)
	}
	if o.Start {
		if err := b.Engine.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// Exec runs SQL to arrange a test's state.
func (b *Bench) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	if _, err := b.Pool.Exec(b.Ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// Eventually polls cond until it holds or the deadline passes.
func Eventually(t testing.TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(20 * time.Millisecond) // polling with a deadline
	}
	t.Fatalf("timed out after %v waiting for %s (last: %s)", timeout, what, last)
}
