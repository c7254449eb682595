package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"pgforce/sync/store"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/audit"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store/storetest"
)

var admin = audit.Actor{Name: "admin@example.com", Kind: audit.ActorUser}

// bench is an engine running against real Postgres and a simulated org.
type bench struct {
	t      testing.TB
	ctx    context.Context
	pool   *pgxpool.Pool
	kr     *keyring.Keyring
	org    *sforg.Org
	srv    *httptest.Server
	e      *engine.Engine
	opts   engine.Options
	conn   connection.Connection
	schema string
	logs   *bytes.Buffer
	proxy  *dbProxy // with viaProxy
}

type benchOpts struct {
	seed     int64
	noStart  bool
	org      sforg.Options
	schema   string
	instance string
	// pollInterval overrides the 300 ms polling interval of the tests.
	pollInterval time.Duration
	// overlap overrides the 1 s overlap window polls re-read.
	overlap time.Duration
	// viaProxy connects the engine (not the test) to Postgres through a proxy the test can cut.
	viaProxy bool
	// logTo receives the engine's log instead of the test log (fuzz targets must not log through
	// *testing.F; tests that inspect the log capture it).
	logTo io.Writer
	debug bool // log at debug level
}

func newBench(t testing.TB, o benchOpts) *bench {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	pool, app := storetest.Pool(t)
	kr, _ := keyring.New(bytes.Repeat([]byte{9}, 32))
	if o.org.Seed == 0 {
		o.org.Seed = o.seed
	}
	o.org.AllowPasswordFlow = true
	org, srv := sforg.NewTestServer(t, o.org)
	b := &bench{t: t, ctx: ctx, pool: pool, kr: kr, org: org, srv: srv, schema: app + "_sf", logs: &bytes.Buffer{}}
	t.Cleanup(func() { storetest.DropSchema(t, b.schema) })
	level := slog.LevelWarn
	if os.Getenv("ENGINE_DEBUG") != "" || o.debug {
		level = slog.LevelDebug
	}
	var logTo io.Writer = testWriter{t}
	if o.logTo != nil {
		logTo = o.logTo
	}
	b.opts = engine.Options{
		Pool: pool, Keyring: kr, Log: slog.New(slog.NewTextHandler(logTo, &slog.HandlerOptions{Level: level})),
		Orgs: engine.SalesforceOrgs{App: func(connection.Connection) engine.ConnectedApp {
			return engine.ConnectedApp{ClientID: "pgforce-demo", ClientSecret: "pgforce-demo-secret"}
		}},
		Tick: 50 * time.Millisecond, LeaseTTL: 2 * time.Second, PollInterval: 300 * time.Millisecond, Overlap: time.Second,
		Instance: o.instance,
	}
	if o.pollInterval > 0 {
		b.opts.PollInterval = o.pollInterval
	}
	if o.overlap > 0 {
		b.opts.Overlap = o.overlap
	}
	if o.viaProxy {
		u, err := url.Parse(storetest.URL())
		if err != nil {
			t.Fatal(err)
		}
		b.proxy = newDBProxy(t, u.Host)
		u.Host = b.proxy.addr
		q := u.Query()
		q.Set("connect_timeout", "2")
		u.RawQuery = q.Encode()
		enginePool, err := store.Open(ctx, store.Options{URL: u.String(), Schema: app, MaxConns: 8, AppName: app + "_engine"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(enginePool.Close)
		b.opts.Pool = enginePool
	}
	b.e = engine.New(b.opts)
	t.Cleanup(b.e.Stop)
	c, err := b.e.CreateConnection(ctx, admin, engine.NewConnection{Schema: b.schema, OrgType: connection.Simulated, LoginURL: srv.URL + "/login"})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = b.e.AuthorizeWithPassword(ctx, admin, c.ID, "admin@pgforce.test", "demo"); err != nil {
		t.Fatal(err)
	}
	b.conn = c
	if !o.noStart {
		if err := b.e.Start(ctx); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or the deadline passes.
func (b *bench) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	b.t.Helper()
	enginetest.Eventually(b.t, what, timeout, cond)
}

func (b *bench) mappingState(id int64, want mapping.State) {
	b.t.Helper()
	b.eventually(fmt.Sprintf("mapping %d to be %s", id, want), 20*time.Second, func() (bool, string) {
		m, err := b.e.Mapping(b.ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return m.State == want, fmt.Sprintf("%s %s", m.State, m.StateReason)
	})
}

func (b *bench) connState(want connection.State) {
	b.t.Helper()
	b.eventually("connection to be "+string(want), 20*time.Second, func() (bool, string) {
		c, err := b.e.Connection(b.ctx, b.conn.ID)
		if err != nil {
			return false, err.Error()
		}
		return c.State == want, string(c.State) + " " + c.StateReason
	})
}

func (b *bench) count(table string, where string, args ...any) int {
	b.t.Helper()
	var n int
	q := `SELECT count(*) FROM ` + b.schema + `.` + table
	if where != "" {
		q += " WHERE " + where
	}
	if err := b.pool.QueryRow(b.ctx, q, args...).Scan(&n); err != nil {
		b.t.Fatal(err)
	}
	return n
}

func (b *bench) exec(sql string, args ...any) {
	b.t.Helper()
	if _, err := b.pool.Exec(b.ctx, strings.ReplaceAll(sql, "$schema", b.schema), args...); err != nil {
		b.t.Fatalf("%s: %v", sql, err)
	}
}

func (b *bench) createMapping(object string, access mapping.Access, fields ...string) mapping.Mapping {
	b.t.Helper()
	cfg := mapping.NewConfig(fields...)
	cfg.Access = access
	m, err := b.e.CreateMapping(b.ctx, admin, b.conn.ID, object, cfg)
	if err != nil {
		b.t.Fatalf("create mapping %s: %v", object, err)
	}
	return m
}
