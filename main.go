// Command pgforce keeps Salesforce objects and PostgreSQL tables in sync, administered from a web
// dashboard. This file holds main, subcommand dispatch and wiring only: the environment is parsed by
// internal/config, the subcommands live in internal/cli and internal/bench.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"pgforce/handlers"
	"pgforce/internal/account"
	"pgforce/internal/apitoken"
	"pgforce/internal/bench"
	"pgforce/internal/cli"
	"pgforce/internal/config"
	"pgforce/internal/keyring"
	"pgforce/internal/metrics"
	"pgforce/migrations"
	"pgforce/sync/admin"
	"pgforce/sync/diagnose"
	"pgforce/sync/doctor"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/orgclient"
	"pgforce/sync/report"
	"pgforce/sync/salesforce/pubsub"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store"
	"pgforce/web"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args, os.Getenv, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pgforce:", err)
		os.Exit(1)
	}
}

// run is the whole program; tests call it with their own arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	cmd, rest := "serve", []string{}
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
	}
	switch cmd {
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, cli.Help)
		return err
	case "sforg", "sim":
		return cli.SimulatedOrg(ctx, rest, stdout)
	}
	if cmd != "serve" && cmd != "user" && cmd != "migrate" && cmd != "bench" && !cli.Handles(cmd) {
		return fmt.Errorf("unknown command %q; run `pgforce help`", cmd)
	}
	cfg, err := config.FromEnv(getenv, stdout)
	if err != nil {
		return err
	}
	if cmd == "migrate" {
		// Without migrating first: this command is how a schema is moved between versions.
		pool, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, Schema: cfg.Schema})
		if err != nil {
			return err
		}
		defer pool.Close()
		return cli.Migrate(ctx, pool, rest, stdout)
	}
	if cmd == "bench" {
		cfg.Schema = bench.Schema(rest) // its own tables, never the product's
	}
	pool, kr, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	switch cmd {
	case "serve":
		return serve(ctx, cfg, pool, kr, stdout)
	case "user":
		return cli.User(ctx, account.New(pool), cli.Actor(getenv), rest, stdin, stdout)
	case "bench":
		log := newLogger(cfg, stdout)
		engPool, err := openEnginePool(ctx, cfg)
		if err != nil {
			return err
		}
		defer engPool.Close()
		return bench.Command(ctx, bench.Options{Pool: pool, EnginePool: engPool, Keyring: kr, Log: log, Dashboard: func(adm *admin.Service) (http.Handler, error) {
			h, _ := newDashboard(cfg, log, pool, newServices(pool, adm), nil, nil, nil)
			return h, nil
		}}, rest, stdout)
	}
	// Administration (like heroku connect:*): no sync runs in this process; the running `serve`
	// picks each change up through its notifications. Warnings go to stderr so that --json output
	// on stdout stays parseable.
	adm := admin.New(admin.Options{Pool: pool, Keyring: kr, Log: newLogger(cfg, os.Stderr), Orgs: orgclient.SalesforceOrgs{App: connectedApp(cfg)}})
	env := &cli.Env{Connections: adm.Connections, Mappings: adm.Mappings, Configuration: adm.Configuration, Doctor: orgDoctor(cfg, adm), Verifications: adm.Verifications, Conflicts: adm.Conflicts, Writes: adm.Writes,
		Reports: report.New(pool), Tokens: apitoken.New(pool), Actor: cli.Actor(getenv), In: stdin, Out: stdout, LoginURL: cfg.SalesforceLoginURL, DashboardURL: cfg.BaseURL}
	if cfg.EmbeddedOrg() {
		// The simulated org is served by `pgforce serve`, under /sim of the dashboard.
		env.OrgType, env.LoginURL = connection.Simulated, cfg.SimulatedLoginURL()
	}
	return env.Run(ctx, cmd, rest)
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// openStore opens the database, brings pgforce's schema up to date, and opens the keyring that
// decrypts the stored tokens.
func openStore(ctx context.Context, cfg config.Config) (*pgxpool.Pool, *keyring.Keyring, error) {
	kr, err := keyring.New(cfg.SecretKey)
	if err != nil {
		return nil, nil, err
	}
	pool, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, Schema: cfg.Schema})
	if err != nil {
		return nil, nil, err
	}
	if err := migrations.Up(ctx, pool); err != nil {
		pool.Close()
		return nil, nil, err
	}
	return pool, kr, nil
}

// openEnginePool opens the sync engine's own connections to the database (already migrated). The
// dashboard and the administration keep the main pool to themselves: an engine busy with a
// thousand mappings' polls would otherwise hold every connection, and each page would wait in
// line behind its polls.
func openEnginePool(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	return store.Open(ctx, store.Options{URL: cfg.DatabaseURL, Schema: cfg.Schema, AppName: "pgforce engine"})
}

func serve(ctx context.Context, cfg config.Config, pool *pgxpool.Pool, kr *keyring.Keyring, stdout io.Writer) error {
	log := newLogger(cfg, stdout)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (PGFORCE_ADDR): %w", cfg.Addr, err)
	}
	defer ln.Close()
	cfg = cfg.Listening(ln.Addr().String())
	var sim http.Handler
	var simPubSub *sforg.PubSubServer
	var simOrg handlers.SimulatedOrgControl
	if cfg.EmbeddedOrg() {
		embedded, err := sforg.StartEmbedded(ctx, pool, log, sforg.EmbeddedOptions{URL: cfg.BaseURL + "/sim", ControlToken: cfg.SimControlToken,
			CallbackURL: cfg.OAuthCallbackURL(), PubSubAddr: cfg.SimPubSubAddr, Latency: cfg.SimLatency})
		if err != nil {
			return err
		}
		defer embedded.Stop()
		sim, simPubSub, simOrg = embedded.Org.Handler(), embedded.PubSub, embedded.Org
	}
	orgs, err := salesforceOrgs(cfg, simPubSub)
	if err != nil {
		return err
	}
	engPool, err := openEnginePool(ctx, cfg)
	if err != nil {
		return err
	}
	defer engPool.Close()
	eng := engine.New(engine.Options{Pool: engPool, Keyring: kr, Log: log, Orgs: orgs, LeaseTTL: cfg.LeaseTTL})
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Stop()
	// A connection deletion interrupted after its commit left its schema renamed, not dropped.
	if err := admin.DropRetiredSchemas(ctx, pool); err != nil {
		log.Warn("drop the schemas of deleted connections", "err", err)
	}
	svc := newServices(pool, admin.New(admin.Options{Pool: pool, Keyring: kr, Log: log, Orgs: orgs}))
	metricsHandler := metrics.Handler(&metrics.Collector{Connections: svc.admin.Connections, Engine: eng, Reports: svc.reports, Health: svc.health, Verifications: svc.admin.Verifications, Conflicts: svc.admin.Conflicts, Log: log})
	h, closeDashboard := newDashboard(cfg, log, pool, svc, sim, simOrg, metricsHandler)
	defer closeDashboard()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	if n, err := svc.accounts.Count(ctx); err != nil {
		return fmt.Errorf("count users: %w", err)
	} else if n == 0 {
		token, err := svc.accounts.NewSetupLink(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n  pgforce has no users yet. Create the first admin with this one-time link:\n\n    %s/setup?token=%s\n\n", cfg.BaseURL, token)
	}
	fmt.Fprintf(stdout, "pgforce: dashboard at %s\n", cfg.BaseURL)
	if sim != nil {
		fmt.Fprintf(stdout, "pgforce: simulated Salesforce org at %s/lightning (user %s, password %s); admins drive it from %s/simulated-org\n",
			cfg.SimulatedInstanceURL(), sforg.DemoUsername, sforg.DemoPassword, cfg.BaseURL)
		fmt.Fprintf(stdout, "pgforce: simulated org's Pub/Sub API at %s (TLS, certificate self-signed at start)\n", simPubSub.Addr())
	}
	servers, listeners := []*http.Server{srv}, []net.Listener{ln}
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (PGFORCE_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
		defer mln.Close()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		servers, listeners = append(servers, &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}), append(listeners, mln)
		fmt.Fprintf(stdout, "pgforce: metrics at http://%s/metrics\n", mln.Addr())
	}

	g, gctx := errgroup.WithContext(ctx)
	for i, s := range servers {
		g.Go(func() error {
			var err error
			if i == 0 && cfg.TLS() {
				err = s.ServeTLS(listeners[i], cfg.TLSCertFile, cfg.TLSKeyFile)
			} else {
				err = s.Serve(listeners[i])
			}
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		})
		g.Go(func() error {
			<-gctx.Done()
			// Stop accepting, let requests in flight finish, then the deferred closes stop the rest.
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			return s.Shutdown(shutdownCtx)
		})
	}
	err = g.Wait()
	log.Info("stopped")
	return err
}

// services are the objects the dashboard, the API and the metrics share, each built once.
type services struct {
	admin    *admin.Service
	accounts *account.Service
	reports  *report.Reader
	health   diagnose.Checker
}

func newServices(pool *pgxpool.Pool, adm *admin.Service) services {
	reports := report.New(pool)
	return services{admin: adm, accounts: account.New(pool), reports: reports,
		health: diagnose.Checker{Connections: adm.Connections, Mappings: adm.Mappings, Reports: reports, Verifications: adm.Verifications}}
}

// newDashboard wires the web server: sessions in Postgres, handlers on the administration, the
// simulated org under /sim when there is one.
func newDashboard(cfg config.Config, log *slog.Logger, pool *pgxpool.Pool, svc services, sim http.Handler, simOrg handlers.SimulatedOrgControl, metricsHandler http.Handler) (http.Handler, func()) {
	sessionStore := pgxstore.NewWithCleanupInterval(pool, 5*time.Minute)
	sessions := web.NewSessions(sessionStore, cfg.SecureCookies(), log)
	h := &handlers.Handlers{
		Log: log, Sessions: sessions, Accounts: svc.accounts, Ready: func(ctx context.Context) error { return ready(ctx, pool) },
		Connections: svc.admin.Connections, Mappings: svc.admin.Mappings, Configuration: svc.admin.Configuration, Writes: svc.admin.Writes,
		Verifications: svc.admin.Verifications, Conflicts: svc.admin.Conflicts, Reports: svc.reports, Tokens: apitoken.New(pool), Diagnose: svc.health, Doctor: orgDoctor(cfg, svc.admin),
		Metrics: metricsHandler,
		BaseURL: cfg.BaseURL, SimulatedOrg: cfg.EmbeddedOrg(), SimulatedLoginURL: cfg.SimulatedLoginURL(), SimOrg: simOrg,
	}
	return web.New(web.Deps{Log: log, Sessions: sessions, Handlers: h, TLS: cfg.TLS(), Sim: sim}), sessionStore.StopCleanup
}

// orgDoctor checks connected orgs' setup; its PKCE probe names the dashboard's OAuth callback, as the
// dashboard's authorizations do.
func orgDoctor(cfg config.Config, adm *admin.Service) doctor.Doctor {
	return doctor.Doctor{Inspection: adm.Inspection, Mappings: adm.Mappings, RedirectURL: cfg.OAuthCallbackURL()}
}

// connectedApp picks the OAuth client for a connection: the simulated org's demo app, or the real
// connected app from the configuration.
func connectedApp(cfg config.Config) func(c connection.Connection) orgclient.ConnectedApp {
	return func(c connection.Connection) orgclient.ConnectedApp {
		if c.OrgType == connection.Simulated {
			return orgclient.ConnectedApp{ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
		}
		return orgclient.ConnectedApp{ClientID: cfg.SalesforceClientID, ClientSecret: cfg.SalesforceClientSecret}
	}
}

// salesforceOrgs builds the org clients: the connected app, and where each connection's org serves
// the Pub/Sub API (the embedded org's own server, trusted for its self-signed certificate only; for
// a real org Salesforce's endpoint or PGFORCE_SF_PUBSUB_ADDR).
func salesforceOrgs(cfg config.Config, sim *sforg.PubSubServer) (orgclient.SalesforceOrgs, error) {
	realTLS, err := orgclient.TrustPEMFile(cfg.SalesforcePubSubCAFile)
	if err != nil {
		return orgclient.SalesforceOrgs{}, fmt.Errorf("PGFORCE_SF_PUBSUB_CA_FILE: %w", err)
	}
	return orgclient.SalesforceOrgs{App: connectedApp(cfg), PubSub: func(c connection.Connection) *orgclient.PubSubEndpoint {
		switch {
		case c.OrgType == connection.Simulated && sim != nil && cfg.EmbeddedOrgLoginURL(c.LoginURL):
			return &orgclient.PubSubEndpoint{Addr: sim.Addr(), TLS: sim.ClientTLS()}
		case c.OrgType == connection.Simulated && cfg.SalesforcePubSubAddr == "":
			return nil // a simulated org elsewhere, whose Pub/Sub API (if any) nobody configured
		}
		return &orgclient.PubSubEndpoint{Addr: cmp.Or(cfg.SalesforcePubSubAddr, pubsub.DefaultAddr), TLS: realTLS}
	}}, nil
}

// ready is /readyz: the database answers and its schema is current.
func ready(ctx context.Context, pool *pgxpool.Pool) error {
	if err := pool.Ping(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	cur, latest, err := migrations.Status(ctx, pool)
	if err != nil {
		return err
	}
	if cur != latest {
		return fmt.Errorf("database schema at version %d, expected %d", cur, latest)
	}
	return nil
}
