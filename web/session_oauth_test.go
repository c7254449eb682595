package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"pgforce/internal/account"
	"pgforce/sync/engine/enginetest"
)

// eventually waits until cond holds (enginetest.Eventually, the one polling helper).
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	enginetest.Eventually(t, what, timeout, func() (bool, string) { return cond(), "" })
}

func TestSessionCookieIsHttpOnlyAndSameSite(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("ann@example.com", account.Admin)
	res := a.browser().post("/login", url.Values{"email": {"ann@example.com"}, "password": {"long enough password"}})
	var ck *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "pgforce_session" {
			ck = c
		}
	}
	if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" {
		t.Fatalf("session cookie = %+v", ck)
	}
	if len(ck.Value) < 43 { // 32 random bytes, base64: at least 128 bits of entropy (ASVS 7.2.3)
		t.Fatalf("session token %q is too short", ck.Value)
	}
}

// TestActivityDoesNotExtendASessionPastItsAbsoluteLifetime: with a short absolute lifetime and a long
// idle timeout, a user who keeps clicking is still signed out when the lifetime is over.
func TestActivityDoesNotExtendASessionPastItsAbsoluteLifetime(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.h.Sessions.Lifetime = 1500 * time.Millisecond
	a.h.Sessions.IdleTimeout = time.Hour
	a.user("ann@example.com", account.Admin)
	b := a.browser()
	signedIn := time.Now()
	b.login("ann@example.com")
	eventually(t, "the absolute lifetime to end the session", 10*time.Second, func() bool {
		return b.get("/").StatusCode == http.StatusSeeOther // each request is activity
	})
	if lived := time.Since(signedIn); lived < 1500*time.Millisecond {
		t.Fatalf("the session ended after %v, before its lifetime", lived)
	}
	// Signing in again starts a new lifetime.
	b.login("ann@example.com")
	if res := b.get("/"); res.StatusCode != http.StatusOK {
		t.Fatalf("after signing in again: %d", res.StatusCode)
	}
}

// TestQuietSessionsEndAfterTheIdleTimeout: with a short idle timeout, activity keeps the session
// alive; silence ends it, server-side, whatever the cookie says.
func TestQuietSessionsEndAfterTheIdleTimeout(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.h.Sessions.IdleTimeout = 1500 * time.Millisecond
	a.user("ann@example.com", account.Admin)
	b := a.browser()
	b.login("ann@example.com")
	token := b.sessionCookie()
	// Active for longer than the idle timeout: still signed in.
	activeUntil := time.Now().Add(2 * time.Second)
	for time.Now().Before(activeUntil) {
		if res := b.get("/"); res.StatusCode != http.StatusOK {
			t.Fatalf("an active session ended: %d", res.StatusCode)
		}
		time.Sleep(200 * time.Millisecond) // pacing the user's clicks, well inside the idle timeout
	}
	// Quiet: wait (by polling the store, which does not touch the session) until its idle deadline passes.
	eventually(t, "the idle deadline to pass", 10*time.Second, func() bool {
		var expired bool
		err := a.pool.QueryRow(context.Background(), `SELECT expiry < now() FROM sessions WHERE token = $1`, token).Scan(&expired)
		return err != nil || expired
	})
	if res := b.get("/"); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("a quiet session must end: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
}

// TestSignInRateLimitCannotBeDodged: failures are counted per account and per client address, and
// the address is the connection's, not a header the client chooses.
func TestSignInRateLimitCannotBeDodged(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("ann@example.com", account.Admin)
	b := a.browser()
	// Twenty wrong guesses at twenty different accounts, each claiming another address.
	for i := range 20 {
		res := b.post("/login", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong wrong wrong"}},
			"X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i), "X-Real-IP", fmt.Sprintf("198.51.100.%d", i))
		if res.StatusCode != http.StatusUnauthorized && res.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("guess %d: %d", i, res.StatusCode)
		}
	}
	// The address is now over its cap: even the right password for another account is refused.
	res := b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"long enough password"}}, "X-Forwarded-For", "192.0.2.77")
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" || !strings.Contains(res.body, "your network address") {
		t.Fatalf("after 20 failures from one address: %d %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Oversized and malformed emails are failures like others, not server errors.
	for _, email := range []string{strings.Repeat("x", 1<<20) + "@example.com", "nul\x00@example.com", "\xff\xfe@example.com"} {
		if res := a.browser().post("/login", url.Values{"email": {email}, "password": {"x"}}); res.StatusCode >= 500 {
			t.Fatalf("email %.20q: %d", email, res.StatusCode)
		}
	}
}

// TestAFloodOfWrongPasswordsCannotLockTheAdminOut: however many wrong passwords one address sends
// for the only admin, the admin signs in from another address at once; the flooding address is
// slowed (429 with Retry-After, even with the right password) and, across accounts, capped.
func TestAFloodOfWrongPasswordsCannotLockTheAdminOut(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("admin@example.com", account.Admin)
	// Waits of an hour and more: what the test sees does not depend on how fast it runs.
	slow := account.DefaultThrottle
	slow.BaseDelay = time.Hour
	slow.MaxDelay = 2 * time.Hour
	slow.Forget = 3 * time.Hour
	a.h.Accounts = account.NewWithThrottle(a.pool, slow)
	flood := a.browser() // from 127.0.0.1
	refused := 0
	for i := range 60 {
		res := flood.post("/login", url.Values{"email": {"admin@example.com"}, "password": {fmt.Sprintf("guess number %d", i)}})
		switch res.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused++
			if res.Header.Get("Retry-After") == "" || !strings.Contains(res.body, "Too many failed sign-in attempts for this account from your network address") {
				t.Fatalf("guess %d: 429 without Retry-After or the reason", i)
			}
		default:
			t.Fatalf("guess %d: %d", i, res.StatusCode)
		}
	}
	if refused != 55 {
		t.Fatalf("%d of 60 guesses were refused unchecked, want all but the five free ones", refused)
	}
	if res := flood.post("/login", url.Values{"email": {"admin@example.com"}, "password": {"long enough password"}}); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the right password from the flooding address within its wait: %d", res.StatusCode)
	}
	elsewhere := a.browserFrom("127.0.0.2")
	res := elsewhere.post("/login", url.Values{"email": {"admin@example.com"}, "password": {"long enough password"}})
	if res.StatusCode != http.StatusSeeOther || elsewhere.get("/").StatusCode != http.StatusOK {
		t.Fatalf("the admin from another address after the flood: %d\n%.300s", res.StatusCode, res.body)
	}
	// Spread over other accounts, the flood meets the address's cap.
	for i := range 25 {
		flood.post("/login", url.Values{"email": {fmt.Sprintf("guess%d@example.com", i)}, "password": {"wrong wrong wrong"}})
	}
	res = flood.post("/login", url.Values{"email": {"someone@example.com"}, "password": {"wrong wrong wrong"}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(res.body, "Too many failed sign-in attempts from your network address") {
		t.Fatalf("the flooding address over its cap: %d", res.StatusCode)
	}
	if res := a.browserFrom("127.0.0.3").post("/login", url.Values{"email": {"admin@example.com"}, "password": {"long enough password"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a third address is not capped: %d", res.StatusCode)
	}
}

// TestOAuthStateAndVerifierBelongToTheBrowserSession: an authorization started in one browser
// cannot be completed from another, the PKCE verifier sent to Salesforce is the one made for that
// session's state, and a callback works once.
func TestOAuthStateAndVerifierBelongToTheBrowserSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("ann@example.com", account.Admin)
	a.user("bob@example.com", account.Admin)
	ann, bob := a.browser(), a.browser()
	ann.login("ann@example.com")
	bob.login("bob@example.com")
	conn := a.connection("oauth", false)
	authorize := "/connections/" + itoa(conn.ID) + "/authorize"

	annState := stateOf(t, ann.post(authorize, url.Values{}))
	bobState := stateOf(t, bob.post(authorize, url.Values{}))
	if annState == bobState || len(annState) < 32 {
		t.Fatalf("states must be unguessable and per session: %q %q", annState, bobState)
	}
	// Bob's browser presents Ann's state (a login-CSRF or a leaked link): refused, nothing exchanged.
	res := bob.get("/oauth/callback?code=good&state=" + url.QueryEscape(annState))
	if msg := text(bob.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "does not match") {
		t.Fatalf("another session's state: %q", msg)
	}
	a.orgs.mu.Lock()
	exchanged := len(a.orgs.exchanged)
	a.orgs.mu.Unlock()
	if exchanged != 0 {
		t.Fatal("a mismatched callback must not reach Salesforce")
	}
	// Ann completes hers on Salesforce's pages; the verifier exchanged is the one issued with her
	// state. She starts again first: her latest attempt is the one that counts.
	res = ann.post(authorize, url.Values{})
	latest := stateOf(t, res)
	callback := a.approve(res.Header.Get("Location"))
	res = ann.get(callback)
	if res.Header.Get("Location") != "/" {
		t.Fatalf("ann's callback: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	a.orgs.mu.Lock()
	used, issued := a.orgs.exchanged[len(a.orgs.exchanged)-1], a.orgs.issued[latest]
	a.orgs.mu.Unlock()
	if used != issued || len(used) < 43 {
		t.Fatalf("exchanged verifier %q, issued %q", used, issued)
	}
	ann.follow(res) // see the success message
	// Replaying the same callback (browser history, a leaked URL) is refused before reaching Salesforce.
	res = ann.get(callback)
	if msg := text(ann.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "no Salesforce authorization in progress") {
		t.Fatalf("replayed callback: %q", msg)
	}
	a.orgs.mu.Lock()
	if n := len(a.orgs.exchanged); n != 1 {
		t.Errorf("the code was exchanged %d times, want once", n)
	}
	a.orgs.mu.Unlock()
	// The authorize redirect carries the state but never the verifier itself.
	loc := ann.post(authorize, url.Values{}).Header.Get("Location")
	a.orgs.mu.Lock()
	v := a.orgs.verifier
	a.orgs.mu.Unlock()
	if strings.Contains(loc, v) {
		t.Fatalf("the PKCE verifier leaked into the authorize URL: %s", loc)
	}
}

// TestTokensAreEncryptedAtRestAndNeverLogged: after an authorization through the dashboard, no
// stored row holds the access or refresh token, and no log line does either.
func TestTokensAreEncryptedAtRestAndNeverLogged(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	conn := a.connection("tok", false)
	res := b.post("/connections/"+itoa(conn.ID)+"/authorize", url.Values{})
	state := stateOf(t, res)
	callback := a.approve(res.Header.Get("Location"))
	code, _ := url.Parse(callback)
	if res := b.get(callback); res.Header.Get("Location") != "/" {
		t.Fatalf("callback: %d", res.StatusCode)
	}
	var stored string
	var access, refresh []byte
	if err := a.pool.QueryRow(context.Background(), `SELECT c::text, access_token, refresh_token FROM connections c WHERE id = $1`, conn.ID).
		Scan(&stored, &access, &refresh); err != nil {
		t.Fatal(err)
	}
	if len(access) == 0 || len(refresh) == 0 {
		t.Fatal("the authorization stored no tokens")
	}
	var everything string
	if err := a.pool.QueryRow(context.Background(), `SELECT concat_ws('|',
		(SELECT string_agg(c::text, '|') FROM connections c), (SELECT string_agg(l::text, '|') FROM audit_log l),
		(SELECT string_agg(e::text, '|') FROM events e), (SELECT string_agg(s::text, '|') FROM sessions s))`).Scan(&everything); err != nil {
		t.Fatal(err)
	}
	a.orgs.mu.Lock()
	tokens := slices.Clone(a.orgs.tokens)
	a.orgs.mu.Unlock()
	if len(tokens) != 2 {
		t.Fatalf("Salesforce handed out %d tokens, want an access and a refresh token", len(tokens))
	}
	for _, tok := range tokens {
		hexTok := fmt.Sprintf("%x", tok)
		for where, s := range map[string]string{"the connections row": stored, "a stored row": everything, "the log": a.log.String()} {
			if strings.Contains(s, tok) || strings.Contains(s, hexTok) {
				t.Errorf("%s holds the token %q", where, tok)
			}
		}
		if strings.Contains(string(access), tok) || strings.Contains(string(refresh), tok) {
			t.Errorf("a token column holds %q in the clear", tok)
		}
	}
	// The authorization code and state are not logged either (the request log has paths, not queries).
	if strings.Contains(a.log.String(), code.Query().Get("code")) || strings.Contains(a.log.String(), state) {
		t.Error("the callback's code or state reached the log")
	}
}
