// Package web assembles the dashboard's HTTP server: the route table, middleware (security headers,
// cross-site protection, sessions, sign-in, roles, logging) and the one place errors become responses.
package web

import (
	"log/slog"
	"net/http"
	"strings"

	"github.com/alexedwards/scs/v2"
	"github.com/labstack/echo/v4"

	"pgforce/handlers"
	"pgforce/static"
)

// Deps are what the server needs.
type Deps struct {
	Log      *slog.Logger
	Sessions *scs.SessionManager
	Handlers *handlers.Handlers
	TLS      bool // HSTS is sent only when the dashboard is reached over HTTPS
	// Sim, when set, is the simulated Salesforce org mounted under /sim. It is a separate site for
	// the browser (its own login pages and forms), so it is outside the dashboard's session.
	Sim http.Handler
	// MaxBodyBytes bounds request bodies (default 8 MiB).
	MaxBodyBytes int64
}

// New returns the configured echo server.
func New(d Deps) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(d.Log, d.Handlers)
	// The client address (sign-in throttling, logs) is the peer's: X-Forwarded-For and X-Real-IP are
	// set by whoever sends the request, so trusting them would let anyone dodge the per-address limit.
	e.IPExtractor = echo.ExtractIPDirect()
	if d.MaxBodyBytes == 0 {
		d.MaxBodyBytes = 8 << 20
	}

	e.Use(recoverPanics(d.Log), logRequests(d.Log), securityHeaders(d.TLS), limitBody(d.MaxBodyBytes))

	e.GET("/healthz", d.Handlers.Healthz)
	e.GET("/readyz", d.Handlers.Readyz)
	e.GET(static.Prefix+"*", echo.WrapHandler(static.Handler()))
	e.GET("/favicon.ico", func(c echo.Context) error {
		return c.Redirect(http.StatusMovedPermanently, static.URL("favicon.svg"))
	})
	if d.Sim != nil {
		sim := echo.WrapHandler(http.StripPrefix("/sim", d.Sim))
		// The org's own pages start at /sim/lightning; /sim alone (the printed instance URL) goes there,
		// not to the dashboard's root.
		e.Any("/sim", func(c echo.Context) error { return c.Redirect(http.StatusSeeOther, "/sim/lightning") })
		e.Any("/sim/*", sim)
	}

	dash := e.Group("", crossOriginProtection(), loadSessions(d.Sessions), respondInside(e), loadUser(d.Handlers))
	api := e.Group("")
	for _, r := range Routes(d.Handlers) {
		if r.Access.Bearer() || strings.HasPrefix(r.Path, "/api/") {
			var mw []echo.MiddlewareFunc
			if r.Access.Bearer() {
				mw = append(mw, requireToken(d.Handlers, r.Access))
			}
			api.Add(r.Method, r.Path, r.Handler, mw...)
			continue
		}
		var mw []echo.MiddlewareFunc
		switch r.Access {
		case Viewer:
			mw = append(mw, requireUser)
		case Admin:
			mw = append(mw, requireUser, requireAdmin)
		}
		dash.Add(r.Method, r.Path, r.Handler, mw...)
	}
	return e
}

// isAPI reports whether the path belongs to the JSON API or metrics (errors as JSON, not pages).
func isAPI(path string) bool { return strings.HasPrefix(path, "/api/") || path == "/metrics" }
