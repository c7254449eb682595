package sforg

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

type authState struct {
	sessions map[string]*session // access token → session
	grants   map[string]*grant   // refresh token → grant
	codes    map[string]*authCode
	logins   map[string]time.Time // browser login cookie → expiry
}

func newAuthState() authState {
	return authState{sessions: map[string]*session{}, grants: map[string]*grant{}, codes: map[string]*authCode{}, logins: map[string]time.Time{}}
}

// session is an access token's server side.
type session struct {
	userID  string
	expires time.Time
	grant   *grant // nil for flows without a refresh token
	scope   string // the scopes granted, space-separated
}

// grant is an authorization (a refresh token) that can mint access tokens until revoked.
type grant struct {
	refresh string
	revoked bool
	scope   string
}

type authCode struct {
	clientID, redirectURI, challenge string
	expires                          time.Time
	scope                            string
}

func token(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// sessionFor authenticates an API request (Authorization: Bearer or OAuth, or ?oauth_token=).
func (o *Org) sessionFor(r *http.Request) *session {
	tok := ""
	h := r.Header.Get("Authorization")
	switch {
	case strings.HasPrefix(h, "Bearer "):
		tok = strings.TrimPrefix(h, "Bearer ")
	case strings.HasPrefix(h, "OAuth "):
		tok = strings.TrimPrefix(h, "OAuth ")
	default:
		tok = r.URL.Query().Get("oauth_token")
	}
	return o.sessionByToken(tok)
}

// sessionByToken is the live session of an access token, or nil.
func (o *Org) sessionByToken(tok string) *session {
	if tok == "" {
		return nil
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	s := o.auth.sessions[strings.TrimSpace(tok)]
	if s == nil || o.opts.Now().After(s.expires) || (s.grant != nil && s.grant.revoked) {
		return nil
	}
	return s
}

// granted returns the requested scopes the connected app may grant ("" asks for all of them), in
// Salesforce's order.
func (o *Org) granted(requested string) string {
	want := strings.Fields(requested)
	var out []string
	for _, s := range o.settings.scopes {
		if len(want) == 0 || slices.Contains(want, s) || (s == "refresh_token" && slices.Contains(want, "offline_access")) {
			out = append(out, s)
		}
	}
	return strings.Join(out, " ")
}

// mint issues an access token (and a refresh token for the code flow) and Salesforce's token response.
func (o *Org) mint(r *http.Request, g *grant, withRefresh bool, scope string) map[string]string {
	o.muts.Add(1)
	access := o.orgID[:15] + "!" + token("AQ", 48)
	o.auth.sessions[access] = &session{userID: o.userID, expires: o.opts.Now().Add(o.opts.AccessTokenLifetime), grant: g, scope: scope}
	base := o.baseURL(r)
	id := o.loginURL(r) + "/id/" + o.orgID + "/" + o.userID
	issued := strconv.FormatInt(o.opts.Now().UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(o.opts.ClientSecret))
	mac.Write([]byte(id + issued))
	resp := map[string]string{
		"access_token": access, "instance_url": base, "id": id, "token_type": "Bearer", "issued_at": issued,
		"signature": base64.StdEncoding.EncodeToString(mac.Sum(nil)), "scope": scope,
	}
	if withRefresh && g != nil {
		resp["refresh_token"] = g.refresh
	}
	return resp
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func (o *Org) checkClient(r *http.Request, needSecret bool) (string, bool) {
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		id, secret = u, p
	}
	if id != o.opts.ClientID {
		return "invalid_client_id", false
	}
	if (needSecret || secret != "") && subtle.ConstantTimeCompare([]byte(secret), []byte(o.opts.ClientSecret)) != 1 {
		return "invalid_client", false
	}
	return "", true
}

// handleToken implements POST /services/oauth2/token.
func (o *Org) handleToken(w http.ResponseWriter, r *http.Request) {
	if o.fault(w, r) {
		return
	}
	if !postedForm(w, r) {
		return
	}
	gt := r.PostForm.Get("grant_type")
	o.mu.Lock()
	defer o.mu.Unlock()
	switch gt {
	case "authorization_code":
		if code, ok := o.checkClient(r, true); !ok {
			oauthError(w, 400, code, map[string]string{"invalid_client_id": "client identifier invalid", "invalid_client": "invalid client credentials"}[code])
			return
		}
		c := o.auth.codes[r.PostForm.Get("code")]
		delete(o.auth.codes, r.PostForm.Get("code")) // single use, even when the exchange fails
		switch {
		case c == nil || o.opts.Now().After(c.expires):
			oauthError(w, 400, "invalid_grant", "expired authorization code")
			return
		case c.clientID != r.PostForm.Get("client_id") && r.PostForm.Get("client_id") != "":
			oauthError(w, 400, "invalid_grant", "client mismatch")
			return
		case c.redirectURI != r.PostForm.Get("redirect_uri"):
			oauthError(w, 400, "redirect_uri_mismatch", "redirect_uri must match configuration")
			return
		case c.challenge != "":
			v := r.PostForm.Get("code_verifier")
			sum := sha256.Sum256([]byte(v))
			if v == "" || base64.RawURLEncoding.EncodeToString(sum[:]) != c.challenge {
				oauthError(w, 400, "invalid_grant", "invalid code verifier")
				return
			}
		}
		scope := o.granted(c.scope)
		if !slices.Contains(strings.Fields(scope), "refresh_token") {
			writeJSON(w, 200, o.mint(r, nil, false, scope)) // no refresh_token scope: no refresh token
			return
		}
		g := &grant{refresh: "5Aep" + token("", 64), scope: scope}
		o.auth.grants[g.refresh] = g
		writeJSON(w, 200, o.mint(r, g, true, scope))
	case "refresh_token":
		if code, ok := o.checkClient(r, false); !ok {
			oauthError(w, 400, code, "client identifier invalid")
			return
		}
		g := o.auth.grants[r.PostForm.Get("refresh_token")]
		if g == nil || g.revoked {
			oauthError(w, 400, "invalid_grant", "expired access/refresh token")
			return
		}
		withRefresh := false
		if o.opts.RotateRefreshTokens {
			delete(o.auth.grants, g.refresh)
			g.revoked = true
			g = &grant{refresh: "5Aep" + token("", 64), scope: g.scope}
			o.auth.grants[g.refresh] = g
			withRefresh = true
		}
		writeJSON(w, 200, o.mint(r, g, withRefresh, cmpOr(g.scope, o.granted(""))))
	case "password":
		if code, ok := o.checkClient(r, true); !ok {
			oauthError(w, 400, code, "client identifier invalid")
			return
		}
		// A blocked flow answers exactly like a wrong password (Login History says which it was).
		if !o.settings.passwordFlow || r.PostForm.Get("username") != o.opts.Username || !strings.HasPrefix(r.PostForm.Get("password"), o.opts.Password) {
			oauthError(w, 400, "invalid_grant", "authentication failure")
			return
		}
		writeJSON(w, 200, o.mint(r, nil, false, withoutRefresh(o.granted(r.PostForm.Get("scope")))))
	case "client_credentials":
		if code, ok := o.checkClient(r, true); !ok {
			oauthError(w, 400, code, "invalid client credentials")
			return
		}
		writeJSON(w, 200, o.mint(r, nil, false, withoutRefresh(o.granted(r.PostForm.Get("scope")))))
	case "":
		oauthError(w, 400, "invalid_request", "grant type not supported")
	default:
		oauthError(w, 400, "unsupported_grant_type", "grant type not supported")
	}
}

// withoutRefresh drops refresh_token from a scope: flows without a refresh token do not grant it.
func withoutRefresh(scope string) string {
	return strings.Join(slices.DeleteFunc(strings.Fields(scope), func(s string) bool { return s == "refresh_token" }), " ")
}

// handleRevoke implements /services/oauth2/revoke: an access token, or a refresh token and all its
// access tokens.
func (o *Org) handleRevoke(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	tok := r.Form.Get("token")
	o.mu.Lock()
	defer o.mu.Unlock()
	if g := o.auth.grants[tok]; g != nil {
		g.revoked = true
		delete(o.auth.grants, tok)
		w.WriteHeader(200)
		return
	}
	if _, ok := o.auth.sessions[tok]; ok {
		delete(o.auth.sessions, tok)
		w.WriteHeader(200)
		return
	}
	oauthError(w, 400, "invalid_token", "invalid token")
}

func (o *Org) identity(r *http.Request) map[string]any {
	users := o.table("User")
	u := users.lookup(o.userID)
	get := func(f string) any { return users.get(u, f) }
	base := o.baseURL(r)
	id := map[string]any{
		"id": o.loginURL(r) + "/id/" + o.orgID + "/" + o.userID, "asserted_user": true, "user_id": o.userID, "organization_id": o.orgID,
		"username": get("Username"), "nick_name": get("Alias"), "display_name": get("Name"), "email": get("Email"),
		"first_name": get("FirstName"), "last_name": get("LastName"), "timezone": "Etc/UTC", "active": true, "user_type": "STANDARD",
		"language": "en_US", "locale": "en_US", "utcOffset": 0, "last_modified_date": formatDateTime(get("LastModifiedDate").(time.Time)),
		"photos": map[string]string{}, "organization_name": DemoOrgName,
		"urls": map[string]string{
			"enterprise": base + "/services/Soap/c/{version}/" + o.orgID[:15], "partner": base + "/services/Soap/u/{version}/" + o.orgID[:15],
			"rest": base + "/services/data/v{version}/", "sobjects": base + "/services/data/v{version}/sobjects/",
			"query": base + "/services/data/v{version}/query/", "search": base + "/services/data/v{version}/search/",
			"recent": base + "/services/data/v{version}/recent/", "profile": base + "/" + o.userID,
		},
	}
	if o.settings.myDomain {
		id["urls"].(map[string]string)["custom_domain"] = base
	}
	return id
}

// handleID implements the identity URL /id/{org}/{user}.
func (o *Org) handleID(w http.ResponseWriter, r *http.Request) {
	if o.sessionFor(r) == nil {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "Bad_OAuth_Token")
		return
	}
	if r.PathValue("org") != o.orgID && r.PathValue("org") != o.orgID[:15] {
		writeError(w, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"})
		return
	}
	o.mu.RLock()
	id := o.identity(r)
	o.mu.RUnlock()
	writeJSON(w, 200, id)
}

// handleUserinfo implements /services/oauth2/userinfo (OpenID Connect claims).
func (o *Org) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	if o.sessionFor(r) == nil {
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "Bad_OAuth_Token")
		return
	}
	o.mu.RLock()
	id := o.identity(r)
	o.mu.RUnlock()
	writeJSON(w, 200, map[string]any{
		"sub": id["id"], "user_id": o.userID, "organization_id": o.orgID, "preferred_username": id["username"], "nickname": id["nick_name"],
		"name": id["display_name"], "email": id["email"], "email_verified": true, "given_name": id["first_name"], "family_name": id["last_name"],
		"zoneinfo": "Etc/UTC", "photos": map[string]string{}, "urls": id["urls"], "active": true, "user_type": "STANDARD",
		"language": "en_US", "locale": "en_US", "utcOffset": 0, "updated_at": id["last_modified_date"],
	})
}

var authorizePage = template.Must(template.New("authorize").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{if .Approve}}Allow Access?{{else}}Login{{end}} | Salesforce (simulated)</title>
<link rel="stylesheet" href="{{.Base}}/_sforg/org.css"></head>
<body><main class="narrow">
<h1>{{if .Approve}}Allow Access?{{else}}Salesforce{{end}}</h1><p class="note">Simulated org · pgforce</p>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
{{range $k, $v := .Params}}<input type="hidden" name="{{$k}}" value="{{$v}}">{{end}}
{{if .Approve}}
<p><strong>pgforce</strong> is asking to access your Salesforce data as <strong>{{.User}}</strong>: access and manage your data (api), perform requests at any time (refresh_token), access your basic information (id).</p>
<button type="submit" name="approve" value="allow" id="oaapprove">Allow</button>
<button type="submit" name="approve" value="deny" class="secondary" id="oadeny">Deny</button>
{{else}}
<label for="username">Username</label><input type="text" id="username" name="username" value="{{.User}}" autocomplete="username" autofocus>
<label for="password">Password</label><input type="password" id="password" name="pw" autocomplete="current-password">
<button type="submit" id="Login" name="login" value="1">Log In</button>
<p class="note">Demo user: {{.DemoUser}} / password {{.DemoPassword}}</p>
{{end}}
</form></main></body></html>`))

// handleAuthorize implements the web-server flow's login and approval pages.
func (o *Org) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	if o.fault(w, r) {
		return
	}
	_ = r.ParseForm()
	q := r.Form
	clientID, redirect, state := q.Get("client_id"), q.Get("redirect_uri"), q.Get("state")
	// Until both the client and its callback are known, nothing is sent to redirect_uri, errors
	// included: Salesforce shows these two on its own error page, so the login page cannot be used
	// to bounce a browser anywhere.
	if clientID != o.opts.ClientID {
		o.authorizeError(w, "invalid_client_id", "client identifier invalid")
		return
	}
	if !slices.Contains(o.opts.RedirectURIs, redirect) {
		o.authorizeError(w, "redirect_uri_mismatch", "redirect_uri must match configuration")
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirect)
		v := u.Query()
		for k, vs := range params {
			v[k] = vs
		}
		if state != "" {
			v.Set("state", state)
		}
		u.RawQuery = v.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	if rt := q.Get("response_type"); rt != "code" {
		back(url.Values{"error": {"unsupported_response_type"}, "error_description": {"response type not supported"}})
		return
	}
	if m := q.Get("code_challenge_method"); m != "" && m != "S256" {
		back(url.Values{"error": {"invalid_request"}, "error_description": {"unsupported code challenge method"}})
		return
	}
	o.mu.RLock()
	pkce := o.settings.pkceRequired
	o.mu.RUnlock()
	if pkce && q.Get("code_challenge") == "" {
		// The connected app requires PKCE: a request without a challenge never gets a code.
		back(url.Values{"error": {"invalid_request"}, "error_description": {"missing required code challenge"}})
		return
	}
	params := map[string]string{}
	for _, k := range []string{"response_type", "client_id", "redirect_uri", "state", "scope", "code_challenge", "code_challenge_method", "prompt"} {
		if v := q.Get(k); v != "" {
			params[k] = v
		}
	}
	page := map[string]any{"Base": o.opts.BasePath, "Action": o.path("/services/oauth2/authorize"), "Params": params, "User": o.opts.Username,
		"DemoUser": o.opts.Username, "DemoPassword": o.opts.Password}
	loggedIn := o.loggedIn(r)
	if r.Method == http.MethodPost && q.Get("login") != "" {
		if q.Get("username") != o.opts.Username || q.Get("pw") != o.opts.Password {
			page["Error"] = "Please check your username and password. If you still can't log in, contact your Salesforce administrator."
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			_ = authorizePage.Execute(w, page)
			return
		}
		o.setLogin(w)
		loggedIn = true
	}
	if r.Method == http.MethodPost && q.Get("approve") != "" && loggedIn {
		if q.Get("approve") != "allow" {
			back(url.Values{"error": {"access_denied"}, "error_description": {"end-user denied authorization"}})
			return
		}
		code := token("aPrx", 32)
		o.mu.Lock()
		o.auth.codes[code] = &authCode{clientID: clientID, redirectURI: redirect, challenge: q.Get("code_challenge"), scope: q.Get("scope"),
			expires: o.opts.Now().Add(15 * time.Minute)}
		o.mu.Unlock()
		back(url.Values{"code": {code}})
		return
	}
	page["Approve"] = loggedIn && q.Get("prompt") != "login"
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_ = authorizePage.Execute(w, page)
}

var authorizeErrorPage = template.Must(template.New("authorize-error").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Error | Salesforce (simulated)</title>
<link rel="stylesheet" href="{{.Base}}/_sforg/org.css"></head>
<body><main class="narrow"><h1>Remote Access Error</h1><p class="note">Simulated org · pgforce</p>
<p class="error" role="alert" id="error">{{.Query}}</p>
{{if .Mismatch}}<p class="note">The connected app's callback URLs: {{range $i, $u := .Registered}}{{if $i}}, {{end}}<code>{{$u}}</code>{{else}}none registered{{end}}.</p>{{end}}
</main></body></html>`))

// authorizeError answers the authorize endpoint's client and callback errors as Salesforce does: an
// error page showing error=…&error_description=…, never a redirect.
func (o *Org) authorizeError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusBadRequest)
	_ = authorizeErrorPage.Execute(w, map[string]any{"Base": o.opts.BasePath, "Mismatch": code == "redirect_uri_mismatch", "Registered": o.opts.RedirectURIs,
		"Query": "error=" + code + "&error_description=" + url.PathEscape(desc)})
}

const loginCookie = "sid_sim"

func (o *Org) loggedIn(r *http.Request) bool {
	c, err := r.Cookie(loginCookie)
	if err != nil {
		return false
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	exp, ok := o.auth.logins[c.Value]
	return ok && o.opts.Now().Before(exp)
}

func (o *Org) setLogin(w http.ResponseWriter) {
	v := token("", 24)
	o.mu.Lock()
	o.auth.logins[v] = o.opts.Now().Add(2 * time.Hour)
	o.mu.Unlock()
	path := o.opts.BasePath
	if path == "" {
		path = "/"
	}
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: v, Path: path, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// postedForm parses an OAuth endpoint's POSTed form, answering Salesforce's error when it is not one.
func postedForm(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodPost {
		oauthError(w, 400, "invalid_request", "must use HTTP POST")
		return false
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, 400, "invalid_request", "malformed request body")
		return false
	}
	return true
}

// handleIntrospect implements POST /services/oauth2/introspect (RFC 7662): whether a token is
// active, and its scopes, for the connected app that asks.
func (o *Org) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if !postedForm(w, r) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if code, ok := o.checkClient(r, true); !ok {
		oauthError(w, 401, code, "invalid client credentials")
		return
	}
	tok := r.PostForm.Get("token")
	if s := o.auth.sessions[tok]; s != nil && o.opts.Now().Before(s.expires) && (s.grant == nil || !s.grant.revoked) {
		issued := s.expires.Add(-o.opts.AccessTokenLifetime).Unix()
		writeJSON(w, 200, map[string]any{"active": true, "scope": s.scope, "client_id": o.opts.ClientID, "username": o.opts.Username,
			"sub": o.loginURL(r) + "/id/" + o.orgID + "/" + o.userID, "token_type": "access_token", "exp": s.expires.Unix(), "iat": issued, "nbf": issued})
		return
	}
	if g := o.auth.grants[tok]; g != nil && !g.revoked {
		writeJSON(w, 200, map[string]any{"active": true, "scope": g.scope, "client_id": o.opts.ClientID, "username": o.opts.Username,
			"sub": o.loginURL(r) + "/id/" + o.orgID + "/" + o.userID, "token_type": "refresh_token"})
		return
	}
	writeJSON(w, 200, map[string]any{"active": false})
}
