package web

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/handlers"
	"pgforce/sync/failure"
)

// statusOf maps an error kind to its HTTP status: the one place this mapping lives. A database that
// cannot be reached is Unavailable (sync/store classifies its errors): 503.
func statusOf(err error) int {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge
	}
	switch failure.KindOf(err) {
	case failure.Invalid:
		return http.StatusUnprocessableEntity
	case failure.NotFound:
		return http.StatusNotFound
	case failure.Conflict:
		return http.StatusConflict
	case failure.Forbidden:
		return http.StatusForbidden
	case failure.Unauthenticated:
		return http.StatusUnauthorized
	case failure.RateLimited:
		return http.StatusTooManyRequests
	case failure.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// messageOf is what the user is told: the failure's message, echo's text for routing errors, and a
// generic sentence for anything internal (details go to the log only).
func messageOf(err error, status int) string {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		switch he.Code {
		case http.StatusNotFound:
			return "There is no page at this address."
		case http.StatusMethodNotAllowed:
			return "This address does not accept that kind of request."
		}
		if he.Code < 500 {
			if s, ok := he.Message.(string); ok {
				return s
			}
		}
	}
	if status == http.StatusRequestEntityTooLarge {
		return "The request is too large."
	}
	return failure.Message(err)
}

func errorHandler(log *slog.Logger, h *handlers.Handlers) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status := statusOf(err)
		msg := messageOf(err, status)
		if status >= 500 {
			log.Error("request failed", "path", c.Request().URL.Path, "err", err)
		} else {
			log.Info("request refused", "path", c.Request().URL.Path, "status", status, "err", err)
		}
		var fe *failure.Error
		if errors.As(err, &fe) && fe.Kind == failure.RateLimited && fe.After > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(int(fe.After.Seconds())+1))
		}
		var werr error
		switch {
		case isAPI(c.Request().URL.Path):
			werr = c.JSON(status, map[string]string{"id": errorID(err, status), "message": msg})
		case c.Request().Method == http.MethodHead:
			werr = c.NoContent(status)
		default:
			werr = h.RenderError(c, status, msg)
		}
		if werr != nil {
			log.Error("write error response", "err", werr)
		}
	}
}

// errorID is the API error object's id: the failure's kind, or for routing and size errors a name
// derived from the status.
func errorID(err error, status int) string {
	if k := failure.KindOf(err); k != failure.Internal {
		return k.String()
	}
	switch status {
	case http.StatusNotFound:
		return failure.NotFound.String()
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusUnauthorized:
		return failure.Unauthenticated.String()
	case http.StatusForbidden:
		return failure.Forbidden.String()
	}
	if status < 500 {
		return failure.Invalid.String()
	}
	return failure.Internal.String()
}
