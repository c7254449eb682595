package config

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"pgforce/internal/keyring"
)

// FromEnv reads the environment (through getenv: main is the one place that reads it) into a
// validated Config. A missing secret key is generated into a
// 0600 file under the user's config directory, with a one-time warning.
func FromEnv(getenv func(string) string, stdout io.Writer) (Config, error) {
	cfg := Config{
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
	if raw := getenv("PGFORCE_SIM_LATENCY"); raw != "" {
		d, err := time.ParseDuration(raw)
		if err != nil || d < 0 {
			return cfg, fmt.Errorf("PGFORCE_SIM_LATENCY must be a duration such as 150ms, got %q", raw)
		}
		cfg.SimLatency = d
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
