// Command pgforce keeps Salesforce objects and PostgreSQL tables in sync, administered from a web
// dashboard. This file holds main, the environment, subcommand dispatch and wiring only.
package main

import (
	"bufio"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strings"
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
	"pgforce/sync/audit"
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

const usage = `pgforce keeps Salesforce objects and Postgres tables in sync.

Usage:
  pgforce [serve]                         start the dashboard and the sync engine (default)
  pgforce user add --email E --role R     add a user (password read from stdin, or generated and printed)
  pgforce user list                       list users
  pgforce user remove --email E           remove a user
  pgforce user unlock --email E           lift a user's sign-in delays (after failed attempts) from every address
  pgforce migrate [up|down N|status]      manage pgforce's own schema
  pgforce bench [flags]                   measure pgforce against references (pgforce bench -h)
  pgforce sforg [--addr A] [flags]        serve a standalone simulated Salesforce org, with its Pub/Sub API on
                                          --pubsub-addr (pgforce sforg -h)
  pgforce help                            show this help

Administration (like heroku connect:*), against DATABASE_URL; a running serve picks changes up:
` + cli.Usage + `

Configuration comes from the environment; see README.md.
`

// run is the whole program; tests call it with their own arguments, environment and streams.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	cmd, rest := "serve", []string{}
	if len(args) > 1 {
		cmd, rest = args[1], args[2:]
	}
	switch cmd {
	case "help", "-h", "--help":
		_, err := io.WriteString(stdout, usage)
		return err
	case "serve":
		cfg, err := loadConfig(getenv, stdout)
		if err != nil {
			return err
		}
		return serve(ctx, cfg, stdout)
	case "user":
		cfg, err := loadConfig(getenv, stdout)
		if err != nil {
			return err
		}
		return userCommand(ctx, cfg, rest, getenv, stdin, stdout)
	case "migrate":
		cfg, err := loadConfig(getenv, stdout)
		if err != nil {
			return err
		}
		return migrateCommand(ctx, cfg, rest, stdout)
	case "bench":
		cfg, err := loadConfig(getenv, stdout)
		if err != nil {
			return err
		}
		return benchCommand(ctx, cfg, rest, stdout)
	case "sforg", "sim":
		return simCommand(ctx, rest, stdout)
	}
	if cli.Handles(cmd) {
		cfg, err := loadConfig(getenv, stdout)
		if err != nil {
			return err
		}
		return adminCommand(ctx, cfg, cmd, rest, getenv, stdin, stdout)
	}
	return fmt.Errorf("unknown command %q; run `pgforce help`", cmd)
}

// loadConfig reads the environment into a validated Config. A missing secret key is generated into a
// 0600 file under the user's config directory, with a one-time warning.
func loadConfig(getenv func(string) string, stdout io.Writer) (config.Config, error) {
	cfg := config.Config{
		DatabaseURL:            getenv("DATABASE_URL"),
		Schema:                 getenv("PGFORCE_DB_SCHEMA"),
		Addr:                   getenv("PGFORCE_ADDR"),
		BaseURL:                getenv("PGFORCE_BASE_URL"),
		MetricsAddr:            getenv("PGFORCE_METRICS_ADDR"),
		TLSCertFile:            getenv("PGFORCE_TLS_CERT"),
		TLSKeyFile:             getenv("PGFORCE_TLS_KEY"),
		SalesforceLoginURL:     getenv("PGFORCE_SF_LOGIN_URL"),
		SalesforceClientID:     getenv("PGFORCE_SF_CLIENT_ID"),
		SalesforceClientSecret: getenv("PGFORCE_SF_CLIENT_SECRET"),
		LogLevel:               getenv("PGFORCE_LOG_LEVEL"),
		SimControlToken:        getenv("PGFORCE_SIM_CONTROL_TOKEN"),
		SalesforcePubSubAddr:   getenv("PGFORCE_SF_PUBSUB_ADDR"),
		SalesforcePubSubCAFile: getenv("PGFORCE_SF_PUBSUB_CA_FILE"),
		SimPubSubAddr:          getenv("PGFORCE_SIM_PUBSUB_ADDR"),
	}.WithDefaults()

	if raw := getenv("PGFORCE_LEASE_TTL"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil {
			return cfg, fmt.Errorf("PGFORCE_LEASE_TTL must be a duration such as 10s, got %q", raw)
		}
		cfg.LeaseTTL = d
	}
	if raw := getenv("PGFORCE_SECRET_KEY"); raw != "" {
		key, err := keyring.DecodeKey(raw)
		if err != nil {
			return cfg, fmt.Errorf("PGFORCE_SECRET_KEY: %w (generate one with `openssl rand -base64 32`)", err)
		}
		cfg.SecretKey = key
	} else {
		cfg.SecretKeyFile = getenv("PGFORCE_SECRET_KEY_FILE")
		if cfg.SecretKeyFile == "" {
			dir, err := configDir(getenv)
			if err != nil {
				return cfg, err
			}
			cfg.SecretKeyFile = filepath.Join(dir, "pgforce", "secret.key")
		}
		key, created, err := keyring.LoadOrCreateFile(cfg.SecretKeyFile)
		if err != nil {
			return cfg, fmt.Errorf("PGFORCE_SECRET_KEY is not set and the key file cannot be used: %w", err)
		}
		cfg.SecretKey = key
		if created {
			fmt.Fprintf(stdout, "WARNING: PGFORCE_SECRET_KEY is not set; generated a new secret key in %s.\n"+
				"         Back it up (or set PGFORCE_SECRET_KEY): without it, stored Salesforce tokens cannot be decrypted.\n", cfg.SecretKeyFile)
		}
	}
	if err := cfg.Validate(); err != nil {
		return cfg, fmt.Errorf("invalid configuration:\n%w", err)
	}
	return cfg, nil
}

// configDir mirrors os.UserConfigDir but reads the environment through getenv.
func configDir(getenv func(string) string) (string, error) {
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return d, nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".config"), nil
	}
	return "", errors.New("cannot find a config directory for the secret key: set PGFORCE_SECRET_KEY, PGFORCE_SECRET_KEY_FILE or HOME")
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// openDatabase connects and brings pgforce's schema up to date.
func openDatabase(ctx context.Context, cfg config.Config) (*pgxpool.Pool, error) {
	pool, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, Schema: cfg.Schema})
	if err != nil {
		return nil, err
	}
	if err := migrations.Up(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	return pool, nil
}

// openStore opens the database (migrated) and the keyring that decrypts the stored tokens.
func openStore(ctx context.Context, cfg config.Config) (*pgxpool.Pool, *keyring.Keyring, error) {
	kr, err := keyring.New(cfg.SecretKey)
	if err != nil {
		return nil, nil, err
	}
	pool, err := openDatabase(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return pool, kr, nil
}

func serve(ctx context.Context, cfg config.Config, stdout io.Writer) error {
	log := newLogger(cfg, stdout)
	pool, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s (PGFORCE_ADDR): %w", cfg.Addr, err)
	}
	defer ln.Close()
	if strings.HasSuffix(cfg.Addr, ":0") && !explicitBaseURL(cfg) {
		// A random port is known only now; links and OAuth callbacks must use it.
		cfg.BaseURL = config.Config{Addr: ln.Addr().String(), TLSCertFile: cfg.TLSCertFile, TLSKeyFile: cfg.TLSKeyFile}.WithDefaults().BaseURL
	}

	kr, err := keyring.New(cfg.SecretKey)
	if err != nil {
		return err
	}
	var sim http.Handler
	var simPubSub *sforg.PubSubServer
	if cfg.EmbeddedOrg() {
		org, persist, err := startSimulatedOrg(ctx, pool, log, cfg.SimControlToken, cfg.OAuthCallbackURL())
		if err != nil {
			return err
		}
		defer persist.Stop()
		sim = org.Handler()
		simPubSub = sforg.NewPubSubServer(org, sforg.PubSubOptions{Addr: cfg.SimPubSubAddr})
		if err := simPubSub.Start(ctx); err != nil {
			return fmt.Errorf("%w (PGFORCE_SIM_PUBSUB_ADDR)", err)
		}
		defer simPubSub.Stop()
	}
	orgs, err := salesforceOrgs(cfg, simPubSub)
	if err != nil {
		return err
	}
	eng := engine.New(engine.Options{Pool: pool, Keyring: kr, Log: log, Orgs: orgs, LeaseTTL: cfg.LeaseTTL})
	if err := eng.Start(ctx); err != nil {
		return err
	}
	defer eng.Stop()
	adm := admin.New(admin.Options{Pool: pool, Keyring: kr, Log: log, Orgs: orgs})

	accounts := account.New(pool)
	reports := report.New(pool)
	metricsHandler := metrics.Handler(&metrics.Collector{Connections: adm.Connections, Engine: eng, Reports: reports,
		Health: diagnose.Checker{Connections: adm.Connections, Mappings: adm.Mappings, Reports: reports}, Log: log})
	e, closeDashboard := newDashboard(cfg, log, pool, adm, sim, metricsHandler)
	defer closeDashboard()
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}

	if n, err := accounts.Count(ctx); err != nil {
		return fmt.Errorf("count users: %w", err)
	} else if n == 0 {
		token, err := accounts.NewSetupLink(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n  pgforce has no users yet. Create the first admin with this one-time link:\n\n    %s/setup?token=%s\n\n", cfg.BaseURL, token)
	}
	fmt.Fprintf(stdout, "pgforce: dashboard at %s\n", cfg.BaseURL)
	if sim != nil {
		fmt.Fprintf(stdout, "pgforce: simulated Salesforce org at %s/sim (user %s, password %s)\n", cfg.BaseURL, simUser, simPassword)
		fmt.Fprintf(stdout, "pgforce: simulated org's Pub/Sub API at %s (TLS, certificate self-signed at start)\n", simPubSub.Addr())
	}

	var metricsSrv *http.Server
	if cfg.MetricsAddr != "" {
		mln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("listen on %s (PGFORCE_METRICS_ADDR): %w", cfg.MetricsAddr, err)
		}
		defer mln.Close()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", metricsHandler)
		metricsSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		fmt.Fprintf(stdout, "pgforce: metrics at http://%s/metrics\n", mln.Addr())
		defer metricsSrv.Close()
		go func() {
			if err := metricsSrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
	}

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		if cfg.TLS() {
			err = srv.ServeTLS(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		} else {
			err = srv.Serve(ln)
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
		log.Info("shutting down")
		return srv.Shutdown(shutdownCtx)
	})
	err = g.Wait()
	log.Info("stopped")
	return err
}

// newDashboard wires the web server: sessions in Postgres, handlers on the engine, the simulated org
// under /sim when there is one.
func newDashboard(cfg config.Config, log *slog.Logger, pool *pgxpool.Pool, adm *admin.Service, sim, metricsHandler http.Handler) (http.Handler, func()) {
	sessionStore := pgxstore.NewWithCleanupInterval(pool, 5*time.Minute)
	sessions := web.NewSessions(sessionStore, cfg.SecureCookies(), log)
	reports := report.New(pool)
	h := &handlers.Handlers{
		Log:               log,
		Sessions:          sessions,
		Accounts:          account.New(pool),
		Ready:             func(ctx context.Context) error { return ready(ctx, pool) },
		Connections:       adm.Connections,
		Mappings:          adm.Mappings,
		Configuration:     adm.Configuration,
		Writes:            adm.Writes,
		Reports:           reports,
		Tokens:            apitoken.New(pool),
		Diagnose:          diagnose.Checker{Connections: adm.Connections, Mappings: adm.Mappings, Reports: reports},
		Doctor:            orgDoctor(cfg, adm),
		Metrics:           metricsHandler,
		BaseURL:           cfg.BaseURL,
		SimulatedOrg:      cfg.SalesforceLoginURL == "",
		SimulatedLoginURL: simLoginURL(cfg),
	}
	return web.New(web.Deps{Log: log, Sessions: sessions, Handlers: h, TLS: cfg.TLS(), Sim: sim}), sessionStore.StopCleanup
}

// orgDoctor checks connected orgs' setup; its PKCE probe names the dashboard's OAuth callback, as the
// dashboard's authorizations do.
func orgDoctor(cfg config.Config, adm *admin.Service) doctor.Doctor {
	return doctor.Doctor{Inspection: adm.Inspection, Mappings: adm.Mappings, RedirectURL: cfg.OAuthCallbackURL()}
}

// The embedded simulated org's demo user and connected app.
const (
	simUser         = sforg.DemoUsername
	simPassword     = sforg.DemoPassword
	simClientID     = sforg.DemoClientID
	simClientSecret = sforg.DemoClientSecret
)

// simLoginURL is the embedded org's generic login host (login.salesforce.com's role); the tokens it
// hands out name the org's instance (/sim, its My Domain), where pgforce then sends every call.
func simLoginURL(cfg config.Config) string { return strings.TrimRight(cfg.BaseURL, "/") + "/sim/login" }

// startSimulatedOrg restores the embedded org from the database (or seeds a new one) and keeps it saved.
// Its demo connected app has one callback URL, the dashboard's: its login page sends browsers
// nowhere else.
func startSimulatedOrg(ctx context.Context, pool *pgxpool.Pool, log *slog.Logger, controlToken, callbackURL string) (*sforg.Org, *sforg.Persister, error) {
	if controlToken == "" {
		controlToken = keyring.RandomToken(24)
	}
	// The demo lets `pgforce connection create --username --password` sign in: it allows the OAuth
	// username-password flow, which real orgs created since Summer '23 block.
	org, restored, err := sforg.Restore(ctx, pool, sforg.Options{BasePath: "/sim", Seed: 1, ClientID: simClientID, ClientSecret: simClientSecret,
		Username: simUser, Password: simPassword, ControlToken: controlToken, RedirectURIs: []string{callbackURL}, AllowPasswordFlow: true})
	if err != nil {
		return nil, nil, err
	}
	if !restored {
		log.Info("created the simulated Salesforce org with demo data")
	}
	persist := sforg.NewPersister(org, pool, log, 2*time.Second)
	if err := persist.Start(ctx); err != nil {
		return nil, nil, err
	}
	return org, persist, nil
}

// connectedApp picks the OAuth client for a connection: the simulated org's demo app, or the real
// connected app from the configuration.
func connectedApp(cfg config.Config) func(c connection.Connection) orgclient.ConnectedApp {
	return func(c connection.Connection) orgclient.ConnectedApp {
		if c.OrgType == connection.Simulated {
			return orgclient.ConnectedApp{ClientID: simClientID, ClientSecret: simClientSecret}
		}
		return orgclient.ConnectedApp{ClientID: cfg.SalesforceClientID, ClientSecret: cfg.SalesforceClientSecret}
	}
}

// salesforceOrgs builds the engine's org clients: the connected app, and where each connection's
// org serves the Pub/Sub API (the embedded org's own server, trusted for its self-signed
// certificate only; for a real org Salesforce's endpoint or PGFORCE_SF_PUBSUB_ADDR).
func salesforceOrgs(cfg config.Config, sim *sforg.PubSubServer) (orgclient.SalesforceOrgs, error) {
	realTLS, err := pubSubTLS(cfg.SalesforcePubSubCAFile)
	if err != nil {
		return orgclient.SalesforceOrgs{}, err
	}
	embedded := strings.TrimRight(cfg.BaseURL, "/") + "/sim"
	return orgclient.SalesforceOrgs{App: connectedApp(cfg), PubSub: func(c connection.Connection) *orgclient.PubSubEndpoint {
		switch {
		case c.OrgType == connection.Simulated && sim != nil && strings.TrimSuffix(strings.TrimRight(c.LoginURL, "/"), "/login") == embedded:
			return &orgclient.PubSubEndpoint{Addr: sim.Addr(), TLS: sim.ClientTLS()}
		case c.OrgType == connection.Simulated && cfg.SalesforcePubSubAddr == "":
			return nil // a simulated org elsewhere, whose Pub/Sub API (if any) nobody configured
		}
		return &orgclient.PubSubEndpoint{Addr: cmp.Or(cfg.SalesforcePubSubAddr, pubsub.DefaultAddr), TLS: realTLS}
	}}, nil
}

// pubSubTLS trusts the system's roots, or only the certificates of caFile.
func pubSubTLS(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("PGFORCE_SF_PUBSUB_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("PGFORCE_SF_PUBSUB_CA_FILE: %s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}

func explicitBaseURL(cfg config.Config) bool {
	return cfg.BaseURL != config.Config{Addr: cfg.Addr, TLSCertFile: cfg.TLSCertFile, TLSKeyFile: cfg.TLSKeyFile}.WithDefaults().BaseURL
}

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

func userCommand(ctx context.Context, cfg config.Config, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: pgforce user add|list|remove|unlock")
	}
	pool, err := openDatabase(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	accounts := account.New(pool)
	actor := cliActor(getenv)

	fs := flag.NewFlagSet("user "+args[0], flag.ContinueOnError)
	fs.SetOutput(stdout)
	email := fs.String("email", "", "the user's email address")
	role := fs.String("role", "viewer", "admin or viewer")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	switch args[0] {
	case "add":
		r, err := account.ParseRole(*role)
		if err != nil {
			return err
		}
		password, generated, err := readPassword(stdin)
		if err != nil {
			return err
		}
		u, err := accounts.Create(ctx, actor, *email, password, r)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", u.Email, u.Role)
		if generated {
			fmt.Fprintf(stdout, "password (shown once): %s\n", password)
		}
		return nil
	case "list":
		users, err := accounts.List(ctx)
		if err != nil {
			return err
		}
		for _, u := range users {
			fmt.Fprintf(stdout, "%-40s %-7s created %s\n", u.Email, u.Role, u.CreatedAt.UTC().Format(time.RFC3339))
		}
		return nil
	case "remove":
		if err := accounts.Remove(ctx, actor, *email); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "removed %s\n", *email)
		return nil
	case "unlock":
		n, err := accounts.Unlock(ctx, actor, *email)
		if err != nil {
			return err
		}
		addresses := "addresses"
		if n == 1 {
			addresses = "address"
		}
		fmt.Fprintf(stdout, "unlocked %s: sign-in delays lifted for %d %s\n", strings.ToLower(strings.TrimSpace(*email)), n, addresses)
		return nil
	}
	return fmt.Errorf("unknown user command %q: use add, list, remove or unlock", args[0])
}

// readPassword takes the first line of stdin when it is piped, or generates a password when stdin
// is a terminal or empty.
func readPassword(stdin io.Reader) (password string, generated bool, err error) {
	if f, ok := stdin.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return account.GeneratePassword(), true, nil
		}
	}
	if stdin != nil {
		b, err := io.ReadAll(io.LimitReader(stdin, 4096))
		if err != nil {
			return "", false, fmt.Errorf("read password from stdin: %w", err)
		}
		if line, _, _ := strings.Cut(string(b), "\n"); strings.TrimRight(line, "\r") != "" {
			return strings.TrimRight(line, "\r"), false, nil
		}
	}
	return account.GeneratePassword(), true, nil
}

func migrateCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	pool, err := store.Open(ctx, store.Options{URL: cfg.DatabaseURL, Schema: cfg.Schema})
	if err != nil {
		return err
	}
	defer pool.Close()
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "up":
		if err := migrations.Up(ctx, pool); err != nil {
			return err
		}
	case "down":
		var target int32
		if len(args) < 2 {
			return errors.New("usage: pgforce migrate down VERSION")
		}
		if _, err := fmt.Sscan(args[1], &target); err != nil {
			return fmt.Errorf("migrate down: version must be a number: %w", err)
		}
		if err := migrations.To(ctx, pool, target); err != nil {
			return err
		}
	case "status":
	default:
		return fmt.Errorf("unknown migrate command %q: use up, down VERSION or status", sub)
	}
	cur, latest, err := migrations.Status(ctx, pool)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schema version %d of %d\n", cur, latest)
	return nil
}

func cliActor(getenv func(string) string) audit.Actor {
	who := getenv("USER")
	if who == "" {
		who = "unknown"
	}
	return audit.Actor{Name: "cli:" + who, Kind: audit.ActorCLI}
}

// adminCommand runs a `heroku connect:*`-like command against the database through the
// administration: no sync runs in the CLI process; the running `serve` picks each change up through
// its notifications.
func adminCommand(ctx context.Context, cfg config.Config, cmd string, args []string, getenv func(string) string, stdin io.Reader, stdout io.Writer) error {
	pool, kr, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	// Warnings go to stderr so that --json output on stdout stays parseable.
	log := newLogger(cfg, os.Stderr)
	adm := admin.New(admin.Options{Pool: pool, Keyring: kr, Log: log, Orgs: orgclient.SalesforceOrgs{App: connectedApp(cfg)}})
	env := &cli.Env{
		Connections:   adm.Connections,
		Mappings:      adm.Mappings,
		Configuration: adm.Configuration,
		Doctor:        orgDoctor(cfg, adm),
		Reports:       report.New(pool),
		Tokens:        apitoken.New(pool),
		Actor:         cliActor(getenv),
		In:            stdin,
		Out:           stdout,
		LoginURL:      cfg.SalesforceLoginURL,
		DashboardURL:  cfg.BaseURL,
	}
	if cfg.EmbeddedOrg() {
		// The simulated org is served by `pgforce serve`, under /sim of the dashboard.
		env.OrgType, env.LoginURL = connection.Simulated, simLoginURL(cfg)
	}
	return env.Run(ctx, cmd, args)
}

// benchCommand runs the benchmark suite in its own schemas, with the simulated org in a child process
// so that the memory figures are pgforce's alone.
func benchCommand(ctx context.Context, cfg config.Config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pgforce bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
	opts := bench.Options{}
	fs.IntVar(&opts.Rows, "rows", 100_000, "records of the initial load (the full run: 1000000)")
	fs.IntVar(&opts.Samples, "samples", 1000, "latency samples per figure")
	fs.IntVar(&opts.Backlog, "backlog", 100_000, "changes in the Postgres→Salesforce backlog")
	fs.IntVar(&opts.Burst, "burst", 10_000, "Salesforce changes of the burst streamed over the Pub/Sub API")
	fs.IntVar(&opts.PageMappings, "mappings", 200, "mappings on the measured Mappings page")
	fs.IntVar(&opts.IdleMappings, "idle-mappings", 20, "mappings of the idle connection")
	fs.DurationVar(&opts.PollInterval, "poll-interval", 5*time.Second, "polling interval of the polling figures")
	only := fs.String("only", "", "comma-separated figure groups: load,stream,pubsub,poll,write,backlog,idle,page")
	jsonFile := fs.String("json", "bench.json", "write the report as JSON to this file (empty: none)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the run to this file")
	inProcess := fs.Bool("in-process-org", false, "run the simulated org in this process (its memory then counts)")
	keep := fs.Bool("keep", false, "keep the bench schemas afterwards, to inspect them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	opts.KeepSchemaFor = *keep
	cfg.Schema = "pgforce_bench"
	log := newLogger(cfg, stdout)
	pool, kr, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer pool.Close()
	opts.Pool, opts.Keyring, opts.Log, opts.Progress = pool, kr, log, stdout
	opts.Dashboard = func(adm *admin.Service) (http.Handler, error) {
		h, _ := newDashboard(cfg, log, pool, adm, nil, nil)
		return h, nil
	}
	if !*inProcess {
		url, token, stop, err := startChildOrg(ctx)
		if err != nil {
			return err
		}
		defer stop()
		opts.OrgURL, opts.ControlToken = url, token
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	report, err := bench.Run(ctx, opts)
	if err != nil {
		return err
	}
	if err := report.WriteTable(stdout); err != nil {
		return err
	}
	if *jsonFile != "" {
		var buf strings.Builder
		if err := report.WriteJSON(&buf); err != nil {
			return err
		}
		if err := os.WriteFile(*jsonFile, []byte(buf.String()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", *jsonFile)
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.WriteHeapProfile(f)
	}
	return nil
}

// startChildOrg runs `pgforce sforg` from this same binary and waits for its address.
func startChildOrg(ctx context.Context) (url, token string, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", "", nil, err
	}
	token = keyring.RandomToken(16)
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, exe, "sforg", "--addr", "127.0.0.1:0", "--control-token", token, "--seed", "0")
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return "", "", nil, fmt.Errorf("start the simulated org: %w", err)
	}
	stop = func() { cancel(); _ = cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), simListening); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return strings.Fields(rest)[0], token, stop, nil
		}
	}
	stop()
	return "", "", nil, errors.New("the simulated org exited before listening")
}

const (
	simListening       = "pgforce: simulated Salesforce org at "
	simPubSubListening = "pgforce: Pub/Sub API at "
)

// callbackURLs collects --callback-url flags; each must be an absolute URL, as in a connected app.
type callbackURLs []string

func (c *callbackURLs) String() string { return strings.Join(*c, ",") }

func (c *callbackURLs) Set(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("%q is not a callback URL: give an absolute URL such as http://localhost:3000/oauth/callback, without a #fragment", v)
	}
	*c = append(*c, v)
	return nil
}

// simCommand serves a simulated org alone at the root (for benchmarks, and for trying clients
// against it); `pgforce sim` is an alias.
func simCommand(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pgforce sforg", flag.ContinueOnError)
	fs.SetOutput(stdout)
	addr := fs.String("addr", "127.0.0.1:7777", "address to listen on")
	token := fs.String("control-token", "", "bearer token of the /_sforg control API (empty: generated and printed)")
	seed := fs.Int64("seed", 1, "demo data seed (0: objects only, no records)")
	clientID := fs.String("client-id", simClientID, "the connected app's consumer key")
	clientSecret := fs.String("client-secret", simClientSecret, "the connected app's consumer secret")
	user := fs.String("user", simUser, "the org user's username")
	password := fs.String("password", simPassword, "the org user's password")
	apiLimit := fs.Int("api-limit", 100_000, "daily API request allowance")
	passwordFlow := fs.Bool("password-flow", true, "allow the OAuth username-password flow (real orgs created since Summer '23 block it)")
	soapLogin := fs.Bool("soap-login", false, "allow SOAP API login() up to API 64.0 (new real orgs disable it)")
	var callbacks callbackURLs
	fs.Var(&callbacks, "callback-url", "a callback URL of the connected app, where the OAuth web-server flow may send the browser back (repeat for several; none: that flow is refused)")
	pubsubAddr := fs.String("pubsub-addr", config.DefaultSimPubSubAddr, "address of the Pub/Sub API (gRPC with TLS, self-signed certificate); empty: none")
	pubsubCert := fs.String("pubsub-cert", "", "write the Pub/Sub API's certificate (PEM) to this file, for clients to trust")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *token == "" {
		*token = keyring.RandomToken(24)
		fmt.Fprintf(stdout, "pgforce: control API token %s\n", *token)
	}
	org := sforg.New(sforg.Options{Seed: *seed, ClientID: *clientID, ClientSecret: *clientSecret, Username: *user, Password: *password,
		ControlToken: *token, DailyAPILimit: *apiLimit, RedirectURIs: callbacks, AllowPasswordFlow: *passwordFlow, AllowSOAPLogin: *soapLogin})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	var ps *sforg.PubSubServer
	if *pubsubAddr != "" {
		// Started before the org announces itself: whoever reads the announcement may ask for it.
		ps = sforg.NewPubSubServer(org, sforg.PubSubOptions{Addr: *pubsubAddr})
		if err := ps.Start(ctx); err != nil {
			ln.Close()
			return err
		}
		defer ps.Stop()
		if *pubsubCert != "" {
			if err := os.WriteFile(*pubsubCert, ps.CertificatePEM(), 0o644); err != nil {
				return fmt.Errorf("--pubsub-cert: %w", err)
			}
		}
	}
	srv := &http.Server{Handler: org.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "%shttp://%s (user %s, password %s, client id %s)\n", simListening, ln.Addr(), *user, *password, *clientID)
	fmt.Fprintf(stdout, "pgforce: login URL http://%[1]s/login (or the instance itself), instance (REST, Bulk, CometD) http://%[1]s, control API http://%[1]s/_sforg (bearer token)\n", ln.Addr())
	if len(callbacks) == 0 {
		fmt.Fprintln(stdout, "pgforce: no OAuth callback URL registered: the web-server flow is refused (add --callback-url URL)")
	} else {
		fmt.Fprintf(stdout, "pgforce: OAuth callback URLs %s\n", strings.Join(callbacks, ", "))
	}
	if ps != nil {
		fmt.Fprintf(stdout, "%s%s (TLS, self-signed; its certificate: GET /_sforg/pubsub or --pubsub-cert)\n", simPubSubListening, ps.Addr())
	}
	go func() {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
