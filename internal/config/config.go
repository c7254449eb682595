// Package config holds pgforce's settings as a plain struct. The environment is read in main only;
// this package fills defaults and validates, so that a bad setting stops start-up with a clear message.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Defaults used when a setting is absent.
const (
	DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/pgforce?sslmode=disable"
	DefaultAddr        = "127.0.0.1:8080"
	DefaultSchema      = "pgforce"
	// DefaultSimPubSubAddr lets the system pick a free port for the simulated org's Pub/Sub API.
	DefaultSimPubSubAddr = "127.0.0.1:0"
)

// Config is everything pgforce needs to start.
type Config struct {
	DatabaseURL string // Postgres holding pgforce's bookkeeping and, by default, the synced tables
	Schema      string // schema for pgforce's own tables (never mixed with mapped tables)
	Addr        string // host:port the dashboard listens on
	BaseURL     string // public URL of the dashboard, used for OAuth callbacks and links
	// MetricsAddr, when set, is a separate host:port serving /metrics without a token (bind it to a
	// private interface for the scraper). /metrics on Addr always needs a token of role metrics.
	MetricsAddr string

	SecretKey     []byte // 32 bytes; encrypts OAuth tokens at rest
	SecretKeyFile string // where a generated key is kept when SecretKey was not given

	TLSCertFile string // serve HTTPS when both are set
	TLSKeyFile  string

	// Salesforce connected app. When LoginURL is empty, pgforce serves a simulated org under /sim
	// and uses it as the default org.
	SalesforceLoginURL     string
	SalesforceClientID     string
	SalesforceClientSecret string

	LogLevel string // debug, info, warn, error

	// SalesforcePubSubAddr is where a real org's Pub/Sub API is (host:port); empty = Salesforce's,
	// api.pubsub.salesforce.com:7443. SalesforcePubSubCAFile, when set, is a PEM file of the
	// certificates to trust for it instead of the system's (a TLS-inspecting proxy, a test org).
	SalesforcePubSubAddr   string
	SalesforcePubSubCAFile string

	// SimPubSubAddr is where the embedded simulated org serves its Pub/Sub API, with a self-signed
	// certificate made at start; default a free port on 127.0.0.1.
	SimPubSubAddr string

	// SimControlToken protects the embedded simulated org's control API (/sim/_sforg/...): demos and
	// tests use it to edit records as a Salesforce user or inject faults. Empty = a random token.
	SimControlToken string

	// SimLatency is added to every API call of the embedded simulated org (PGFORCE_SIM_LATENCY, e.g.
	// 150ms, a real org's round trip); its Bulk jobs then take time to complete too. 0 = none.
	SimLatency time.Duration

	// LeaseTTL is how long a connection's sync lease lasts without renewal: the time another instance
	// (or this one, restarted) waits before taking over a connection whose syncer died. 0 = 10 s.
	LeaseTTL time.Duration
}

var identRe = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// ValidIdentifier reports whether s is a safe, unquoted-lower-case Postgres identifier.
func ValidIdentifier(s string) bool { return identRe.MatchString(s) }

// WithDefaults returns c with empty settings filled in.
func (c Config) WithDefaults() Config {
	if c.DatabaseURL == "" {
		c.DatabaseURL = DefaultDatabaseURL
	}
	if c.Schema == "" {
		c.Schema = DefaultSchema
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.BaseURL == "" {
		c.BaseURL = c.defaultBaseURL()
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.SimPubSubAddr == "" {
		c.SimPubSubAddr = DefaultSimPubSubAddr
	}
	return c
}

func (c Config) defaultBaseURL() string {
	scheme := "http"
	if c.TLS() {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return scheme + "://" + c.Addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// TLS reports whether pgforce serves HTTPS itself.
func (c Config) TLS() bool { return c.TLSCertFile != "" && c.TLSKeyFile != "" }

// SecureCookies reports whether cookies must carry Secure and the __Host- prefix: whenever the
// public URL is https, whether TLS ends here or at a proxy in front.
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// OAuthCallbackURL is where Salesforce sends the browser back after an authorization (the
// connected app's callback URL).
func (c Config) OAuthCallbackURL() string {
	return strings.TrimRight(c.BaseURL, "/") + "/oauth/callback"
}

// EmbeddedOrg reports whether the simulated Salesforce org is the default org.
func (c Config) EmbeddedOrg() bool { return c.SalesforceLoginURL == "" }

// Validate returns every problem found, each naming the environment variable to fix.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		bad("DATABASE_URL must be a postgres:// URL, got %q", redact(c.DatabaseURL))
	}
	if !ValidIdentifier(c.Schema) {
		bad("PGFORCE_DB_SCHEMA must be a lower-case identifier (letters, digits, _), got %q", c.Schema)
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		bad("PGFORCE_ADDR must be host:port (e.g. 127.0.0.1:8080), got %q", c.Addr)
	}
	if c.LeaseTTL != 0 && (c.LeaseTTL < time.Second || c.LeaseTTL > 10*time.Minute) {
		bad("PGFORCE_LEASE_TTL must be between 1s and 10m, got %v", c.LeaseTTL)
	}
	if c.MetricsAddr != "" {
		if _, port, err := net.SplitHostPort(c.MetricsAddr); err != nil || port == "" {
			bad("PGFORCE_METRICS_ADDR must be host:port (e.g. 127.0.0.1:9187), got %q", c.MetricsAddr)
		} else if c.MetricsAddr == c.Addr && port != "0" {
			bad("PGFORCE_METRICS_ADDR must differ from PGFORCE_ADDR (metrics on the dashboard's address need a token)")
		}
	}
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("PGFORCE_BASE_URL must be an absolute http(s) URL, got %q", c.BaseURL)
	} else if u.RawQuery != "" || u.Fragment != "" {
		bad("PGFORCE_BASE_URL must not have a query or fragment, got %q", c.BaseURL)
	}
	if len(c.SecretKey) != 32 {
		bad("PGFORCE_SECRET_KEY must be 32 bytes encoded as base64 (e.g. `openssl rand -base64 32`), got %d bytes", len(c.SecretKey))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		bad("PGFORCE_TLS_CERT and PGFORCE_TLS_KEY must be set together")
	}
	if c.SalesforceLoginURL != "" {
		if u, err := url.Parse(c.SalesforceLoginURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("PGFORCE_SF_LOGIN_URL must be an absolute URL such as https://login.salesforce.com, got %q", c.SalesforceLoginURL)
		}
		if c.SalesforceClientID == "" || c.SalesforceClientSecret == "" {
			bad("PGFORCE_SF_CLIENT_ID and PGFORCE_SF_CLIENT_SECRET are required with PGFORCE_SF_LOGIN_URL")
		}
	}
	for _, a := range []struct{ name, value string }{{"PGFORCE_SF_PUBSUB_ADDR", c.SalesforcePubSubAddr}, {"PGFORCE_SIM_PUBSUB_ADDR", c.SimPubSubAddr}} {
		if a.value == "" {
			continue
		}
		if host, port, err := net.SplitHostPort(a.value); err != nil || host == "" || port == "" {
			bad("%s must be host:port (e.g. api.pubsub.salesforce.com:7443), got %q", a.name, a.value)
		}
	}
	if c.SalesforcePubSubCAFile != "" && c.SalesforcePubSubAddr == "" && c.SalesforceLoginURL == "" {
		bad("PGFORCE_SF_PUBSUB_CA_FILE is for a real org's Pub/Sub API: set PGFORCE_SF_LOGIN_URL (or PGFORCE_SF_PUBSUB_ADDR) too")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("PGFORCE_LOG_LEVEL must be one of debug, info, warn, error, got %q", c.LogLevel)
	}
	return errors.Join(errs...)
}

// redact hides a password in a database URL so it can appear in an error message.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable)"
	}
	return u.Redacted()
}

// Listening returns the configuration once the dashboard listens on addr: with PGFORCE_ADDR's ":0",
// the port is known only then, and links and OAuth callbacks must use it (unless PGFORCE_BASE_URL
// names the public URL).
func (c Config) Listening(addr string) Config {
	explicit := c.BaseURL != Config{Addr: c.Addr, TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile}.WithDefaults().BaseURL
	if strings.HasSuffix(c.Addr, ":0") && !explicit {
		c.BaseURL = Config{Addr: addr, TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile}.WithDefaults().BaseURL
	}
	return c
}

// SimulatedInstanceURL is where the dashboard serves the built-in simulated org (its My Domain).
func (c Config) SimulatedInstanceURL() string { return strings.TrimRight(c.BaseURL, "/") + "/sim" }

// SimulatedLoginURL is the built-in org's generic login host (login.salesforce.com's role); the
// tokens it hands out name the org's instance, SimulatedInstanceURL, where pgforce then sends every call.
func (c Config) SimulatedLoginURL() string { return c.SimulatedInstanceURL() + "/login" }

// EmbeddedOrgLoginURL reports whether a connection's login URL is the built-in org's: its login
// host or its instance (connections made before the login host existed log in there).
func (c Config) EmbeddedOrgLoginURL(loginURL string) bool {
	return strings.TrimSuffix(strings.TrimRight(loginURL, "/"), "/login") == c.SimulatedInstanceURL()
}
