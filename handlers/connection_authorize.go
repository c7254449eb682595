package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Session keys of an authorization in progress: single use, cleared by the callback.
const (
	sessionOAuthState    = "oauth_state"
	sessionOAuthVerifier = "oauth_verifier"
	sessionOAuthConn     = "oauth_conn"
	sessionOAuthNext     = "oauth_next"
)

// AuthorizeConnection starts Salesforce's OAuth web-server flow with PKCE: a random state and code
// verifier are kept in the admin's session, and the browser goes to the org's login page.
func (h *Handlers) AuthorizeConnection(c echo.Context) error {
	id, err := idParam(c, "id")
	if err != nil {
		return err
	}
	back := nextOr(c, "/settings")
	state, verifier := randomString(24), randomString(32)
	url, err := h.Connections.AuthorizeURL(c.Request().Context(), id, h.callbackURL(), state, verifier)
	if err != nil {
		return h.refuse(c, err, back)
	}
	ctx := c.Request().Context()
	h.Sessions.Put(ctx, sessionOAuthState, state)
	h.Sessions.Put(ctx, sessionOAuthVerifier, verifier)
	h.Sessions.Put(ctx, sessionOAuthConn, id)
	h.Sessions.Put(ctx, sessionOAuthNext, nextOr(c, "/"))
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", url)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, url)
}

// callbackURL is where Salesforce sends the browser back.
func (h *Handlers) callbackURL() string { return strings.TrimRight(h.BaseURL, "/") + "/oauth/callback" }

// randomString returns n random bytes, base64url without padding (a PKCE verifier of 32 bytes is 43
// characters, as RFC 7636 asks).
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
