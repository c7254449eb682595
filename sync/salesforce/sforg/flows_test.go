package sforg

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
)

// authorizeInBrowser drives the login and approval pages like a person would and returns the
// redirect to the callback.
func authorizeInBrowser(t *testing.T, base string, params url.Values, approve string) *url.URL {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(base + "/services/oauth2/authorize?" + params.Encode())
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login page: %v %v", err, res)
	}
	res.Body.Close()
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	form.Set("login", "1")
	form.Set("username", DemoUsername)
	form.Set("pw", DemoPassword)
	res, err = c.PostForm(base+"/services/oauth2/authorize", form)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, res.StatusCode)
	}
	res.Body.Close()
	form.Del("login")
	form.Set("approve", approve)
	res, err = c.PostForm(base+"/services/oauth2/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusFound {
		t.Fatalf("approve: %d", res.StatusCode)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	return loc
}

func TestWebServerFlowWithPKCERefreshAndRevoke(t *testing.T) {
	t.Parallel()
	org, srv := newTestServer(t, Options{RotateRefreshTokens: true, RedirectURIs: []string{"http://localhost/cb"}})
	a := &api{t: t, base: srv.URL, c: srv.Client()}
	verifier := "a-very-long-verifier-string-of-at-least-43-characters-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	params := url.Values{"response_type": {"code"}, "client_id": {DemoClientID}, "redirect_uri": {"http://localhost/cb"},
		"state": {"xyz"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}

	denied := authorizeInBrowser(t, srv.URL, params, "deny")
	if denied.Query().Get("error") != "access_denied" || denied.Query().Get("state") != "xyz" {
		t.Fatalf("deny redirect %s", denied)
	}
	cb := authorizeInBrowser(t, srv.URL, params, "allow")
	code := cb.Query().Get("code")
	if code == "" || cb.Query().Get("state") != "xyz" || cb.Host != "localhost" {
		t.Fatalf("callback %s", cb)
	}
	exchange := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "client_id": {DemoClientID},
		"client_secret": {DemoClientSecret}, "redirect_uri": {"http://localhost/cb"}, "code_verifier": {"wrong-verifier"}}
	res, raw := a.form("/services/oauth2/token", exchange)
	if res.StatusCode != 400 || !strings.Contains(string(raw), "invalid_grant") {
		t.Fatalf("wrong verifier: %d %s", res.StatusCode, raw)
	}
	// The code was spent by the failed attempt: a second try fails too.
	exchange.Set("code_verifier", verifier)
	if res, _ := a.form("/services/oauth2/token", exchange); res.StatusCode != 400 {
		t.Fatal("an authorization code is single use")
	}
	cb = authorizeInBrowser(t, srv.URL, params, "allow")
	exchange.Set("code", cb.Query().Get("code"))
	res, raw = a.form("/services/oauth2/token", exchange)
	tok := decodeJSON[map[string]string](t, raw)
	if res.StatusCode != 200 || tok["refresh_token"] == "" || tok["instance_url"] != srv.URL || tok["token_type"] != "Bearer" || tok["signature"] == "" {
		t.Fatalf("token response %d %s", res.StatusCode, raw)
	}
	if _, has := tok["expires_in"]; has {
		t.Fatal("Salesforce sends no expires_in")
	}
	if !strings.HasSuffix(tok["id"], "/id/"+org.OrgID()+"/"+org.UserID()) {
		t.Fatalf("identity url %s", tok["id"])
	}

	a.token = tok["access_token"]
	res, raw = a.do("GET", "/services/oauth2/userinfo", nil)
	info := decodeJSON[map[string]any](t, raw)
	if res.StatusCode != 200 || info["preferred_username"] != DemoUsername || info["organization_id"] != org.OrgID() {
		t.Fatalf("userinfo %s", raw)
	}
	res, raw = a.do("GET", strings.TrimPrefix(tok["id"], srv.URL), nil)
	if res.StatusCode != 200 || !strings.Contains(string(raw), `"username":"`+DemoUsername+`"`) {
		t.Fatalf("identity %d %s", res.StatusCode, raw)
	}

	// Expired access token → 401; refresh (rotating) → new tokens; the old refresh token is dead.
	org.ExpireTokens()
	res, raw = a.do("GET", "/services/data/v62.0/limits", nil)
	wantError(t, res, raw, 401, "INVALID_SESSION_ID")
	res, raw = a.form("/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"]}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret}})
	refreshed := decodeJSON[map[string]string](t, raw)
	if res.StatusCode != 200 || refreshed["access_token"] == "" || refreshed["refresh_token"] == "" || refreshed["refresh_token"] == tok["refresh_token"] {
		t.Fatalf("refresh %s", raw)
	}
	if res, _ := a.form("/services/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"]}, "client_id": {DemoClientID}}); res.StatusCode != 400 {
		t.Fatal("a rotated refresh token must stop working")
	}
	a.token = refreshed["access_token"]
	if res, _ := a.do("GET", "/services/data/v62.0/limits", nil); res.StatusCode != 200 {
		t.Fatal("the refreshed token works")
	}
	// Revoking the refresh token kills its access tokens.
	if res, _ := a.form("/services/oauth2/revoke", url.Values{"token": {refreshed["refresh_token"]}}); res.StatusCode != 200 {
		t.Fatal("revoke")
	}
	res, raw = a.do("GET", "/services/data/v62.0/limits", nil)
	wantError(t, res, raw, 401, "INVALID_SESSION_ID")
}

func TestTokenEndpointErrors(t *testing.T) {
	t.Parallel()
	_, srv := newTestServer(t, Options{RedirectURIs: []string{"https://app.example/cb"}})
	a := &api{t: t, base: srv.URL, c: srv.Client()}
	tests := []struct {
		form url.Values
		code string
	}{
		{url.Values{"grant_type": {"password"}, "client_id": {"nope"}, "client_secret": {"x"}, "username": {"u"}, "password": {"p"}}, "invalid_client_id"},
		{url.Values{"grant_type": {"password"}, "client_id": {DemoClientID}, "client_secret": {"wrong"}, "username": {DemoUsername}, "password": {DemoPassword}}, "invalid_client"},
		{url.Values{"grant_type": {"password"}, "client_id": {DemoClientID}, "client_secret": {DemoClientSecret}, "username": {DemoUsername}, "password": {"nope"}}, "invalid_grant"},
		{url.Values{"grant_type": {"magic"}, "client_id": {DemoClientID}}, "unsupported_grant_type"},
		{url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"nope"}, "client_id": {DemoClientID}}, "invalid_grant"},
	}
	for _, tt := range tests {
		res, raw := a.form("/services/oauth2/token", tt.form)
		var e map[string]string
		_ = json.Unmarshal(raw, &e)
		if res.StatusCode != 400 || e["error"] != tt.code || e["error_description"] == "" {
			t.Errorf("%v: %d %s, want %s", tt.form, res.StatusCode, raw, tt.code)
		}
	}
	res, err := srv.Client().Get(srv.URL + "/services/oauth2/authorize?response_type=code&client_id=" + DemoClientID + "&redirect_uri=https://evil.example/cb")
	if err != nil || res.StatusCode != 400 {
		t.Fatalf("unregistered redirect_uri must be refused: %v", res.StatusCode)
	}
}

// TestAuthorizeRedirectsOnlyToARegisteredCallback: the login page never sends a browser to a
// redirect_uri the connected app has not registered (exactly as written), not even with an error;
// like Salesforce, it shows error=redirect_uri_mismatch on its own page. An org with no callback
// registered refuses every authorization.
func TestAuthorizeRedirectsOnlyToARegisteredCallback(t *testing.T) {
	t.Parallel()
	const registered = "https://app.example/oauth/callback"
	_, srv := newTestServer(t, Options{RedirectURIs: []string{registered, "http://localhost:1717/OauthRedirect"}})
	_, none := newTestServer(t, Options{})
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	refused := func(base, method string, q url.Values, code string) {
		t.Helper()
		var res *http.Response
		var err error
		if method == http.MethodGet {
			res, err = c.Get(base + "/services/oauth2/authorize?" + q.Encode())
		} else {
			form := url.Values{"login": {"1"}, "username": {DemoUsername}, "pw": {DemoPassword}, "approve": {"allow"}}
			for k, v := range q {
				form[k] = v
			}
			res, err = c.PostForm(base+"/services/oauth2/authorize", form)
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest || res.Header.Get("Location") != "" || !strings.Contains(string(body), "error="+code+"&amp;error_description=") ||
			!strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s %v: %d Location %q, want 400 with an error=%s page and no redirect\n%s", method, q, res.StatusCode, res.Header.Get("Location"), code, body)
		}
	}
	for _, redirect := range []string{"https://evil.example/x", "", "https://app.example/oauth/callback/", "https://app.example/oauth/callback?x=1",
		"https://APP.example/oauth/callback", "http://app.example/oauth/callback", "https://app.example/oauth/callback#x", "https://app.example.evil.example/oauth/callback",
		"//evil.example", "/oauth/callback", "javascript:alert(1)"} {
		for _, rt := range []string{"code", "token", "bogus"} { // also the answers that would redirect with an error
			q := url.Values{"client_id": {DemoClientID}, "redirect_uri": {redirect}, "response_type": {rt}, "state": {"s"}}
			refused(srv.URL, http.MethodGet, q, "redirect_uri_mismatch")
			refused(srv.URL, http.MethodPost, q, "redirect_uri_mismatch")
		}
		// An unknown client is refused on the page too, whatever its redirect_uri.
		refused(srv.URL, http.MethodGet, url.Values{"client_id": {"other-app"}, "redirect_uri": {redirect}, "response_type": {"code"}}, "invalid_client_id")
	}
	for _, redirect := range []string{registered, "http://localhost/cb", "https://evil.example/x"} {
		refused(none.URL, http.MethodGet, url.Values{"client_id": {DemoClientID}, "redirect_uri": {redirect}, "response_type": {"code"}}, "redirect_uri_mismatch")
	}

	// A registered callback gets the login page, and errors go back to it with the state.
	challenge := url.Values{"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}.Encode() // the app requires PKCE
	for _, redirect := range []string{registered, "http://localhost:1717/OauthRedirect"} {
		res, err := c.Get(srv.URL + "/services/oauth2/authorize?" + url.Values{"client_id": {DemoClientID}, "redirect_uri": {redirect}, "response_type": {"code"}}.Encode() + "&" + challenge)
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("registered %s: %v %v", redirect, err, res)
		}
		res.Body.Close()
	}
	res, err := c.Get(srv.URL + "/services/oauth2/authorize?" + url.Values{"client_id": {DemoClientID}, "redirect_uri": {registered}, "response_type": {"token"}, "state": {"s"}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	if res.StatusCode != http.StatusFound || loc.Host != "app.example" || loc.Query().Get("error") != "unsupported_response_type" || loc.Query().Get("state") != "s" {
		t.Fatalf("an error for a registered callback goes back to it: %d %s", res.StatusCode, loc)
	}
	// The authorization code is bound to its callback: exchanging it for another fails.
	cb := authorizeInBrowser(t, srv.URL, url.Values{"response_type": {"code"}, "client_id": {DemoClientID}, "redirect_uri": {registered},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}, "allow")
	a := &api{t: t, base: srv.URL, c: srv.Client()}
	res, raw := a.form("/services/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {cb.Query().Get("code")}, "client_id": {DemoClientID},
		"client_secret": {DemoClientSecret}, "redirect_uri": {"http://localhost:1717/OauthRedirect"}})
	if res.StatusCode != 400 || !strings.Contains(string(raw), "redirect_uri_mismatch") {
		t.Fatalf("exchange for another callback: %d %s", res.StatusCode, raw)
	}
}
