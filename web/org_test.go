package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"pgforce/sync/engine/connection"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
)

// testOrgs is pgforce's own Salesforce client against a simulated org served for the test, so every
// dashboard action runs the engine's and the client's real code. Salesforce's login hosts resolve
// to that org, as if it were a sandbox, and the OAuth steps the tests assert on are recorded.
type testOrgs struct {
	orgclient.SalesforceOrgs
	org *sforg.Org
	srv *httptest.Server

	mu        sync.Mutex
	verifier  string            // of the last AuthCodeURL
	issued    map[string]string // state → the verifier its AuthCodeURL was made with
	exchanged []string          // verifiers Exchange was called with, in order
	tokens    []string          // access and refresh tokens the org handed out
}

// newTestOrgs serves an org whose built-in connected app calls back to callback: the simulated
// org's objects without records, plus a required picklist on Account and a custom object.
func newTestOrgs(t testing.TB, callback string) *testOrgs {
	t.Helper()
	org, srv := sforgtest.NewServer(t, sforg.Options{AllowPasswordFlow: true, RedirectURIs: []string{callback}})
	region := sforg.FieldDef{Name: "Region__c", Label: "Region", Type: "picklist", Length: 40, Createable: true, Updateable: true, Picklist: []string{"EMEA", "AMER"}}
	if err := org.AddField("Account", region); err != nil {
		t.Fatal(err)
	}
	if err := org.AddObject("Widget__c", "Widget"); err != nil {
		t.Fatal(err)
	}
	o := &testOrgs{org: org, srv: srv, issued: map[string]string{}}
	o.SalesforceOrgs = orgclient.SalesforceOrgs{
		App: func(connection.Connection) orgclient.ConnectedApp {
			return orgclient.ConnectedApp{ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
		},
		HTTPClient: &http.Client{Transport: o},
	}
	return o
}

// RoundTrip sends requests for Salesforce's login hosts to the test's org.
func (o *testOrgs) RoundTrip(req *http.Request) (*http.Response, error) {
	if isLoginHost(req.URL.Host) {
		req = req.Clone(req.Context())
		o.toOrg(req.URL)
		req.Host = req.URL.Host
	}
	return http.DefaultTransport.RoundTrip(req)
}

func isLoginHost(host string) bool {
	return host == "login.salesforce.com" || host == "test.salesforce.com"
}

func (o *testOrgs) toOrg(u *url.URL) {
	org, _ := url.Parse(o.srv.URL)
	u.Scheme, u.Host = org.Scheme, org.Host
}

func (o *testOrgs) AuthCodeURL(c connection.Connection, redirectURL, state, verifier string) (string, error) {
	o.mu.Lock()
	o.verifier = verifier
	o.issued[state] = verifier
	o.mu.Unlock()
	return o.SalesforceOrgs.AuthCodeURL(c, redirectURL, state, verifier)
}

func (o *testOrgs) Exchange(ctx context.Context, c connection.Connection, redirectURL, code, verifier string) (orgclient.Authorization, error) {
	o.mu.Lock()
	o.exchanged = append(o.exchanged, verifier)
	o.mu.Unlock()
	a, err := o.SalesforceOrgs.Exchange(ctx, c, redirectURL, code, verifier)
	o.handedOut(a)
	return a, err
}

func (o *testOrgs) Password(ctx context.Context, c connection.Connection, username, password string) (orgclient.Authorization, error) {
	a, err := o.SalesforceOrgs.Password(ctx, c, username, password)
	o.handedOut(a)
	return a, err
}

func (o *testOrgs) handedOut(a orgclient.Authorization) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, tok := range []string{a.AccessToken, a.RefreshToken} {
		if tok != "" {
			o.tokens = append(o.tokens, tok)
		}
	}
}

// approve does what the admin does on Salesforce's pages with the authorize URL pgforce sent the
// browser to (a Location): signs in as the org's user and allows access. It returns the dashboard
// path Salesforce sends the browser back to, with the code and the state.
func (a *app) approve(location string) string {
	a.t.Helper()
	u, err := url.Parse(location)
	if err != nil {
		a.t.Fatal(err)
	}
	if isLoginHost(u.Host) {
		a.orgs.toOrg(u)
	}
	cb := sforgtest.SignInAndApprove(a.t, u.String())
	if !strings.HasPrefix(cb.String(), a.srv.URL+"/oauth/callback?") {
		a.t.Fatalf("Salesforce sent the browser to %s", cb)
	}
	return cb.RequestURI()
}

// authorize authorizes a connection the way an admin does: Authorize in the dashboard, sign in and
// allow access on Salesforce's pages, back to the dashboard.
func (b *browser) authorize(connID int64) {
	b.t.Helper()
	res := b.post("/connections/"+strconv.FormatInt(connID, 10)+"/authorize", url.Values{})
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("authorize: %d %.300s", res.StatusCode, res.body)
	}
	if res := b.get(b.app.approve(res.Header.Get("Location"))); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		b.t.Fatalf("callback: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
}
