package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"pgforce/internal/account"
	"pgforce/internal/cli"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
)

// authorizeAnswer asks an org's authorize endpoint for the web-server flow back to redirect, as a
// browser that does not follow redirects.
func authorizeAnswer(t *testing.T, login, redirect, responseType string) (int, string, string) {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// With a PKCE challenge, as the built-in connected app requires (RFC 7636's example).
	q := url.Values{"client_id": {sforg.DemoClientID}, "redirect_uri": {redirect}, "response_type": {responseType}, "state": {"s"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}
	res, err := c.Get(login + "/services/oauth2/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Location"), string(body)
}

// TestTheEmbeddedOrgSendsBrowsersOnlyToTheDashboard: the simulated org on the product's own origin,
// with its public demo client id, has the dashboard's callback registered and no other: it cannot be
// used to bounce a browser from pgforce's address to another site.
func TestTheEmbeddedOrgSendsBrowsersOnlyToTheDashboard(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	p := startProduct(t, env)
	for _, rt := range []string{"token", "code"} {
		status, loc, body := authorizeAnswer(t, p.BaseURL+"/sim", "https://evil.example/x", rt)
		if status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "error=redirect_uri_mismatch") {
			t.Fatalf("response_type=%s to evil.example: %d Location %q\n%s", rt, status, loc, body)
		}
	}
	if status, loc, _ := authorizeAnswer(t, p.BaseURL+"/sim", p.BaseURL+"/oauth/callback", "code"); status != http.StatusOK || loc != "" {
		t.Fatalf("the dashboard's callback gets the login page: %d %q", status, loc)
	}
}

// TestTheStandaloneOrgRegistersTheCallbackURLsItIsGiven: `pgforce sforg --callback-url` registers
// callbacks (repeatable); others are refused, none registered refuses the web-server flow, and a
// flag that is not an absolute URL stops start-up with a clear message.
func TestTheStandaloneOrgRegistersTheCallbackURLsItIsGiven(t *testing.T) {
	t.Parallel()
	start := func(args ...string) (string, *lineLog) {
		t.Helper()
		ctx, cancel := context.WithCancel(context.Background())
		pr, pw := io.Pipe()
		out := &lineLog{added: make(chan struct{})}
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				out.add(sc.Text())
			}
		}()
		done := make(chan error, 1)
		go func() {
			done <- run(ctx, append([]string{"pgforce", "sforg", "--addr", "127.0.0.1:0", "--seed", "0"}, args...), func(string) string { return "" }, nil, pw)
			pw.Close()
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("pgforce sforg: %v", err)
			}
		})
		return out.wait(t, regexp.MustCompile(regexp.QuoteMeta(cli.SimulatedOrgListening)+`(http://\S+)`), 30*time.Second), out
	}
	base, out := start("--callback-url", "http://localhost:3000/oauth/callback", "--callback-url", "myapp://auth/done")
	out.wait(t, regexp.MustCompile(`OAuth callback URLs (http://localhost:3000/oauth/callback, myapp://auth/done)`), time.Second)
	for _, cb := range []string{"http://localhost:3000/oauth/callback", "myapp://auth/done"} {
		if status, _, _ := authorizeAnswer(t, base, cb, "code"); status != http.StatusOK {
			t.Errorf("registered %s: %d", cb, status)
		}
	}
	if status, loc, body := authorizeAnswer(t, base, "http://localhost:3001/oauth/callback", "code"); status != http.StatusBadRequest || loc != "" || !strings.Contains(body, "redirect_uri_mismatch") {
		t.Errorf("unregistered callback: %d %q", status, loc)
	}

	base, out = start()
	out.wait(t, regexp.MustCompile(`(no OAuth callback URL registered)`), time.Second)
	if status, loc, _ := authorizeAnswer(t, base, "http://localhost:3000/oauth/callback", "code"); status != http.StatusBadRequest || loc != "" {
		t.Errorf("with none registered: %d %q", status, loc)
	}

	for _, bad := range []string{"localhost:3000/cb", "/oauth/callback", "http://app.example/cb#frag", "%zz"} {
		var sink strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second) // a flag taken by mistake would serve forever
		err := run(ctx, []string{"pgforce", "sforg", "--addr", "127.0.0.1:0", "--callback-url", bad}, func(string) string { return "" }, nil, &sink)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "is not a callback URL") {
			t.Errorf("--callback-url %q: %v", bad, err)
		}
	}
}

// TestAnAdminUnlocksAUserFromTheShell: `pgforce user unlock --email E` lifts the waits failed
// sign-ins put on an account, from every address, at once.
func TestAnAdminUnlocksAUserFromTheShell(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	t.Cleanup(func() { storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"]) })
	if _, err := runCmd(t, env, "piped password 123\n", "user", "add", "--email", "ops@example.com", "--role", "admin"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pool, err := store.Open(ctx, store.Options{URL: env["DATABASE_URL"], Schema: env["PGFORCE_DB_SCHEMA"]})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	accounts := account.New(pool)
	for range 5 {
		_, _ = accounts.Authenticate(ctx, "ops@example.com", "wrong password!", "192.0.2.50")
	}
	if _, err := accounts.Authenticate(ctx, "ops@example.com", "piped password 123", "192.0.2.50"); !failure.Is(err, failure.RateLimited) {
		t.Fatalf("after five failures the address waits: %v", err)
	}
	out, err := runCmd(t, env, "", "user", "unlock", "--email", "Ops@Example.com")
	if err != nil || !strings.Contains(out, "unlocked ops@example.com: sign-in delays lifted for 1 address") {
		t.Fatalf("unlock: %v\n%s", err, out)
	}
	if _, err := accounts.Authenticate(ctx, "ops@example.com", "piped password 123", "192.0.2.50"); err != nil {
		t.Fatalf("after unlock: %v", err)
	}
	if _, err := runCmd(t, env, "", "user", "unlock", "--email", "nobody@example.com"); err == nil || !strings.Contains(err.Error(), "no user nobody@example.com") {
		t.Fatalf("unlocking an unknown user: %v", err)
	}
}
