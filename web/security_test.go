package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"pgforce/internal/account"
	"pgforce/internal/apitoken"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/web"
)

// These tests walk the route table itself (web.Routes), so a route added later is covered without
// touching them.

// site is a dashboard with something behind every route: an admin and a viewer signed in, an
// authorized connection with a mapping, so ids in paths name things that exist and a refusal cannot
// be mistaken for "not found".
type site struct {
	*app
	admin, viewer *browser
	conn          connection.Connection
	mapping       mapping.Mapping
}

func newSite(t *testing.T) *site {
	t.Helper()
	a := newApp(t)
	a.user("admin@example.com", account.Admin)
	a.user("viewer@example.com", account.Viewer)
	s := &site{app: a, admin: a.browser(), viewer: a.browser()}
	s.admin.login("admin@example.com")
	s.viewer.login("viewer@example.com")
	s.conn = a.connection("sec", true)
	s.mapping = a.mapping(s.conn.ID, "Account", "Name", "Phone")
	return s
}

// path fills a route's parameters with things that exist.
func (s *site) path(r web.Route) string {
	p := r.Path
	switch {
	case strings.HasPrefix(p, "/connections/:id"):
		p = strings.Replace(p, ":id", itoa(s.conn.ID), 1)
	case strings.HasPrefix(p, "/mappings/:id"):
		p = strings.Replace(p, ":id", itoa(s.mapping.ID), 1)
	case strings.HasPrefix(p, "/explorer/:mapping/:id"):
		p = strings.NewReplacer(":mapping", itoa(s.mapping.ID), ":id", "1").Replace(p)
	}
	p = strings.NewReplacer(":object", "Account", ":id", "1").Replace(p)
	if strings.Contains(p, ":") {
		s.t.Fatalf("route %s has a parameter this test does not know; teach site.path about it", r.Path)
	}
	return p
}

// state is a fingerprint of everything an action could change.
func (s *site) state(t *testing.T) string {
	t.Helper()
	var fp string
	err := s.pool.QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM audit_log)::text || '|' ||
		COALESCE((SELECT md5(string_agg(c::text, ',' ORDER BY c.id)) FROM connections c), '') || '|' ||
		COALESCE((SELECT md5(string_agg(m::text, ',' ORDER BY m.id)) FROM mappings m), '') || '|' ||
		COALESCE((SELECT md5(string_agg(u.email || u.role, ',' ORDER BY u.id)) FROM users u), '')`).Scan(&fp)
	if err != nil {
		t.Fatal(err)
	}
	return fp
}

// changesState reports whether a route is an action (anything but a read).
func changesState(r web.Route) bool { return r.Method != http.MethodGet && r.Method != http.MethodHead }

// hasMessage reports whether an error response tells the user what went wrong.
func hasMessage(body string) bool {
	return strings.Contains(body, `"message":"`) || strings.Contains(body, `data-testid="error-`) || strings.Contains(body, `data-testid="flash"`) || strings.Contains(body, `role="alert"`)
}

func TestAnonymousVisitorsAreSentToSignInOrRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	anon := s.browser()
	before := s.state(t)
	covered := 0
	for _, r := range web.Routes(nil) {
		if r.Access == web.Public {
			continue
		}
		path := s.path(r)
		covered++
		res := anon.do(r.Method, path, url.Values{})
		if r.Access.Bearer() {
			// The API and /metrics take no session: without a token, 401 and a JSON error.
			if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, `"message"`) {
				t.Errorf("anonymous %s %s: %d %.100s, want 401 with an error object", r.Method, path, res.StatusCode, res.body)
			}
			continue
		}
		if !changesState(r) {
			login := "/login?next=" + url.QueryEscape(path)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != login {
				t.Errorf("anonymous GET %s: %d → %q, want 303 → %q", path, res.StatusCode, res.Header.Get("Location"), login)
			}
			// htmx requests cannot follow a redirect to a page: they get 401 and HX-Redirect.
			res = anon.htmx(r.Method, path, nil)
			if res.StatusCode != http.StatusUnauthorized || res.Header.Get("HX-Redirect") != login {
				t.Errorf("anonymous htmx GET %s: %d HX-Redirect %q", path, res.StatusCode, res.Header.Get("HX-Redirect"))
			}
			continue
		}
		if res.StatusCode != http.StatusUnauthorized || !strings.Contains(res.body, "Sign in again") {
			t.Errorf("anonymous %s %s: %d, want 401 with a sign-in message", r.Method, path, res.StatusCode)
		}
	}
	if after := s.state(t); after != before {
		t.Fatal("an anonymous request changed something")
	}
	t.Logf("%d signed-in routes refuse anonymous visitors", covered)
}

func TestViewersCannotChangeAnything(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	before := s.state(t)
	covered := 0
	for _, r := range web.Routes(nil) {
		// Every action is admin-only, except signing in, first-run setup and signing out.
		if changesState(r) && r.Access != web.Admin && r.Access != web.APIWrite && r.Path != "/login" && r.Path != "/setup" && r.Path != "/logout" {
			t.Errorf("%s %s changes state but is open to %s", r.Method, r.Path, r.Access)
		}
		path := s.path(r)
		if r.Access == web.APIWrite {
			// A signed-in viewer's cookies do not open the API; its role walk is in api_test.go.
			covered++
			if res := s.viewer.do(r.Method, path, url.Values{}); res.StatusCode != http.StatusUnauthorized {
				t.Errorf("viewer session %s %s: %d, want 401", r.Method, path, res.StatusCode)
			}
			continue
		}
		if r.Access != web.Admin {
			continue
		}
		covered++
		for _, hx := range []bool{false, true} {
			var res response
			if hx {
				res = s.viewer.htmx(r.Method, path, url.Values{"confirm": {"yes"}})
			} else {
				res = s.viewer.do(r.Method, path, url.Values{"confirm": {"yes"}})
			}
			if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "can look but not change anything") {
				t.Errorf("viewer %s %s (htmx %t): %d, want 403 with an explanation", r.Method, path, hx, res.StatusCode)
			}
		}
	}
	if after := s.state(t); after != before {
		t.Fatal("a viewer's request changed something")
	}
	if res := s.viewer.get("/"); res.StatusCode != http.StatusOK {
		t.Fatalf("the viewer can still look: %d", res.StatusCode)
	}
	t.Logf("%d admin routes refuse viewers", covered)
}

func TestCrossSiteRequestsAreRefusedOnEveryAction(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	before := s.state(t)
	covered := 0
	for _, r := range web.Routes(nil) {
		if !changesState(r) {
			continue
		}
		covered++
		path := s.path(r)
		for _, hdr := range [][]string{
			{"Sec-Fetch-Site", "cross-site"},
			{"Sec-Fetch-Site", "same-site"}, // a sibling subdomain is another site for the dashboard
			{"Origin", "https://evil.example"},
			{"Origin", "null"},
		} {
			form := url.Values{"email": {"admin@example.com"}, "password": {"long enough password"}, "confirm": {"yes"}}
			res := s.admin.do(r.Method, path, form, hdr...)
			if r.Access.Bearer() {
				// Bearer routes ignore cookies, so a forged request carries no credentials at all.
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s with %s: %s and the admin's cookies: %d, want 401", r.Method, path, hdr[0], hdr[1], res.StatusCode)
				}
				continue
			}
			if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "came from another site") {
				t.Errorf("%s %s with %s: %s: %d, want 403", r.Method, path, hdr[0], hdr[1], res.StatusCode)
			}
		}
	}
	if after := s.state(t); after != before {
		t.Fatal("a cross-site request changed something")
	}
	if res := s.admin.get("/"); res.StatusCode != http.StatusOK {
		t.Fatalf("a cross-site sign-out must not end the session: %d", res.StatusCode)
	}
	t.Logf("%d actions refuse cross-site requests", covered)
}

// TestStateChangesThatDoNotSayWhereTheyComeFromAreRefused: a browser old enough to send neither
// Origin nor Sec-Fetch-Site could be made to post a form from another site with the admin's cookie, so
// every cookie-authenticated action refuses such requests (signing in too). Bearer-token API calls
// carry no cookie authority and stay allowed without either header; so do reads.
func TestStateChangesThatDoNotSayWhereTheyComeFromAreRefused(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	s.admin.old = true
	anon := s.browser()
	anon.old = true
	before := s.state(t)
	covered := 0
	for _, r := range web.Routes(nil) {
		if !changesState(r) {
			continue
		}
		path := s.path(r)
		form := url.Values{"email": {"admin@example.com"}, "password": {"long enough password"}, "confirm": {"yes"}}
		for _, b := range []*browser{s.admin, anon} {
			res := b.do(r.Method, path, form)
			if r.Access.Bearer() {
				if res.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s %s without Origin and Sec-Fetch-Site, no token: %d, want 401", r.Method, path, res.StatusCode)
				}
				continue
			}
			covered++
			if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "did not say which site sent it") {
				t.Errorf("%s %s without Origin and Sec-Fetch-Site: %d, want 403\n%.300s", r.Method, path, res.StatusCode, res.body)
			}
		}
	}
	if after := s.state(t); after != before {
		t.Fatal("a request that did not say where it came from changed something")
	}
	// Reads need neither header, and the admin is still signed in.
	if res := s.admin.get("/settings"); res.StatusCode != http.StatusOK {
		t.Fatalf("GET without the headers: %d", res.StatusCode)
	}
	// Either header alone, from this site, is enough.
	s.admin.old = false
	for _, hdr := range [][]string{{"Sec-Fetch-Site", "same-origin"}, {"Origin", s.srv.URL}} {
		if res := s.admin.post("/connections/"+itoa(s.conn.ID)+"/pause", url.Values{}, hdr...); res.StatusCode != http.StatusSeeOther {
			t.Errorf("pause with only %s: %d", hdr[0], res.StatusCode)
		}
		s.connState(s.conn.ID, connection.Idle)
	}
	// A script with an API token sends neither header and is not refused.
	_, secret, err := apitoken.New(s.pool).Create(context.Background(), audit.System, "script", apitoken.Admin)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/api/v3/connections/"+itoa(s.conn.ID)+"/actions/pause", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("API pause with a token and neither header: %d, want 202", res.StatusCode)
	}
	t.Logf("%d cookie-authenticated requests refused", covered)
}

// TestEveryPageHasAStrictCSPAndNoInlineScript: the policy forbids inline script, and no page relies
// on it (an inline <script> or on* handler would be both blocked and a sign of markup built by hand).
func TestEveryPageHasAStrictCSPAndNoInlineScript(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	pages := 0
	for _, r := range web.Routes(nil) {
		if changesState(r) || r.Path == "/oauth/callback" {
			continue
		}
		path := s.path(r)
		for _, b := range []*browser{s.admin, s.viewer, s.browser()} {
			res := b.get(path)
			if res.StatusCode >= 500 {
				t.Errorf("GET %s: %d", path, res.StatusCode)
			}
			checkCSP(t, path, res)
		}
		pages++
	}
	for _, path := range []string{"/login", "/setup", "/no-such-page", "/settings?conn=abc", "/explorer?mapping=999999&page=-1"} {
		checkCSP(t, path, s.admin.get(path))
	}
	t.Logf("%d pages checked", pages)
}

func checkCSP(t *testing.T, path string, res response) {
	t.Helper()
	csp := res.Header.Get("Content-Security-Policy")
	var scriptSrc string
	for _, d := range strings.Split(csp, ";") {
		if f := strings.Fields(d); len(f) > 0 && f[0] == "script-src" {
			scriptSrc = d
		}
	}
	if scriptSrc == "" || strings.Contains(scriptSrc, "unsafe-inline") || strings.Contains(scriptSrc, "unsafe-eval") ||
		!strings.Contains(csp, "object-src 'none'") || !strings.Contains(csp, "base-uri 'none'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: CSP %q", path, csp)
	}
	if !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		return
	}
	z := html.NewTokenizer(strings.NewReader(res.body))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		hasSrc := false
		for _, a := range tok.Attr {
			if strings.HasPrefix(strings.ToLower(a.Key), "on") {
				t.Errorf("%s: inline event handler %s=%q on <%s>", path, a.Key, a.Val, tok.Data)
			}
			if a.Key == "src" {
				hasSrc = true
			}
			if (a.Key == "href" || a.Key == "action" || a.Key == "src") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(a.Val)), "javascript:") {
				t.Errorf("%s: javascript: URL in <%s %s>", path, tok.Data, a.Key)
			}
		}
		if tok.Data == "script" && !hasSrc {
			t.Errorf("%s: inline <script>", path)
		}
	}
}

// TestEveryActionAnswersBadInputWithA4xx posts missing, oversized (1 MB) and malformed fields to
// every action, and malformed ids in its path: the answer is never a server error, and a refusal says
// what is wrong.
func TestEveryActionAnswersBadInputWithA4xx(t *testing.T) {
	t.Parallel()
	s := newSite(t)
	huge := strings.Repeat("x", 1<<20)
	fields := []string{"email", "password", "next", "name", "schema", "org_type", "login_url", "api_version", "polling_minutes",
		"write_algorithm", "upsert_field", "token", "role", "record_filter", "object", "mode", "from", "fix", "field", "drop_tables",
		"confirm", "config", "access", "file_name", "polling_seconds"}
	check := func(r web.Route, what string, res response) {
		t.Helper()
		if res.StatusCode >= 500 {
			t.Errorf("%s %s with %s: %d\n%.300s", r.Method, r.Path, what, res.StatusCode, res.body)
		}
		if res.StatusCode >= 400 && !hasMessage(res.body) {
			t.Errorf("%s %s with %s: %d without a message\n%.300s", r.Method, r.Path, what, res.StatusCode, res.body)
		}
	}
	actions := 0
	for _, r := range web.Routes(nil) {
		if !changesState(r) || r.Path == "/logout" {
			continue
		}
		actions++
		path := s.path(r)
		check(r, "no fields", s.admin.post(path, url.Values{}))
		check(r, "no body at all", s.admin.raw(r.Method, path, "", nil))
		check(r, "a malformed form", s.admin.raw(r.Method, path, "application/x-www-form-urlencoded", []byte("%zz=%&;=&email=%E0%A4%A")))
		check(r, "a form that is not form-encoded", s.admin.raw(r.Method, path, "application/json", []byte(`{"email": 1}`)))
		check(r, "a broken multipart body", s.admin.raw(r.Method, path, "multipart/form-data; boundary=xyz", []byte("--xyz\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nunterminated")))
		for _, f := range fields {
			check(r, "a 1 MB "+f, s.admin.post(path, url.Values{f: {huge}}))
			check(r, "a NUL byte in "+f, s.admin.post(path, url.Values{f: {"a\x00b"}}))
			check(r, "invalid UTF-8 in "+f, s.admin.post(path, url.Values{f: {"\xff\xfe"}}))
		}
		check(r, "a 1 MB htmx form", s.admin.htmx(r.Method, path, url.Values{"name": {huge}, "email": {huge}}))
		if strings.Contains(r.Path, ":") {
			for _, bad := range []string{"abc", "-1", "0", "99999999999999999999", "1%00", "%27%20OR%201=1"} {
				p := strings.NewReplacer(":id", bad, ":object", bad, ":mapping", bad).Replace(r.Path)
				check(r, "id "+bad, s.admin.post(p, url.Values{}))
			}
		}
	}
	// A request over the body limit is refused before any handler reads it.
	res := s.admin.raw(http.MethodPost, "/settings/import", "application/x-www-form-urlencoded", bytes.Repeat([]byte("a"), 9<<20))
	if res.StatusCode != http.StatusRequestEntityTooLarge || !hasMessage(res.body) {
		t.Errorf("9 MiB body: %d", res.StatusCode)
	}
	if res := s.admin.get("/"); res.StatusCode != http.StatusOK {
		t.Fatalf("the admin is still signed in and the dashboard works: %d", res.StatusCode)
	}
	t.Logf("%d actions checked", actions)
}

// raw sends a body as it is, with the given content type (none when empty).
func (b *browser) raw(method, path, contentType string, body []byte, headers ...string) response {
	b.t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, b.app.srv.URL+path, rd)
	if err != nil {
		b.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	b.sayWhereFrom(req)
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(out)}
}
