package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/internal/account"
	"pgforce/views"
)

// ShowLogin renders the sign-in form; signed-in users go straight on.
func (h *Handlers) ShowLogin(c echo.Context) error {
	next := safeNext(c.QueryParam("next"))
	if _, ok := account.FromContext(c.Request().Context()); ok {
		return c.Redirect(http.StatusSeeOther, next)
	}
	p := h.page(c, "Sign in", "")
	if c.QueryParam("signed_out") == "1" {
		p.Flashes = append(p.Flashes, views.Flash{Kind: "info", Message: "You have signed out."})
	}
	return render(c, http.StatusOK, views.Login(p, views.LoginForm{Next: next}))
}
