package web

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/handlers"
	"pgforce/internal/account"
	"pgforce/internal/apitoken"
	"pgforce/sync/failure"
)

// contentSecurityPolicy allows only our own scripts and styles: no inline script can run, so an
// injected <script> in a Salesforce value would be inert even if escaping ever failed.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func securityHeaders(tls bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", contentSecurityPolicy)
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			if tls {
				h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
			}
			return next(c)
		}
	}
}

func limitBody(max int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.ContentLength > max {
				return echo.NewHTTPError(http.StatusRequestEntityTooLarge, fmt.Sprintf("The request is too large (limit %d MiB).", max>>20))
			}
			r.Body = http.MaxBytesReader(c.Response(), r.Body, max)
			return next(c)
		}
	}
}

// crossOriginProtection refuses state-changing requests sent by another site (Go's
// CrossOriginProtection: Sec-Fetch-Site, else Origin vs Host). No token is needed in pages, which
// suits htmx and plain forms alike. It guards the dashboard, whose requests carry the session cookie;
// the bearer-token API is outside it.
//
// Go lets through a request with neither header (it cannot be from a current browser, which sends
// Sec-Fetch-Site, or Origin on every POST). A browser old enough to send neither could still be made
// to post a form from another site with the admin's cookie, so such requests are refused too: the
// dashboard is only used from a browser, and scripts use the API.
func crossOriginProtection() echo.MiddlewareFunc {
	cop := http.NewCrossOriginProtection()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if err := cop.Check(r); err != nil {
				return failure.Wrap(err, failure.Forbidden, "This request came from another site and was refused.")
			}
			if changesState(r.Method) && r.Header.Get("Sec-Fetch-Site") == "" && r.Header.Get("Origin") == "" {
				return failure.E(failure.Forbidden, "This request was refused: it did not say which site sent it (no Origin or Sec-Fetch-Site header). "+
					"Use the dashboard from a current browser; scripts use the REST API with a token.")
			}
			return next(c)
		}
	}
}

// changesState reports whether a request method may change something (the methods Go's
// CrossOriginProtection checks).
func changesState(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// respondInside turns handler errors into responses while the session middleware is still wrapping
// the response, so session changes and error pages are written together.
func respondInside(e *echo.Echo) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := next(c); err != nil {
				e.HTTPErrorHandler(err, c)
			}
			return nil
		}
	}
}

// loadUser puts the signed-in user (re-read from the database, so role changes and removals apply at
// once) into the request context.
func loadUser(h *handlers.Handlers) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			handlers.MarkSession(c)
			ctx := c.Request().Context()
			id := h.Sessions.GetInt64(ctx, "user_id")
			if id == 0 {
				return next(c)
			}
			u, err := h.Accounts.Get(ctx, id)
			if failure.Is(err, failure.NotFound) {
				// The account was removed: end its sessions as they show up.
				if err := h.Sessions.Destroy(ctx); err != nil {
					return err
				}
				return next(c)
			}
			if err != nil {
				return err
			}
			c.SetRequest(c.Request().WithContext(account.WithUser(ctx, u)))
			return next(c)
		}
	}
}

func requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := account.FromContext(c.Request().Context()); ok {
			return next(c)
		}
		r := c.Request()
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			login := "/login?next=" + url.QueryEscape(r.URL.RequestURI())
			if c.Request().Header.Get("HX-Request") == "true" {
				c.Response().Header().Set("HX-Redirect", login)
				return c.NoContent(http.StatusUnauthorized)
			}
			return c.Redirect(http.StatusSeeOther, login)
		}
		return failure.E(failure.Unauthenticated, "Your session has ended. Sign in again.")
	}
}

func requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		u, _ := account.FromContext(c.Request().Context())
		if !u.CanAct() {
			return failure.E(failure.Forbidden, "Your role (%s) can look but not change anything. Ask an admin.", u.Role)
		}
		return next(c)
	}
}

func logRequests(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			r := c.Request()
			level := slog.LevelInfo
			status := c.Response().Status
			if status >= 500 {
				level = slog.LevelError
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
				slog.Duration("took", time.Since(start)), slog.Int64("bytes", c.Response().Size), slog.String("ip", c.RealIP()))
			return nil
		}
	}
}

func recoverPanics(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) (err error) {
			defer func() {
				if p := recover(); p != nil {
					if p == http.ErrAbortHandler {
						panic(p)
					}
					log.Error("panic serving request", "path", c.Request().URL.Path, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					err = fmt.Errorf("panic: %v", p)
				}
			}()
			return next(c)
		}
	}
}

// requireToken authenticates a bearer token and checks that its role may use a route of the given
// access class. Missing, unknown and revoked tokens get the same 401; a token of the wrong role 403.
func requireToken(h *handlers.Handlers, access Access) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Header().Set("Cache-Control", "no-store")
			if h.Tokens == nil {
				return failure.E(failure.Unavailable, "API tokens are not available in this pgforce process.")
			}
			scheme, secret, _ := strings.Cut(c.Request().Header.Get("Authorization"), " ")
			if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
				c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pgforce"`)
				return failure.E(failure.Unauthenticated, "Send an API token: Authorization: Bearer <token> (create one with `pgforce token create`).")
			}
			t, err := h.Tokens.Authenticate(c.Request().Context(), strings.TrimSpace(secret))
			if err != nil {
				if failure.Is(err, failure.Unauthenticated) {
					c.Response().Header().Set("WWW-Authenticate", `Bearer realm="pgforce", error="invalid_token"`)
				}
				return err
			}
			if !tokenMay(t.Role, access) {
				return failure.E(failure.Forbidden, "A %s token cannot do this (%s access is needed).", t.Role, access)
			}
			c.SetRequest(c.Request().WithContext(apitoken.WithToken(c.Request().Context(), t)))
			return next(c)
		}
	}
}

// tokenMay says which token roles may use which access class.
func tokenMay(role apitoken.Role, access Access) bool {
	switch access {
	case APIRead:
		return role == apitoken.Admin || role == apitoken.Viewer
	case APIWrite:
		return role == apitoken.Admin
	case APIMetrics:
		return role == apitoken.Admin || role == apitoken.Metrics
	}
	return false
}
