package main

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgforce/internal/config"
	"pgforce/internal/keyring"
	"pgforce/sync/store/storetest"
)

func runCmd(t *testing.T, env map[string]string, stdin string, args ...string) (string, error) {
	t.Helper()
	var out strings.Builder
	err := run(context.Background(), append([]string{"pgforce"}, args...), func(k string) string { return env[k] }, strings.NewReader(stdin), &out)
	return out.String(), err
}

func TestUserAddListRemoveFromTheShell(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	t.Cleanup(func() { storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"]) })

	out, err := runCmd(t, env, "piped password 123\n", "user", "add", "--email", "Ops@Example.com", "--role", "admin")
	if err != nil || !strings.Contains(out, "added ops@example.com (admin)") || strings.Contains(out, "password (shown once)") {
		t.Fatalf("add with piped password: %v\n%s", err, out)
	}
	out, err = runCmd(t, env, "", "user", "add", "--email", "viewer@example.com")
	if err != nil || !strings.Contains(out, "added viewer@example.com (viewer)") || !strings.Contains(out, "password (shown once): ") {
		t.Fatalf("add with generated password: %v\n%s", err, out)
	}
	out, err = runCmd(t, env, "", "user", "list")
	if err != nil || !strings.Contains(out, "ops@example.com") || !strings.Contains(out, "viewer@example.com") {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, err := runCmd(t, env, "", "user", "add", "--email", "x@example.com", "--role", "owner"); err == nil || !strings.Contains(err.Error(), "role must be admin or viewer") {
		t.Fatalf("bad role: %v", err)
	}
	if _, err := runCmd(t, env, "short\n", "user", "add", "--email", "y@example.com"); err == nil || !strings.Contains(err.Error(), "at least 12 characters") {
		t.Fatalf("short password: %v", err)
	}
	if _, err := runCmd(t, env, "", "user", "remove", "--email", "ops@example.com"); err == nil || !strings.Contains(err.Error(), "last admin") {
		t.Fatalf("removing the last admin: %v", err)
	}
	if out, err := runCmd(t, env, "", "user", "remove", "--email", "viewer@example.com"); err != nil || !strings.Contains(out, "removed viewer@example.com") {
		t.Fatalf("remove: %v %s", err, out)
	}
}

func TestConfigErrorsStopStartUpClearly(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["PGFORCE_SECRET_KEY"] = "dG9vIHNob3J0"
	if _, err := runCmd(t, env, "", "serve"); err == nil || !strings.Contains(err.Error(), "PGFORCE_SECRET_KEY") || !strings.Contains(err.Error(), "32 bytes") {
		t.Fatalf("short key: %v", err)
	}
	env = testEnv(t)
	env["PGFORCE_ADDR"] = "nonsense"
	if _, err := runCmd(t, env, "", "serve"); err == nil || !strings.Contains(err.Error(), "PGFORCE_ADDR must be host:port") {
		t.Fatalf("bad addr: %v", err)
	}
	if _, err := runCmd(t, testEnv(t), "", "frobnicate"); err == nil || !strings.Contains(err.Error(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestMissingSecretKeyIsGeneratedOnceWithAWarning(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	delete(env, "PGFORCE_SECRET_KEY")
	var out strings.Builder
	cfg, err := config.FromEnv(func(k string) string { return env[k] }, &out)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(env["HOME"], ".config", "pgforce", "secret.key")
	if cfg.SecretKeyFile != path || !strings.Contains(out.String(), "WARNING: PGFORCE_SECRET_KEY is not set") {
		t.Fatalf("key file %q, output %q", cfg.SecretKeyFile, out.String())
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	out.Reset()
	cfg2, err := config.FromEnv(func(k string) string { return env[k] }, &out)
	if err != nil || string(cfg2.SecretKey) != string(cfg.SecretKey) || out.Len() != 0 {
		t.Fatalf("second start must reuse the key silently: %v %q", err, out.String())
	}
}

func TestServeAnswersHealthAndReadiness(t *testing.T) {
	t.Parallel()
	p := startProduct(t, nil)
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": "ready"} {
		body, status := httpGet(t, p.BaseURL+path)
		if status != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s: %d %q", path, status, body)
		}
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
}

// TestBadSecretKeysStopStartUpClearly: a secret key that is not 32 bytes of base64, given in the
// environment or kept in the key file, stops start-up with a message that names where it came from
// and how to make a good one. Nothing is overwritten.
func TestBadSecretKeysStopStartUpClearly(t *testing.T) {
	t.Parallel()
	b64 := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	for _, tc := range []struct {
		name, env, file string
		want            []string
	}{
		{name: "env not base64", env: "this is not base64!", want: []string{"PGFORCE_SECRET_KEY", "not valid base64", "openssl rand -base64 32"}},
		{name: "env too short", env: b64(16), want: []string{"PGFORCE_SECRET_KEY", "32 bytes, got 16"}},
		{name: "env too long", env: b64(64), want: []string{"PGFORCE_SECRET_KEY", "32 bytes, got 64"}},
		{name: "file garbage", file: "\x00\xffgarbage", want: []string{"secret.key", "not valid base64"}},
		{name: "file too short", file: b64(31), want: []string{"secret.key", "32 bytes, got 31"}},
		{name: "file empty", file: "\n", want: []string{"secret.key", "32 bytes, got 0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := testEnv(t)
			delete(env, "PGFORCE_SECRET_KEY")
			path := filepath.Join(env["HOME"], "secret.key")
			env["PGFORCE_SECRET_KEY_FILE"] = path
			if tc.env != "" {
				env["PGFORCE_SECRET_KEY"] = tc.env
			}
			if tc.file != "" {
				if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			_, err := runCmd(t, env, "", "serve")
			if err == nil {
				t.Fatal("start-up must fail")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if tc.file != "" {
				if got, _ := os.ReadFile(path); string(got) != tc.file {
					t.Error("a bad key file must be left as it is, not replaced")
				}
			}
		})
	}
}

// TestGeneratedSecretKeyFileIsPrivate: with no key configured, the generated key file is readable by
// its owner only, in a directory only its owner can enter, and holds a valid 32-byte key.
func TestGeneratedSecretKeyFileIsPrivate(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	delete(env, "PGFORCE_SECRET_KEY")
	env["XDG_CONFIG_HOME"] = filepath.Join(env["HOME"], "xdg")
	cfg, err := config.FromEnv(func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(env["XDG_CONFIG_HOME"], "pgforce", "secret.key")
	st, err := os.Stat(want)
	if cfg.SecretKeyFile != want || err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %q: %v %v", cfg.SecretKeyFile, st, err)
	}
	if dir, err := os.Stat(filepath.Dir(want)); err != nil || dir.Mode().Perm()&0o077 != 0 {
		t.Fatalf("key directory: %v %v", dir, err)
	}
	raw, _ := os.ReadFile(want)
	if key, err := keyring.DecodeKey(string(raw)); err != nil || len(key) != 32 || string(key) != string(cfg.SecretKey) {
		t.Fatalf("key file content: %v", err)
	}
}
