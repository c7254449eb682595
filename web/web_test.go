package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"pgforce/internal/account"
	"pgforce/web"
)

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	for _, path := range []string{"/login", "/healthz", "/no-such-page", "/", "/static/nope.css"} {
		res := b.get(path)
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP = %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: missing nosniff or Referrer-Policy: %v", path, h)
		}
		if h.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS must not be sent over plain HTTP", path)
		}
	}
}

func TestUnknownPageIsAFriendly404(t *testing.T) {
	t.Parallel()
	res := newApp(t).browser().get("/no-such-page")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(res.body, "There is no page at this address.") {
		t.Fatalf("status %d body %q", res.StatusCode, res.body)
	}
}

func TestSignInRenewsTheSessionAndSignOutEndsItOnTheServer(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("ann@example.com", account.Admin)
	b := a.browser()

	res := b.get("/")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2F" {
		t.Fatalf("anonymous overview: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	b.get("/login")
	before := b.sessionCookie()
	res = b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"long enough password"}, "next": {"/settings"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/settings" {
		t.Fatalf("login: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	after := b.sessionCookie()
	if after == "" || after == before {
		t.Fatalf("session token must change at sign-in (before %q, after %q)", before, after)
	}
	// The server-side session expires after the idle timeout, not the absolute one.
	var expiry time.Time
	if err := a.pool.QueryRow(context.Background(), `SELECT expiry FROM sessions WHERE token = $1`, after).Scan(&expiry); err != nil {
		t.Fatal(err)
	}
	if d := time.Until(expiry); d > web.IdleTimeout || d < web.IdleTimeout-time.Minute {
		t.Fatalf("session expires in %v, want about %v", d, web.IdleTimeout)
	}
	res = b.get("/")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, `data-testid="nav"`) || !strings.Contains(res.body, "ann@example.com") {
		t.Fatalf("overview after login: %d", res.StatusCode)
	}

	// Keep a copy of the cookie, sign out, and replay it: the server must have forgotten it.
	stolen := a.browser()
	u, _ := url.Parse(a.srv.URL)
	stolen.c.Jar.SetCookies(u, []*http.Cookie{{Name: "pgforce_session", Value: after}})
	res = b.post("/logout", url.Values{})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("logout: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	if res := stolen.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("replayed cookie after logout got %d, want a redirect to sign in", res.StatusCode)
	}
}

func TestIdleSessionExpires(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("ann@example.com", account.Admin)
	b := a.browser()
	b.login("ann@example.com")
	// Age the session past its idle deadline, as 30 quiet minutes would.
	if _, err := a.pool.Exec(context.Background(), `UPDATE sessions SET expiry = now() - interval '1 second'`); err != nil {
		t.Fatal(err)
	}
	if res := b.get("/"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("expired session still served the overview: %d", res.StatusCode)
	}
}

// TestWrongPasswordsThenAWait: the sign-in page says why it refuses: a wrong password, then (after
// the free attempts) how long to wait, and during the wait 429 with Retry-After.
func TestWrongPasswordsThenAWait(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("ann@example.com", account.Admin)
	slow := account.DefaultThrottle
	slow.BaseDelay, slow.MaxDelay, slow.Forget = time.Hour, 2*time.Hour, 3*time.Hour // no test runs into the wait's end
	a.h.Accounts = account.NewWithThrottle(a.pool, slow)
	b := a.browser()
	for i := range 4 {
		res := b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"nope nope nope"}})
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "The email or password is not correct.") {
			t.Fatalf("attempt %d: %d", i+1, res.StatusCode)
		}
	}
	res := b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"nope nope nope"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "After several failed attempts, wait 60 minutes before the next one.") {
		t.Fatalf("fifth attempt: %d\n%s", res.StatusCode, text(res.doc(t), `[role="alert"]`))
	}
	res = b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"long enough password"}})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" ||
		!strings.Contains(res.body, "Too many failed sign-in attempts for this account from your network address. Try again in 60 minutes.") {
		t.Fatalf("during the wait: %d %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
}

func TestViewerCanLookButNotAct(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("admin@example.com", account.Admin)
	a.user("viewer@example.com", account.Viewer)
	b := a.browser()
	b.login("viewer@example.com")
	res := b.get("/settings/users")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "disabled") {
		t.Fatalf("viewer sees users with disabled actions: %d", res.StatusCode)
	}
	res = b.post("/settings/users", url.Values{"email": {"new@example.com"}, "role": {"admin"}, "password": {"long enough password"}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "can look but not change anything") {
		t.Fatalf("viewer POST: %d", res.StatusCode)
	}
	if n, _ := a.accounts.Count(context.Background()); n != 2 {
		t.Fatalf("a viewer's POST changed something: %d users", n)
	}
}

func TestAdminAddsAndRemovesUsers(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("admin@example.com", account.Admin)
	b := a.browser()
	b.login("admin@example.com")
	res := b.post("/settings/users", url.Values{"email": {"bad"}, "role": {"viewer"}, "password": {"long enough password"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, `data-testid="error-email"`) {
		t.Fatalf("invalid email: %d", res.StatusCode)
	}
	res = b.post("/settings/users", url.Values{"email": {"new@example.com"}, "role": {"viewer"}, "password": {"long enough password"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("add: %d %s", res.StatusCode, res.body)
	}
	if res := b.get("/settings/users"); !strings.Contains(res.body, "Added new@example.com as viewer.") || !strings.Contains(res.body, "new@example.com") {
		t.Fatalf("flash and list after add: %s", res.body)
	}
	res = b.post("/settings/users/remove", url.Values{"email": {"new@example.com"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("remove: %d", res.StatusCode)
	}
	if n, _ := a.accounts.Count(context.Background()); n != 1 {
		t.Fatalf("users after remove: %d", n)
	}
}

func TestCrossSitePostIsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("admin@example.com", account.Admin)
	b := a.browser()
	b.login("admin@example.com")
	form := url.Values{"email": {"evil@example.com"}, "role": {"admin"}, "password": {"long enough password"}}
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
		res := b.post("/settings/users", form, hdr...)
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "came from another site") {
			t.Fatalf("%v: %d", hdr, res.StatusCode)
		}
	}
	// A same-origin browser request passes.
	res := b.post("/settings/users", form, "Sec-Fetch-Site", "same-origin", "Origin", a.srv.URL)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("same-origin: %d %s", res.StatusCode, res.body)
	}
}

// TestEveryRouteEnforcesItsAccess walks the whole route table: anonymous users are sent to sign in
// (pages) or refused (actions), viewers are refused every admin action.
func TestEveryRouteEnforcesItsAccess(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("admin@example.com", account.Admin)
	a.user("viewer@example.com", account.Viewer)
	viewer := a.browser()
	viewer.login("viewer@example.com")
	anon := a.browser()
	checked := 0
	for _, r := range web.Routes(nil) {
		if r.Access.Bearer() {
			continue // token routes: TestEveryAPIRouteRefusesMissingBadAndRevokedTokens
		}
		path := strings.NewReplacer(":id", "1", ":name", "x").Replace(r.Path)
		switch r.Access {
		case web.Public:
			continue
		case web.Viewer, web.Admin:
			res := anon.do(r.Method, path, url.Values{})
			want := http.StatusUnauthorized
			if r.Method == http.MethodGet {
				want = http.StatusSeeOther
			}
			if res.StatusCode != want {
				t.Errorf("anonymous %s %s: %d, want %d", r.Method, r.Path, res.StatusCode, want)
			}
		}
		if r.Access == web.Admin {
			if res := viewer.do(r.Method, path, url.Values{}); res.StatusCode != http.StatusForbidden {
				t.Errorf("viewer %s %s: %d, want 403", r.Method, r.Path, res.StatusCode)
			}
		}
		if r.Method != http.MethodGet && r.Access != web.Admin && r.Path != "/logout" {
			t.Errorf("%s %s changes state but is not admin-only", r.Method, r.Path)
		}
		checked++
	}
	t.Logf("%d routes checked", checked)
}

func TestOverTLSCookiesAreHostPrefixedAndSecureWithHSTS(t *testing.T) {
	t.Parallel()
	a := newAppTLS(t, true)
	a.user("ann@example.com", account.Admin)
	b := a.browser()
	res := b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"long enough password"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("login over TLS: %d", res.StatusCode)
	}
	if hsts := res.Header.Get("Strict-Transport-Security"); !strings.Contains(hsts, "max-age=31536000") {
		t.Fatalf("HSTS = %q", hsts)
	}
	var cookie *http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "__Host-pgforce_session" {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.Path != "/" || cookie.Domain != "" || cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie over TLS = %+v", cookie)
	}
	if res := b.get("/"); res.StatusCode != http.StatusOK {
		t.Fatalf("signed-in page over TLS: %d", res.StatusCode)
	}
}
