package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// SubmitLogin checks the credentials and starts a fresh session.
func (h *Handlers) SubmitLogin(c echo.Context) error {
	form := views.LoginForm{Email: c.FormValue("email"), Next: safeNext(c.FormValue("next"))}
	ctx := c.Request().Context()
	u, err := h.Accounts.Authenticate(ctx, form.Email, c.FormValue("password"), c.RealIP())
	if err != nil {
		var status int
		switch failure.KindOf(err) {
		case failure.Unauthenticated:
			status = http.StatusUnauthorized
		case failure.RateLimited:
			status = http.StatusTooManyRequests
			var fe *failure.Error
			if asFailure(err, &fe) && fe.After > 0 {
				c.Response().Header().Set("Retry-After", strconv.Itoa(int(fe.After.Seconds())+1))
			}
		default:
			return err
		}
		form.Errors = views.FormErrors{"": failure.Message(err)}
		return render(c, status, views.Login(h.page(c, "Sign in", ""), form))
	}
	// A new token at sign-in defeats session fixation; it also restarts the absolute lifetime.
	if err := h.Sessions.RenewToken(ctx); err != nil {
		return err
	}
	h.Sessions.Put(ctx, sessionUserID, u.ID)
	h.Log.Info("signed in", "user", u.Email, "role", u.Role)
	return seeOther(c, form.Next)
}
