package config

import (
	"strings"
	"testing"
)

func valid() Config {
	return Config{SecretKey: make([]byte, 32)}.WithDefaults()
}

func TestDefaultsAreValid(t *testing.T) {
	c := valid()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults should be valid: %v", err)
	}
	if c.Addr != "127.0.0.1:8080" || c.BaseURL != "http://127.0.0.1:8080" || c.Schema != "pgforce" {
		t.Fatalf("unexpected defaults: %+v", c)
	}
	if !c.EmbeddedOrg() {
		t.Fatal("without a Salesforce login URL the simulated org is the default")
	}
	if c.SimPubSubAddr != "127.0.0.1:0" || c.SalesforcePubSubAddr != "" {
		t.Fatalf("the simulated org's Pub/Sub API takes a free loopback port, a real org Salesforce's endpoint: %+v", c)
	}
}

func TestValidationNamesTheVariableToFix(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"bad database url", func(c *Config) { c.DatabaseURL = "mysql://x" }, "DATABASE_URL must be a postgres:// URL"},
		{"password is redacted", func(c *Config) { c.DatabaseURL = "mysql://u:hunter2@x/db" }, "xxxxx"},
		{"schema with a quote", func(c *Config) { c.Schema = `a"b` }, "PGFORCE_DB_SCHEMA must be a lower-case identifier"},
		{"schema upper case", func(c *Config) { c.Schema = "Pgforce" }, "PGFORCE_DB_SCHEMA"},
		{"address without port", func(c *Config) { c.Addr = "localhost" }, "PGFORCE_ADDR must be host:port"},
		{"metrics address without port", func(c *Config) { c.MetricsAddr = "localhost" }, "PGFORCE_METRICS_ADDR must be host:port"},
		{"metrics on the dashboard address", func(c *Config) { c.MetricsAddr = c.Addr }, "PGFORCE_METRICS_ADDR must differ from PGFORCE_ADDR"},
		{"relative base url", func(c *Config) { c.BaseURL = "/pgforce" }, "PGFORCE_BASE_URL must be an absolute http(s) URL"},
		{"short secret key", func(c *Config) { c.SecretKey = make([]byte, 16) }, "PGFORCE_SECRET_KEY must be 32 bytes"},
		{"missing secret key", func(c *Config) { c.SecretKey = nil }, "got 0 bytes"},
		{"cert without key", func(c *Config) { c.TLSCertFile = "cert.pem" }, "PGFORCE_TLS_CERT and PGFORCE_TLS_KEY must be set together"},
		{"real org without credentials", func(c *Config) { c.SalesforceLoginURL = "https://login.salesforce.com" }, "PGFORCE_SF_CLIENT_ID and PGFORCE_SF_CLIENT_SECRET are required"},
		{"bad login url", func(c *Config) {
			c.SalesforceLoginURL, c.SalesforceClientID, c.SalesforceClientSecret = "login.salesforce.com", "id", "secret"
		}, "PGFORCE_SF_LOGIN_URL must be an absolute URL"},
		{"bad log level", func(c *Config) { c.LogLevel = "loud" }, "PGFORCE_LOG_LEVEL must be one of"},
		{"pub/sub address without port", func(c *Config) { c.SalesforcePubSubAddr = "api.pubsub.salesforce.com" }, "PGFORCE_SF_PUBSUB_ADDR must be host:port"},
		{"simulated pub/sub address without host", func(c *Config) { c.SimPubSubAddr = ":7443" }, "PGFORCE_SIM_PUBSUB_ADDR must be host:port"},
		{"pub/sub CA without a real org", func(c *Config) { c.SalesforcePubSubCAFile = "ca.pem" }, "PGFORCE_SF_PUBSUB_CA_FILE is for a real org"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("the error leaks a password: %v", err)
			}
		})
	}
}

func TestValidateReportsEveryProblemAtOnce(t *testing.T) {
	c := valid()
	c.Addr, c.Schema = "nope", "Bad"
	err := c.Validate()
	if err == nil || !strings.Contains(err.Error(), "PGFORCE_ADDR") || !strings.Contains(err.Error(), "PGFORCE_DB_SCHEMA") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

func TestBaseURLFollowsAddressAndTLS(t *testing.T) {
	c := Config{Addr: "0.0.0.0:9000", TLSCertFile: "c", TLSKeyFile: "k"}.WithDefaults()
	if c.BaseURL != "https://localhost:9000" {
		t.Fatalf("BaseURL = %q", c.BaseURL)
	}
	if !c.SecureCookies() {
		t.Fatal("https base URL must use secure cookies")
	}
	c = Config{BaseURL: "https://sync.example.com/"}.WithDefaults()
	if c.BaseURL != "https://sync.example.com" || !c.SecureCookies() {
		t.Fatalf("a TLS proxy in front still means secure cookies: %+v", c)
	}
}
