package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"pgforce/internal/account"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/salesforce/sforg"
)

// TestSetUpAndAuthorizeAConnection is the seed's Setup Connection: schema and org type, Create, then
// Authorize through Salesforce's login page and back, with the callback's state checked once.
func TestSetUpAndAuthorizeAConnection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()

	// Without a connection the overview calls to action.
	d := b.get("/").doc(t)
	if href, _ := d.Find(`[data-testid="setup-connection"]`).Attr("href"); href != "/connections/new" {
		t.Fatalf("overview without a connection: setup link %q", href)
	}
	d = b.get("/connections/new").doc(t)
	if d.Find(`[data-testid="org-type-simulated"]`).Length() != 1 || d.Find(`#conn-schema`).AttrOr("value", "") != "salesforce" {
		t.Fatal("setup form: simulated org offered and schema defaulted to salesforce")
	}

	schema := a.schema + "_sf"
	t.Cleanup(func() { dropSchema(t, schema) })
	res := b.post("/connections", url.Values{"name": {"Acme"}, "schema": {"Bad Schema"}, "org_type": {"sandbox"}, "api_version": {"62.0"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(text(res.doc(t), `[data-testid="error-schema"]`), "lower-case name") {
		t.Fatalf("bad schema: %d", res.StatusCode)
	}
	if v := res.doc(t).Find(`#conn-name`).AttrOr("value", ""); v != "Acme" {
		t.Fatalf("the form keeps what was typed: name %q", v)
	}
	res = b.post("/connections", url.Values{"name": {"Acme"}, "schema": {schema}, "org_type": {"custom"}, "login_url": {"acme.example"}, "api_version": {"62.0"}})
	if !strings.Contains(text(res.doc(t), `[data-testid="error-login_url"]`), "My Domain") {
		t.Fatalf("custom domain without a URL: %d", res.StatusCode)
	}
	res = b.post("/connections", url.Values{"name": {"Acme"}, "schema": {schema}, "org_type": {"sandbox"}, "api_version": {"61.0"}})
	d = b.follow(res).doc(t)
	if !strings.Contains(text(d, `[data-testid="flash"]`), "Next: authorize") || !strings.Contains(text(d, `[data-testid="banner"]`), "not authorized yet") {
		t.Fatalf("after create: flash %q banner %q", text(d, `[data-testid="flash"]`), text(d, `[data-testid="banner"]`))
	}
	conns, _ := a.admin.Connections.List(context.Background())
	if len(conns) != 1 || conns[0].State != connection.New || conns[0].APIVersion != "61.0" || conns[0].LoginURL != "https://test.salesforce.com" {
		t.Fatalf("stored connection: %+v", conns)
	}
	id := conns[0].ID
	authorize := "/connections/" + itoa(id) + "/authorize"

	// Authorize: to Salesforce with a state; a wrong state is refused and leaves the attempt alone.
	res = b.post(authorize, url.Values{})
	state := stateOf(t, res)
	res = b.get("/oauth/callback?code=good&state=forged")
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "does not match") {
		t.Fatal("a forged state must be refused")
	}
	// Cancelled at Salesforce's login page: the attempt is used up, once.
	cancelled := "/oauth/callback?error=access_denied&error_description=end-user+denied+authorization&state=" + url.QueryEscape(state)
	res = b.get(cancelled)
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "access was denied") || !strings.Contains(msg, "end-user denied") {
		t.Fatalf("access_denied: %q", msg)
	}
	res = b.get(cancelled)
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "no Salesforce authorization in progress") {
		t.Fatal("the state is single use")
	}
	// A bad code: the engine's refusal is shown.
	state = stateOf(t, b.post(authorize, url.Values{}))
	res = b.get("/oauth/callback?code=bad&state=" + url.QueryEscape(state))
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "invalid_grant") {
		t.Fatalf("bad code: %q", msg)
	}
	// Success: back on the overview with the org and its user.
	res = b.get(a.approve(b.post(authorize, url.Values{}).Header.Get("Location")))
	if res.Header.Get("Location") != "/" {
		t.Fatalf("callback success goes to %q", res.Header.Get("Location"))
	}
	d = b.follow(res).doc(t)
	if msg := text(d, `[data-testid="flash"]`); !strings.Contains(msg, "Connected Acme to "+sforg.DemoOrgName+" as "+sforg.DemoUsername) {
		t.Fatalf("success flash %q", msg)
	}
	if text(d, `[data-testid="org"]`) == "" || !strings.Contains(text(d, `[data-testid="org"]`), sforg.DemoOrgName) || text(d, `[data-testid="org-user"]`) != sforg.DemoUsername {
		t.Fatalf("overview org %q user %q", text(d, `[data-testid="org"]`), text(d, `[data-testid="org-user"]`))
	}
	if d.Find(`[data-testid="banner"]`).Length() != 0 {
		t.Fatal("no banner once authorized")
	}

	// Losing the authorization shows a persistent banner with Re-authorize, on every page.
	a.connState(id, connection.NeedAuthentication)
	for _, path := range []string{"/", "/mappings", "/settings", "/activity"} {
		d := b.get(path).doc(t)
		if !strings.Contains(text(d, `[data-testid="banner"]`), "Re-authorize") || d.Find(`[data-testid="banner"] form`).AttrOr("action", "") != authorize {
			t.Fatalf("%s: banner %q", path, text(d, `[data-testid="banner"]`))
		}
	}
}

func stateOf(t *testing.T, res response) string {
	t.Helper()
	loc, err := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusSeeOther || err != nil || !strings.HasSuffix(loc.Path, "/services/oauth2/authorize") {
		t.Fatalf("authorize: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if !strings.HasSuffix(loc.Query().Get("redirect_uri"), "/oauth/callback") {
		t.Fatalf("redirect_uri %q", loc.Query().Get("redirect_uri"))
	}
	return loc.Query().Get("state")
}

// TestManageConnectionPauseResumeRecoverAndWriteAlgorithm covers Settings → Manage Connection with
// htmx (the panel is redrawn with a flash) and plain posts (303 and a flash), and the refusals
// explained in the seed's words.
func TestManageConnectionPauseResumeRecoverAndWriteAlgorithm(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true) // RECOVERY after authorizing
	base := "/connections/" + itoa(c.ID)

	d := b.get("/settings").doc(t)
	if _, disabled := d.Find(`[data-testid="save-write-algorithm"]`).Attr("disabled"); !disabled {
		t.Fatal("the write algorithm needs a pause")
	}
	// Pausing while catching up: BUSY until the work in flight is done, then PAUSED.
	res := b.htmx(http.MethodPost, base+"/pause", url.Values{})
	d = res.doc(t)
	if st := text(d, `#manage-connection [data-testid="state"]`); res.StatusCode != http.StatusOK || (st != "BUSY" && st != "PAUSED") ||
		!strings.Contains(text(d, `#flashes[hx-swap-oob]`), "Pausing") {
		t.Fatalf("htmx pause in RECOVERY: %d %s", res.StatusCode, res.body)
	}
	a.connState(c.ID, connection.Paused)
	// A refused action: htmx shows the reason in the flash area, and the button says why it is off.
	res = b.htmx(http.MethodPost, base+"/pause", url.Values{})
	if res.StatusCode != http.StatusConflict || res.Header.Get("HX-Retarget") != "#flashes" || !strings.Contains(res.body, "already paused") {
		t.Fatalf("htmx pause when paused: %d %q %s", res.StatusCode, res.Header.Get("HX-Retarget"), res.body)
	}
	d = b.get("/settings").doc(t)
	if pause := d.Find(`[data-testid="pause"]`); pause.AttrOr("disabled", "no") == "no" || !strings.Contains(pause.AttrOr("title", ""), "already paused") {
		t.Fatalf("pause when paused: disabled with the reason, got title %q", pause.AttrOr("title", ""))
	}
	if err := a.admin.Connections.Resume(context.Background(), audit.Actor{Name: "test", Kind: audit.ActorUser}, c.ID); err != nil {
		t.Fatal(err)
	}

	a.connState(c.ID, connection.Idle)
	res = b.htmx(http.MethodPost, base+"/pause", url.Values{})
	d = res.doc(t)
	if res.StatusCode != http.StatusOK || text(d, `#manage-connection [data-testid="state"]`) != "PAUSED" {
		t.Fatalf("htmx pause: %d %s", res.StatusCode, res.body)
	}
	if _, disabled := d.Find(`[data-testid="resume"]`).Attr("disabled"); disabled {
		t.Fatal("resume is enabled once paused")
	}

	// While paused: write algorithm and API version.
	res = b.htmx(http.MethodPost, base+"/write-algorithm", url.Values{"write_algorithm": {"merged"}})
	if d := res.doc(t); d.Find(`input[value="merged"][checked]`).Length() != 1 {
		t.Fatalf("merged writes chosen: %s", res.body)
	}
	res = b.post(base+"/api-version", url.Values{"api_version": {"60.0"}})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "API version set to 60.0") {
		t.Fatal("api version flash")
	}
	res = b.post(base+"/api-version", url.Values{"api_version": {"7"}})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "must look like") {
		t.Fatalf("bad api version: %q", msg)
	}
	got, _ := a.admin.Connections.Get(context.Background(), c.ID)
	if got.WriteAlgorithm != connection.Merged || got.APIVersion != "60.0" {
		t.Fatalf("stored: %s %s", got.WriteAlgorithm, got.APIVersion)
	}

	// Plain post: resume, then a refused resume comes back to Settings with the reason.
	res = b.post(base+"/resume", url.Values{})
	if res.Header.Get("Location") != "/settings" || !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Resumed") {
		t.Fatal("resume")
	}
	res = b.post(base+"/resume", url.Values{})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "Only a paused (or pausing) connection can be resumed") {
		t.Fatalf("second resume: %q", msg)
	}
	res = b.post(base+"/write-algorithm", url.Values{"write_algorithm": {"ordered"}})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "Pause the connection first") {
		t.Fatalf("write algorithm while running: %q", msg)
	}
	// Recover from an error state checks the org and resumes.
	a.connState(c.ID, connection.SystemError)
	res = b.post(base+"/recover", url.Values{})
	if !strings.Contains(text(b.follow(res).doc(t), `[data-testid="flash"]`), "Recovering") {
		t.Fatal("recover")
	}
	// The polling default is TestPollingDefaultAppliesToNewMappings.

	// A viewer sees every control disabled, and the server refuses them anyway.
	a.user("viewer@example.com", account.Viewer)
	v := a.browser()
	v.login("viewer@example.com")
	d = v.get("/settings").doc(t)
	for _, id := range []string{"pause", "resume", "recover", "reauthorize", "save-write-algorithm", "save-api-version"} {
		btn := d.Find(`[data-testid="` + id + `"]`)
		if _, disabled := btn.Attr("disabled"); !disabled || btn.AttrOr("title", "") != "Only admins can do this" {
			t.Errorf("viewer %s: disabled with the reason", id)
		}
	}
}

// TestConnectionSwitcher keeps the chosen connection in the session and shows the switcher only when
// there are several.
func TestConnectionSwitcher(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c1 := a.connection("one", true)
	d := b.get("/mappings").doc(t)
	if d.Find(`[data-testid="conn-switcher"]`).Length() != 0 || text(d, `[data-testid="conn-name"]`) != c1.Name {
		t.Fatal("one connection: its name, no switcher")
	}
	c2 := a.connection("two", true)
	a.mapping(c2.ID, "Account", "Name")
	d = b.get("/mappings").doc(t)
	if d.Find(`[data-testid="conn-switcher"] option[selected]`).Text() != c1.Name || d.Find(`[data-testid="mapping-row"]`).Length() != 0 {
		t.Fatal("the first connection stays current")
	}
	d = b.get("/mappings?conn=" + itoa(c2.ID)).doc(t)
	if d.Find(`[data-testid="mapping-row"]`).Length() != 1 {
		t.Fatal("switched to the second connection")
	}
	d = b.get("/explorer").doc(t)
	if d.Find(`[data-testid="conn-switcher"] option[selected]`).Text() != c2.Name {
		t.Fatal("the choice is kept in the session")
	}
	if act := d.Find(`[data-testid="conn-switcher"]`).AttrOr("action", ""); act != "/explorer" {
		t.Fatalf("the switcher stays on the section: %q", act)
	}
}

// TestBeforeTheFirstConnection: with no connection yet, pages show that there is none and actions
// on a connection or mapping that does not exist crash nothing.
func TestBeforeTheFirstConnection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	for _, path := range []string{"/", "/mappings", "/explorer", "/activity", "/settings"} {
		if res := b.get(path); res.StatusCode != http.StatusOK || res.doc(t).Find(`[data-testid="empty-state"]`).Length() != 1 {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
	for _, path := range []string{"/connections/1/pause", "/connections/1/authorize", "/connections/1/reload-all", "/mappings/1/delete"} {
		res := b.post(path, url.Values{})
		if res.StatusCode == http.StatusSeeOther {
			res = b.follow(res)
		}
		if res.StatusCode >= http.StatusInternalServerError {
			t.Errorf("%s: %d", path, res.StatusCode)
		}
	}
	if res := b.post("/writes/1/retry", url.Values{}); res.StatusCode != http.StatusConflict || !strings.Contains(res.body, "There is no connection") {
		t.Errorf("retry without a connection: %d", res.StatusCode)
	}
}

// Issue 21: an authorization for an API version the org does not offer (an org on an older release
// than the version chosen) is refused at the callback with the versions it offers and what to do;
// the connection stays NEW, its API version can be changed in Settings, and authorizing again works.
func TestAnAuthorizationForAnAPIVersionTheOrgDoesNotOfferIsRefusedAndFixedInSettings(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	max := 60
	if err := a.orgs.org.Configure(sforg.Settings{MaxVersion: &max}); err != nil {
		t.Fatal(err)
	}
	if hint := text(b.get("/connections/new").doc(t), `#api-hint`); !strings.Contains(hint, "checks that your org offers") {
		t.Fatalf("the form says the version is checked when authorizing: %q", hint)
	}
	schema := a.schema + "_sf"
	t.Cleanup(func() { dropSchema(t, schema) })
	b.follow(b.post("/connections", url.Values{"name": {"Acme"}, "schema": {schema}, "org_type": {"sandbox"}, "api_version": {"64.0"}}))
	conns, _ := a.admin.Connections.List(context.Background())
	if len(conns) != 1 {
		t.Fatalf("connections: %+v", conns)
	}
	id := conns[0].ID
	base := "/connections/" + itoa(id)

	res := b.get(a.approve(b.post(base+"/authorize", url.Values{}).Header.Get("Location")))
	if res.Header.Get("Location") != "/settings" {
		t.Fatalf("a refused authorization goes back to Settings, got %q", res.Header.Get("Location"))
	}
	d := b.follow(res).doc(t)
	msg := text(d, `[data-testid="flash"]`)
	for _, want := range []string{"Authorization failed: Salesforce authorized pgforce as " + sforg.DemoUsername,
		"the org does not offer Salesforce API version 64.0: it offers 50.0 to 60.0", "Settings → Salesforce API version", "authorize again"} {
		if !strings.Contains(msg, want) {
			t.Fatalf("the refusal says %q: %q", want, msg)
		}
	}
	if st := text(d, `#manage-connection [data-testid="state"]`); st != "NEW" {
		t.Fatalf("the connection stays NEW, got %q", st)
	}
	for _, sel := range []string{`#api-version`, `[data-testid="save-api-version"]`} {
		if _, disabled := d.Find(sel).Attr("disabled"); disabled {
			t.Fatalf("%s: the API version of a connection not authorized yet can change", sel)
		}
	}
	if got, _ := a.admin.Connections.Get(context.Background(), id); got.AuthorizedAt != nil || got.State != connection.New {
		t.Fatalf("nothing of the authorization is kept: %s %v", got.State, got.AuthorizedAt)
	}

	res = b.post(base+"/api-version", url.Values{"api_version": {"59.0"}})
	if msg := text(b.follow(res).doc(t), `[data-testid="flash"]`); !strings.Contains(msg, "API version set to 59.0") {
		t.Fatalf("api version while NEW: %q", msg)
	}
	b.authorize(id)
	if got, _ := a.admin.Connections.Get(context.Background(), id); got.AuthorizedAt == nil || got.APIVersion != "59.0" {
		t.Fatalf("authorized with an offered version: %s %v %s", got.State, got.AuthorizedAt, got.APIVersion)
	}
}
