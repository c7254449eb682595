package salesforce

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Login URLs of Salesforce's standard orgs.
const (
	ProductionLoginURL = "https://login.salesforce.com"
	SandboxLoginURL    = "https://test.salesforce.com"
)

// App is a connected app at a login URL.
type App struct {
	LoginURL     string
	ClientID     string
	ClientSecret string
	RedirectURL  string
	Scopes       []string // default: api refresh_token id
	HTTPClient   *http.Client
}

// Token is Salesforce's token response.
type Token struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token,omitempty"`
	InstanceURL  string `json:"instance_url"`
	ID           string `json:"id"` // identity URL: .../id/{orgId}/{userId}
	IssuedAt     string `json:"issued_at"`
	Signature    string `json:"signature"`
	Scope        string `json:"scope"`
}

// OrgID and UserID come from the identity URL's last two segments.
func (t *Token) OrgID() string {
	parts := strings.Split(strings.TrimRight(t.ID, "/"), "/")
	if len(parts) < 2 {
		return ""
	}
	return parts[len(parts)-2]
}

// UserID is the authorizing user's id.
func (t *Token) UserID() string {
	parts := strings.Split(strings.TrimRight(t.ID, "/"), "/")
	return parts[len(parts)-1]
}

func (a App) config() *oauth2.Config {
	scopes := a.Scopes
	if len(scopes) == 0 {
		scopes = []string{"api", "refresh_token", "id"}
	}
	base := strings.TrimRight(a.LoginURL, "/")
	return &oauth2.Config{ClientID: a.ClientID, ClientSecret: a.ClientSecret, RedirectURL: a.RedirectURL, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: base + "/services/oauth2/authorize", TokenURL: base + "/services/oauth2/token", AuthStyle: oauth2.AuthStyleInParams}}
}

func (a App) ctx(ctx context.Context) context.Context {
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return context.WithValue(ctx, oauth2.HTTPClient, hc)
}

// AuthCodeURL returns the authorize URL with state and the PKCE S256 challenge of verifier.
func (a App) AuthCodeURL(state, verifier string) string {
	return a.config().AuthCodeURL(state, oauth2.S256ChallengeOption(verifier))
}

func fromOAuth(t *oauth2.Token) *Token {
	get := func(k string) string { s, _ := t.Extra(k).(string); return s }
	return &Token{AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, InstanceURL: get("instance_url"), ID: get("id"),
		IssuedAt: get("issued_at"), Signature: get("signature"), Scope: get("scope")}
}

// oauthError turns the token endpoint's error into an *Error: invalid_grant and friends mean the
// authorization is gone.
func oauthError(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code := re.ErrorCode
		desc := re.ErrorDescription
		if code == "" {
			var body struct{ Error, ErrorDescription string }
			_ = json.Unmarshal(re.Body, &body)
			code, desc = body.Error, body.ErrorDescription
		}
		e := &Error{Status: re.Response.StatusCode, Code: code, Message: desc}
		switch {
		case re.Response.StatusCode >= 500:
			e.Kind = Retriable
		case code == "invalid_grant" || code == "inactive_user" || code == "inactive_org":
			e.Kind = NeedAuthentication
		default:
			e.Kind = Permanent
		}
		return e
	}
	return transportError(err)
}

// Exchange trades an authorization code and its PKCE verifier for tokens.
func (a App) Exchange(ctx context.Context, code, verifier string) (*Token, error) {
	t, err := a.config().Exchange(a.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, oauthError(err)
	}
	return a.verify(fromOAuth(t))
}

// Password authorizes with a username and password (automation, the simulated org).
func (a App) Password(ctx context.Context, username, password string) (*Token, error) {
	t, err := a.config().PasswordCredentialsToken(a.ctx(ctx), username, password)
	if err != nil {
		return nil, oauthError(err)
	}
	return a.verify(fromOAuth(t))
}

// ClientCredentials authorizes as the connected app's run-as user.
func (a App) ClientCredentials(ctx context.Context) (*Token, error) {
	c := a.config()
	cc := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: c.Endpoint.TokenURL, AuthStyle: oauth2.AuthStyleInParams}
	t, err := cc.Token(a.ctx(ctx))
	if err != nil {
		return nil, oauthError(err)
	}
	return a.verify(fromOAuth(t))
}

// Refresh gets a new access token; the refresh token may rotate (then it is in the result).
func (a App) Refresh(ctx context.Context, refreshToken string) (*Token, error) {
	t, err := a.config().TokenSource(a.ctx(ctx), &oauth2.Token{RefreshToken: refreshToken}).Token()
	if err != nil {
		return nil, oauthError(err)
	}
	out := fromOAuth(t)
	if out.RefreshToken == refreshToken {
		out.RefreshToken = "" // not rotated: callers keep the one they have
	}
	return a.verify(out)
}

// verify checks the token response's signature: base64(HMAC-SHA256(client_secret, id+issued_at)).
func (a App) verify(t *Token) (*Token, error) {
	if t.Signature == "" || a.ClientSecret == "" {
		return t, nil
	}
	mac := hmac.New(sha256.New, []byte(a.ClientSecret))
	mac.Write([]byte(t.ID + t.IssuedAt))
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(want), []byte(t.Signature)) {
		return nil, &Error{Code: "INVALID_SIGNATURE", Message: "the token response's signature does not match: wrong client secret or a tampered response", Kind: Permanent}
	}
	return t, nil
}

// Revoke revokes an access or refresh token.
func (a App) Revoke(ctx context.Context, token string) error {
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.LoginURL, "/")+"/services/oauth2/revoke",
		strings.NewReader(url.Values{"token": {token}}.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := hc.Do(req)
	if err != nil {
		return transportError(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return classify(&Error{Status: res.StatusCode, Code: "REVOKE_FAILED", Message: res.Status})
	}
	return nil
}

// Identity is who authorized and in which org.
type Identity struct {
	OrgID, UserID, Username, DisplayName, Email, OrgName string
	// CustomDomain is the org's My Domain URL (the identity's urls.custom_domain); empty without one.
	CustomDomain string
}

// Identity reads the identity URL of a token.
func (a App) Identity(ctx context.Context, t *Token) (*Identity, error) {
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.ID+"?format=json", nil)
	if err != nil {
		return nil, fmt.Errorf("identity url %q: %w", t.ID, err)
	}
	req.Header.Set("Authorization", "Bearer "+t.AccessToken)
	res, err := hc.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, classify(&Error{Status: res.StatusCode, Code: "IDENTITY_FAILED", Message: "reading the identity URL failed: " + res.Status})
	}
	var body struct {
		UserID, OrganizationID, Username, DisplayName, Email, OrganizationName string
	}
	var raw map[string]any
	if err := json.NewDecoder(res.Body).Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode identity: %w", err)
	}
	s := func(k string) string { v, _ := raw[k].(string); return v }
	body.UserID, body.OrganizationID, body.Username, body.DisplayName, body.Email, body.OrganizationName =
		s("user_id"), s("organization_id"), s("username"), s("display_name"), s("email"), s("organization_name")
	urls, _ := raw["urls"].(map[string]any)
	custom, _ := urls["custom_domain"].(string)
	return &Identity{OrgID: body.OrganizationID, UserID: body.UserID, Username: body.Username, DisplayName: body.DisplayName, Email: body.Email,
		OrgName: body.OrganizationName, CustomDomain: custom}, nil
}

// Introspection is what the token introspection endpoint says of a token (RFC 7662).
type Introspection struct {
	Active    bool   `json:"active"`
	Scope     string `json:"scope"`
	ClientID  string `json:"client_id"`
	Username  string `json:"username"`
	TokenType string `json:"token_type"`
}

// Introspect asks Salesforce about a token of this connected app (its scopes, whether it is active).
func (a App) Introspect(ctx context.Context, token string) (*Introspection, error) {
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}, "client_id": {a.ClientID}, "client_secret": {a.ClientSecret}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(a.LoginURL, "/")+"/services/oauth2/introspect", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return nil, transportError(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		var body struct{ Error, ErrorDescription string }
		_ = json.NewDecoder(res.Body).Decode(&body)
		return nil, classify(&Error{Status: res.StatusCode, Code: cmp.Or(body.Error, "INTROSPECTION_FAILED"), Message: cmp.Or(body.ErrorDescription, res.Status)})
	}
	var out Introspection
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode introspection: %w", err)
	}
	return &out, nil
}

// RequiresPKCE asks the authorize endpoint for a code without a PKCE challenge (it never follows
// the answer, so nobody signs in): an app that requires PKCE sends the browser back at once with
// invalid_request. An answer that is neither (the login page) means the org did not insist.
func (a App) RequiresPKCE(ctx context.Context) (bool, error) {
	hc := a.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	probe := *hc
	probe.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	q := url.Values{"response_type": {"code"}, "client_id": {a.ClientID}, "redirect_uri": {a.RedirectURL}, "state": {"pgforce-doctor"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(a.LoginURL, "/")+"/services/oauth2/authorize?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	res, err := probe.Do(req)
	if err != nil {
		return false, transportError(err)
	}
	defer res.Body.Close()
	loc, _ := url.Parse(res.Header.Get("Location"))
	switch {
	case res.StatusCode >= 300 && res.StatusCode < 400 && loc != nil && loc.Query().Get("error") == "invalid_request" &&
		strings.Contains(strings.ReplaceAll(strings.ToLower(loc.Query().Get("error_description")), "_", " "), "code challenge"):
		return true, nil
	case res.StatusCode >= 400:
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return false, classify(&Error{Status: res.StatusCode, Code: "AUTHORIZE_REFUSED", Message: "the authorize endpoint refused the request (is " + a.RedirectURL + " a callback URL of the connected app?): " + strings.TrimSpace(string(body))})
	}
	return false, nil
}
