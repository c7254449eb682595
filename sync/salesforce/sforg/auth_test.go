package sforg

import (
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// A new org blocks the OAuth username-password flow (Summer '23 and later) and answers exactly as
// for a wrong password; the org setting turns it on, also at runtime.
func TestPasswordFlowIsBlockedUnlessTheOrgAllowsIt(t *testing.T) {
	t.Parallel()
	org, srv := newTestServer(t, Options{})
	a := &api{t: t, base: srv.URL, c: srv.Client()}
	login := url.Values{"grant_type": {"password"}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret},
		"username": {DemoUsername}, "password": {DemoPassword}}
	res, raw := a.form("/login/services/oauth2/token", login)
	if res.StatusCode != 400 || !strings.Contains(string(raw), `"error":"invalid_grant"`) || !strings.Contains(string(raw), "authentication failure") {
		t.Fatalf("blocked password flow: %d %s", res.StatusCode, raw)
	}
	on := true
	if err := org.Configure(Settings{PasswordFlow: &on}); err != nil {
		t.Fatal(err)
	}
	if res, raw := a.form("/login/services/oauth2/token", login); res.StatusCode != 200 {
		t.Fatalf("allowed password flow: %d %s", res.StatusCode, raw)
	}
}

// The built-in connected app requires PKCE: an authorization request without a code challenge is
// sent back to the callback with invalid_request and never gets a code.
func TestTheConnectedAppRequiresPKCE(t *testing.T) {
	t.Parallel()
	_, srv := newTestServer(t, Options{RedirectURIs: []string{"http://localhost/cb"}})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	params := url.Values{"response_type": {"code"}, "client_id": {DemoClientID}, "redirect_uri": {"http://localhost/cb"}, "state": {"s1"}}
	res, err := noRedirect.Get(srv.URL + "/login/services/oauth2/authorize?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || loc.Query().Get("error") != "invalid_request" || !strings.Contains(loc.Query().Get("error_description"), "code challenge") || loc.Query().Get("state") != "s1" {
		t.Fatalf("authorize without PKCE: %d %s", res.StatusCode, loc)
	}
	sum := sha256.Sum256([]byte("verifier-verifier-verifier-verifier-verifier"))
	params.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	if res, err = noRedirect.Get(srv.URL + "/login/services/oauth2/authorize?" + params.Encode()); err != nil || res.StatusCode != 200 {
		t.Fatalf("authorize with PKCE shows the login page: %v %v", err, res.StatusCode)
	}
	res.Body.Close()
}

// Tokens come from the generic login host (login.salesforce.com's role) and name the org's My
// Domain as instance_url: the data API answers only there, as a session is valid on its instance.
func TestTheInstanceURLIsTheMyDomainNotTheLoginHost(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{}) // signs in at /login, keeps instance_url
	if res, _ := a.do("GET", "/services/data/v62.0/limits", nil); res.StatusCode != 200 {
		t.Fatalf("the instance serves the API: %d", res.StatusCode)
	}
	base := a.base
	a.base = base + "/login"
	res, raw := a.do("GET", "/services/data/v62.0/limits", nil)
	wantError(t, res, raw, 401, "INVALID_SESSION_ID")
	// The identity URL is on the login host and says where the org's My Domain is.
	res, raw = a.do("GET", "/id/"+org.OrgID()+"/"+org.UserID(), nil)
	id := decodeJSON[map[string]any](t, raw)
	urls, _ := id["urls"].(map[string]any)
	if res.StatusCode != 200 || !strings.HasPrefix(id["id"].(string), base+"/login/id/") || urls["custom_domain"] != base {
		t.Fatalf("identity %d %s", res.StatusCode, raw)
	}
	off := false
	if err := org.Configure(Settings{MyDomain: &off}); err != nil {
		t.Fatal(err)
	}
	if _, raw = a.do("GET", "/id/"+org.OrgID()+"/"+org.UserID(), nil); strings.Contains(string(raw), "custom_domain") {
		t.Fatalf("without My Domain the identity has no custom_domain: %s", raw)
	}
}

// SOAP API login() is gone from API 65.0, disabled by default in new orgs, and works up to 64.0
// where the org enables it.
func TestSOAPLoginIsRefusedFromAPI65AndWhenDisabled(t *testing.T) {
	t.Parallel()
	soap := func(t *testing.T, base, version string) (int, string) {
		body := `<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/"><env:Body>` +
			`<n1:login xmlns:n1="urn:partner.soap.sforce.com"><n1:username>admin@pgforce.test</n1:username><n1:password>demo</n1:password></n1:login></env:Body></env:Envelope>`
		res, err := http.Post(base+"/services/Soap/u/"+version, "text/xml", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b := new(strings.Builder)
		_, _ = io.Copy(b, res.Body)
		return res.StatusCode, b.String()
	}
	_, off := newTestServer(t, Options{})
	if code, body := soap(t, off.URL+"/login", "62.0"); code != 500 || !strings.Contains(body, "INVALID_OPERATION") || !strings.Contains(body, "disabled") {
		t.Fatalf("disabled SOAP login: %d %s", code, body)
	}
	_, on := newTestServer(t, Options{AllowSOAPLogin: true})
	if code, body := soap(t, on.URL+"/login", "64.0"); code != 200 || !strings.Contains(body, "<sessionId>") || !strings.Contains(body, "<serverUrl>"+on.URL+"/services/Soap/u/64.0/") {
		t.Fatalf("SOAP login at 64.0: %d %s", code, body)
	}
	if code, body := soap(t, on.URL+"/login", "65.0"); code != 500 || !strings.Contains(body, "not available in API version 65.0") {
		t.Fatalf("SOAP login at 65.0: %d %s", code, body)
	}
}

// The org offers API versions 31.0 to 68.0 (Winter '27); 21.0–30.0 are retired (410).
func TestAPIVersionsUpToTheCurrentRelease(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	_, raw := a.do("GET", "/services/data/", nil)
	versions := decodeJSON[[]map[string]string](t, raw)
	last := versions[len(versions)-1]
	if versions[0]["version"] != "31.0" || last["version"] != "68.0" || last["label"] != "Winter '27" || last["url"] != "/services/data/v68.0" {
		t.Fatalf("versions %v … %v", versions[0], last)
	}
	res, raw := a.do("GET", "/services/data/v30.0/limits", nil)
	wantError(t, res, raw, 410, "UNSUPPORTED_API_VERSION")
	res, raw = a.do("GET", "/services/data/v69.0/limits", nil)
	wantError(t, res, raw, 404, "NOT_FOUND")
	max := 59
	if err := org.Configure(Settings{MaxVersion: &max}); err != nil {
		t.Fatal(err)
	}
	res, raw = a.do("GET", "/services/data/v62.0/limits", nil)
	wantError(t, res, raw, 404, "NOT_FOUND")
	if res, raw := a.do("GET", "/services/data/latest/", nil); res.StatusCode != 200 || !strings.Contains(string(raw), "/v59.0/sobjects") {
		t.Fatalf("latest on an org at 59.0: %d %s", res.StatusCode, raw)
	}
}

// The connected app grants only its scopes: without refresh_token the code flow returns no
// refresh token. Token introspection tells a token's scopes.
func TestScopesAndTokenIntrospection(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{RedirectURIs: []string{"http://localhost/cb"}})
	res, raw := a.form("/services/oauth2/introspect", url.Values{"token": {a.token}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret}})
	info := decodeJSON[map[string]any](t, raw)
	if res.StatusCode != 200 || info["active"] != true || info["scope"] != "api id" || info["token_type"] != "access_token" {
		t.Fatalf("introspect a password-flow token: %d %s", res.StatusCode, raw)
	}
	if _, raw := a.form("/services/oauth2/introspect", url.Values{"token": {"nope"}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret}}); string(raw) != "{\"active\":false}\n" {
		t.Fatalf("unknown token: %s", raw)
	}
	if err := org.Configure(Settings{Scopes: []string{"api", "id"}}); err != nil {
		t.Fatal(err)
	}
	verifier := "another-verifier-of-enough-length-0123456789-abcdef"
	sum := sha256.Sum256([]byte(verifier))
	params := url.Values{"response_type": {"code"}, "client_id": {DemoClientID}, "redirect_uri": {"http://localhost/cb"}, "scope": {"api refresh_token id"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}}
	cb := authorizeInBrowser(t, a.base, params, "allow")
	res, raw = a.form("/services/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "client_id": {DemoClientID},
		"client_secret": {DemoClientSecret}, "redirect_uri": {"http://localhost/cb"}, "code_verifier": {verifier}})
	tok := decodeJSON[map[string]string](t, raw)
	if res.StatusCode != 200 || tok["scope"] != "api id" || tok["refresh_token"] != "" {
		t.Fatalf("an app without refresh_token grants none: %d %s", res.StatusCode, raw)
	}
}

// The integration user's permissions: API Enabled, object permissions (an object without Read is
// invisible) and View All Data (without it, others' records are not returned).
func TestIntegrationUserPermissions(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	if err := org.SetObjectAccess("Lead", ObjectAccess{}); err != nil {
		t.Fatal(err)
	}
	if _, raw := a.do("GET", "/services/data/v62.0/sobjects", nil); strings.Contains(string(raw), `"name":"Lead"`) {
		t.Fatal("describe global lists an object the user cannot read")
	}
	res, raw := a.do("GET", "/services/data/v62.0/sobjects/Lead/describe", nil)
	wantError(t, res, raw, 404, "NOT_FOUND")
	a.queryError("SELECT Id FROM Lead", "INVALID_TYPE")
	if err := org.SetObjectAccess("Contact", ObjectAccess{Read: true}); err != nil {
		t.Fatal(err)
	}
	_, raw = a.do("GET", "/services/data/v62.0/sobjects/Contact/describe", nil)
	if d := decodeJSON[map[string]any](t, raw); d["createable"] != false || d["queryable"] != true || d["updateable"] != false {
		t.Fatalf("read-only Contact describe: createable %v updateable %v", d["createable"], d["updateable"])
	}
	res, raw = a.do("POST", "/services/data/v62.0/sobjects/Contact", map[string]any{"LastName": "No"})
	wantError(t, res, raw, 400, "INSUFFICIENT_ACCESS_OR_READONLY")

	// View All Data: a record another user owns is seen only with it.
	other := a.query("SELECT Id FROM User WHERE Id != '" + org.UserID() + "'").Records[0]
	owned, _ := a.create("Account", map[string]any{"Name": "Someone else's", "OwnerId": text(other["Id"])})
	seen := func() int { return a.query("SELECT COUNT() FROM Account WHERE Id = '" + owned + "'").TotalSize }
	if seen() != 1 {
		t.Fatal("with View All Data the record is seen")
	}
	off := false
	if err := org.Configure(Settings{ViewAllData: &off}); err != nil {
		t.Fatal(err)
	}
	if seen() != 0 {
		t.Fatal("without View All Data another user's record is not returned")
	}
	if r := a.query("SELECT PermissionsViewAllData, PermissionsApiEnabled FROM UserPermissionAccess"); len(r.Records) != 1 ||
		string(r.Records[0]["PermissionsViewAllData"]) != "false" || string(r.Records[0]["PermissionsApiEnabled"]) != "true" {
		t.Fatalf("UserPermissionAccess %+v", r.Records)
	}
	if err := org.Configure(Settings{APIEnabled: &off}); err != nil {
		t.Fatal(err)
	}
	res, raw = a.do("GET", "/services/data/v62.0/limits", nil)
	wantError(t, res, raw, 403, "API_CURRENTLY_DISABLED")
}

// The Tooling API lists the entities selected for Change Data Capture, as a real org's
// PlatformEventChannelMember does; the REST API does not know the object.
func TestToolingQueryListsTheChangeDataCaptureSelection(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{ChangeDataCapture: []string{"Account", "Invoice__c"}})
	res, raw := a.do("GET", "/services/data/v62.0/tooling/query?q="+url.QueryEscape("SELECT SelectedEntity, EventChannel FROM PlatformEventChannelMember WHERE SelectedEntity = 'AccountChangeEvent'"), nil)
	if res.StatusCode != 200 {
		t.Fatalf("tooling query: %d %s", res.StatusCode, raw)
	}
	page := decodeJSON[struct {
		TotalSize int              `json:"totalSize"`
		Records   []map[string]any `json:"records"`
	}](t, raw)
	if page.TotalSize != 1 || page.Records[0]["SelectedEntity"] != "AccountChangeEvent" || page.Records[0]["EventChannel"] != "ChangeEvents" {
		t.Fatalf("selection: %s", raw)
	}
	if _, raw := a.do("GET", "/services/data/v62.0/tooling/query?q="+url.QueryEscape("SELECT SelectedEntity FROM PlatformEventChannelMember WHERE SelectedEntity = 'Invoice__ChangeEvent'"), nil); !strings.Contains(string(raw), `"totalSize":1`) {
		t.Fatalf("a custom object's change event entity: %s", raw)
	}
	res, raw = a.do("GET", "/services/data/v62.0/query?q="+url.QueryEscape("SELECT SelectedEntity FROM PlatformEventChannelMember"), nil)
	wantError(t, res, raw, 400, "INVALID_TYPE")
	// The selection is the org's: an object taken out of it is no longer listed.
	if err := org.SetCDCEntities("Invoice__c"); err != nil {
		t.Fatal(err)
	}
	if _, raw := a.do("GET", "/services/data/v62.0/tooling/query?q="+url.QueryEscape("SELECT SelectedEntity FROM PlatformEventChannelMember"), nil); !strings.Contains(string(raw), `"totalSize":1`) || strings.Contains(string(raw), "AccountChangeEvent") {
		t.Fatalf("after deselecting Account: %s", raw)
	}
}
