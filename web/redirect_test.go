package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pgforce/internal/account"
)

// hostileNexts are values of `next` that a browser following them as a Location would take off the
// dashboard's site: every ASCII control character (browsers drop tabs and newlines, so "/\t/host" is
// "//host"), backslashes (read as "/"), their percent-encoded forms, and plain other-site URLs.
func hostileNexts() []string {
	var out []string
	for _, c := range append(asciiControls(), 0x7f) {
		ch := string(rune(c))
		out = append(out, "/"+ch+"/evil.example", fmt.Sprintf("/%%%02x/evil.example", c), fmt.Sprintf("/%%%02X/evil.example", c), "/settings"+ch)
	}
	for _, enc := range []string{"%09", "%0a", "%0d", "%5c", "%5C"} {
		out = append(out, "/"+enc+"evil.example", "/settings"+enc)
	}
	return append(out, "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/%5c%5cevil.example",
		"/%2f/evil.example", "/%2fevil.example", "/%2F%2Fevil.example", "/%09%2fevil.example", "https://evil.example/", "http:/evil.example",
		"https:evil.example", "javascript:alert(1)", "evil.example", "./evil.example", "/%zz", "/\xff\xfe", "/caf\u0085")
}

// asciiControls are the C0 control characters, 0x00 to 0x1f.
func asciiControls() []int {
	var cs []int
	for c := range 0x20 {
		cs = append(cs, c)
	}
	return cs
}

// friendlyNexts are local paths that must survive as they are.
var friendlyNexts = []string{"/mappings?conn=2", "/settings#orphans", "/explorer?mapping=1&q=a%2Fb%20c", "/mappings/7/edit"}

// TestNextNeverLeavesTheSite checks every hostile `next` where the dashboard redirects to one: after
// signing in (POST /login), at the sign-in page when already signed in (GET /login), and after an
// authorization (carried from POST …/authorize through the OAuth callback). Each lands on "/".
func TestNextNeverLeavesTheSite(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.user("ann@example.com", account.Admin)
	signedIn := a.browser()
	signedIn.login("ann@example.com")
	conn := a.connection("next", false)
	authorize := "/connections/" + itoa(conn.ID) + "/authorize"

	check := func(surface, next, want string, res response) {
		t.Helper()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != want {
			t.Errorf("%s with next=%q: %d Location %q, want 303 %q", surface, next, res.StatusCode, res.Header.Get("Location"), want)
		}
	}
	try := func(next, want string) {
		t.Helper()
		b := a.browser()
		check("POST /login", next, want, b.post("/login", url.Values{"email": {"ann@example.com"}, "password": {"long enough password"}, "next": {next}}))
		check("GET /login signed in", next, want, signedIn.get("/login?next="+url.QueryEscape(next)))
		res := signedIn.post(authorize, url.Values{"next": {next}})
		stateOf(t, res)
		check("the OAuth callback", next, want, signedIn.get(a.approve(res.Header.Get("Location"))))
	}
	hostile := hostileNexts()
	for _, next := range hostile {
		try(next, "/")
	}
	for _, next := range friendlyNexts {
		try(next, next)
	}
	t.Logf("%d hostile and %d local values of next on 3 surfaces", len(hostile), len(friendlyNexts))
}

// TestACrossSiteCallbackCannotCancelAnAuthorizationInProgress: links from another site to the OAuth
// callback, with a wrong state, no state, or an error, are refused and leave the admin's
// authorization in progress alone; the real answer from Salesforce then completes it.
func TestACrossSiteCallbackCannotCancelAnAuthorizationInProgress(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	conn := a.connection("xsite", false)
	res := b.post("/connections/"+itoa(conn.ID)+"/authorize", url.Values{})
	state := stateOf(t, res)
	genuine := a.approve(res.Header.Get("Location"))
	for _, forged := range []string{"", "?code=good", "?code=good&state=forged", "?code=good&state=" + url.QueryEscape(state[:len(state)-1]),
		"?error=access_denied", "?error=access_denied&state=forged", "?state=&code=good"} {
		res := b.do(http.MethodGet, "/oauth/callback"+forged, nil, "Sec-Fetch-Site", "cross-site")
		if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "does not match") || !strings.Contains(msg, "Nothing changed") {
			t.Errorf("cross-site GET /oauth/callback%s: %q", forged, msg)
		}
	}
	a.orgs.mu.Lock()
	exchanged := len(a.orgs.exchanged)
	a.orgs.mu.Unlock()
	if exchanged != 0 {
		t.Fatalf("a forged callback reached Salesforce (%d exchanges)", exchanged)
	}
	res = b.get(genuine)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("the genuine callback after the forged ones: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "Connected conn xsite") {
		t.Fatalf("the authorization completes: %q", msg)
	}
}
