package handlers

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"pgforce/internal/account"
	"pgforce/views"
)

// Session keys.
const (
	sessionUserID = "user_id"
	sessionFlash  = "flash"
)

// render writes a templ component with a pooled buffer, so a failed render never sends half a page.
func render(c echo.Context, status int, comp templ.Component) error {
	buf := templ.GetBuffer()
	defer templ.ReleaseBuffer(buf)
	if err := comp.Render(c.Request().Context(), buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// sessionMarker is set on requests that pass through the session middleware; pages rendered for
// other requests (static 404s, health) must not touch the session store.
const sessionMarker = "pgforce.session"

// MarkSession records that the request has a loaded session.
func MarkSession(c echo.Context) { c.Set(sessionMarker, true) }

// HasSession reports whether the request has a loaded session.
func HasSession(c echo.Context) bool { v, _ := c.Get(sessionMarker).(bool); return v }

// isHTMX reports whether the request came from htmx (and so wants a fragment). A history restore
// (the back button over a URL htmx pushed) wants the whole page.
func isHTMX(c echo.Context) bool {
	h := c.Request().Header
	return h.Get("HX-Request") == "true" && h.Get("HX-History-Restore-Request") != "true"
}

// page builds the layout model for the signed-in user and takes pending flashes.
func (h *Handlers) page(c echo.Context, title, nav string) views.Page {
	p := views.Page{Title: title, Nav: nav}
	if HasSession(c) {
		p.Flashes = h.takeFlashes(c)
	}
	if u, ok := account.FromContext(c.Request().Context()); ok {
		p.UserEmail, p.UserRole, p.CanAct = u.Email, string(u.Role), u.CanAct()
		p.SimOrg = h.SimOrg != nil && p.CanAct
	}
	return p
}

// flash queues a message for the next page the user sees.
func (h *Handlers) flash(c echo.Context, kind, msg string) {
	ctx := c.Request().Context()
	var fs []views.Flash
	if raw := h.Sessions.GetString(ctx, sessionFlash); raw != "" {
		_ = json.Unmarshal([]byte(raw), &fs)
	}
	fs = append(fs, views.Flash{Kind: kind, Message: msg})
	b, _ := json.Marshal(fs)
	h.Sessions.Put(ctx, sessionFlash, string(b))
}

func (h *Handlers) takeFlashes(c echo.Context) []views.Flash {
	raw := h.Sessions.PopString(c.Request().Context(), sessionFlash)
	if raw == "" {
		return nil
	}
	var fs []views.Flash
	_ = json.Unmarshal([]byte(raw), &fs)
	return fs
}

// seeOther redirects after a POST; htmx requests get HX-Redirect so the whole page changes.
func seeOther(c echo.Context, url string) error {
	if isHTMX(c) {
		c.Response().Header().Set("HX-Redirect", url)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, url)
}

// safeNext keeps redirects (after sign-in, an action or an authorization) on this site: a path that
// starts with exactly one "/", with no scheme or host, and no control character or backslash anywhere,
// as written or percent-decoded. Browsers drop tabs and newlines from a Location and read "\" as "/",
// so "/<TAB>/evil.example" or "/%5Cevil.example" would leave the site. Anything else becomes "/".
func safeNext(next string) string {
	if !localPath(next) {
		return "/"
	}
	return next
}

func localPath(next string) bool {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return false
	}
	decoded, err := url.PathUnescape(next)
	if err != nil || !utf8.ValidString(decoded) {
		return false
	}
	unsafe := func(r rune) bool { return r == '\\' || unicode.IsControl(r) }
	for _, s := range []string{next, decoded} {
		if !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsFunc(s, unsafe) {
			return false
		}
	}
	return true
}

// bare is the layout model for fragments: who is signed in, without taking the pending flashes
// (those belong to the next full page).
func (h *Handlers) bare(c echo.Context) views.Page {
	var p views.Page
	if u, ok := account.FromContext(c.Request().Context()); ok {
		p.UserEmail, p.UserRole, p.CanAct = u.Email, string(u.Role), u.CanAct()
		p.SimOrg = h.SimOrg != nil && p.CanAct
	}
	return p
}
