package web

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"
)

// Session timeouts: a session ends after 30 minutes without a request, and 12 hours after sign-in
// whatever the activity (OWASP ASVS 7.3.1/7.3.2).
const (
	IdleTimeout     = 30 * time.Minute
	AbsoluteTimeout = 12 * time.Hour
)

// NewSessions configures the session manager. secure is true when the dashboard is reached over
// HTTPS (directly or through a proxy): cookies then carry Secure and the __Host- prefix.
func NewSessions(st scs.Store, secure bool, log *slog.Logger) *scs.SessionManager {
	sm := scs.New()
	sm.Store = newRenewingStore(st, sm) // a page load need not write an unchanged session
	sm.IdleTimeout = IdleTimeout
	sm.Lifetime = AbsoluteTimeout
	sm.Cookie.Name = "pgforce_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	if secure {
		// The browser enforces what __Host- promises: Secure, no Domain, Path=/.
		sm.Cookie.Name = "__Host-pgforce_session"
		sm.Cookie.Secure = true
	}
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		log.Error("session store", "err", err)
		http.Error(w, "Session storage is unavailable; try again shortly.", http.StatusServiceUnavailable)
	}
	return sm
}

// loadSessions loads the session for every request and saves it afterwards, except for the
// dashboard's background refreshes (htmx polls of live regions, marked live=1): those read the
// session without renewing it, so a tab left open still signs out after the idle timeout, and
// polling writes nothing. Changes a background refresh makes to the session are not kept.
func loadSessions(sm *scs.SessionManager) echo.MiddlewareFunc {
	save := echo.WrapMiddleware(sm.LoadAndSave)
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		saving := save(next)
		return func(c echo.Context) error {
			r := c.Request()
			if !isBackgroundRefresh(r) {
				return saving(c)
			}
			var token string
			if ck, err := r.Cookie(sm.Cookie.Name); err == nil {
				token = ck.Value
			}
			ctx, err := sm.Load(r.Context(), token)
			if err != nil {
				return err
			}
			c.SetRequest(r.WithContext(ctx))
			return next(c)
		}
	}
}

// isBackgroundRefresh reports whether a request is a live region polling itself, not the user.
func isBackgroundRefresh(r *http.Request) bool {
	return r.Method == http.MethodGet && r.Header.Get("HX-Request") == "true" && r.URL.Query().Get("live") == "1"
}
