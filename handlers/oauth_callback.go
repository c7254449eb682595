package handlers

import (
	"crypto/subtle"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
)

// OAuthCallback completes an authorization: the state must match the one kept in the session, and
// only then is the authorization in progress used up (single use) and the code exchanged. A response
// with another state (stale, from another tab, or a link from another site) changes nothing, so it
// cannot cancel the admin's authorization. Refusals at Salesforce's login page come back as clear
// messages.
func (h *Handlers) OAuthCallback(c echo.Context) error {
	ctx := c.Request().Context()
	fail := func(msg string) error {
		h.flash(c, "error", msg)
		return seeOther(c, "/settings")
	}
	state := h.Sessions.GetString(ctx, sessionOAuthState)
	connID := h.Sessions.GetInt64(ctx, sessionOAuthConn)
	if state == "" || connID == 0 {
		return fail("There is no Salesforce authorization in progress in this session (the link was already used, or the session ended). Nothing changed; click Authorize to start again.")
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(c.QueryParam("state"))) != 1 {
		return fail("This authorization response does not match the one pgforce asked for (it is stale, or came from another tab). Nothing changed; click Authorize to start again.")
	}
	verifier := h.Sessions.PopString(ctx, sessionOAuthVerifier)
	next := h.Sessions.PopString(ctx, sessionOAuthNext)
	h.Sessions.Remove(ctx, sessionOAuthState)
	h.Sessions.Remove(ctx, sessionOAuthConn)
	if e := c.QueryParam("error"); e != "" {
		return fail(oauthErrorMessage(e, c.QueryParam("error_description")))
	}
	code := c.QueryParam("code")
	if code == "" {
		return fail("Salesforce sent no authorization code back. Nothing changed; click Authorize to try again.")
	}
	conn, err := h.Connections.CompleteAuthorization(ctx, actorOf(c), connID, h.callbackURL(), code, verifier)
	if err != nil {
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		return fail("Authorization failed: " + failure.Message(err))
	}
	h.useConnection(c, conn.ID)
	h.flash(c, "success", "Connected "+conn.Name+" to "+orDash(conn.OrgName)+" as "+orDash(conn.Username)+". Syncing starts now.")
	return seeOther(c, safeNext(next))
}

// oauthErrorMessage explains Salesforce's OAuth error codes (RFC 6749 §4.1.2.1) to an admin.
func oauthErrorMessage(code, desc string) string {
	var msg string
	switch code {
	case "access_denied":
		msg = "Authorization was cancelled: access was denied at Salesforce's login page."
	case "invalid_scope":
		msg = "Salesforce refused the requested access (invalid scope): the connected app must allow the api, refresh_token and id scopes."
	case "unauthorized_client", "invalid_client_id":
		msg = "Salesforce does not accept pgforce's client id: check PGFORCE_SF_CLIENT_ID and the connected app."
	case "redirect_uri_mismatch":
		msg = "Salesforce refused the callback URL: the connected app's callback must be " + "<PGFORCE_BASE_URL>/oauth/callback."
	case "server_error", "temporarily_unavailable":
		msg = "Salesforce could not complete the authorization right now."
	default:
		msg = "Salesforce refused the authorization (" + code + ")."
	}
	if desc != "" {
		msg += " Salesforce said: " + desc
	}
	return msg + " Nothing changed; click Authorize to try again."
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
