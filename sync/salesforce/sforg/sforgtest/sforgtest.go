// Package sforgtest serves a simulated org for a test. It lives apart from sforg so that the shipped
// binary, which embeds the simulated org, does not link the testing packages.
package sforgtest

import (
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"testing"

	"pgforce/sync/salesforce/sforg"
)

// ControlToken is the bearer token of a test org's control API, unless the test sets one.
const ControlToken = "test-control-token"

// NewServer starts an isolated org on a loopback port for a test; it stops when the test ends.
func NewServer(t testing.TB, opts sforg.Options) (*sforg.Org, *httptest.Server) {
	t.Helper()
	if opts.ControlToken == "" {
		opts.ControlToken = ControlToken
	}
	org := sforg.New(opts)
	srv := httptest.NewServer(org.Handler())
	t.Cleanup(srv.Close)
	return org, srv
}

// SignInAndApprove does what a person does with an authorization URL of a test org: signs in on its
// login page as the demo user, allows access, and returns where the org sends the browser back (the
// callback with code and state).
func SignInAndApprove(t testing.TB, authURL string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	u, err := url.Parse(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page := u.Scheme + "://" + u.Host + u.Path
	form := u.Query()
	form.Set("login", "1")
	form.Set("username", sforg.DemoUsername)
	form.Set("pw", sforg.DemoPassword)
	res, err := browser.PostForm(page, form)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()
	form.Del("login")
	form.Set("approve", "allow")
	res, err = browser.PostForm(page, form)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("approve: %v %v", err, res)
	}
	res.Body.Close()
	cb, err := url.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return cb
}
