package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/internal/account"
	"pgforce/sync/failure"
	"pgforce/views"
)

// AddUser creates a user from the Settings form.
func (h *Handlers) AddUser(c echo.Context) error {
	form := views.UserForm{Email: c.FormValue("email"), Role: c.FormValue("role")}
	ctx := c.Request().Context()
	role, err := account.ParseRole(form.Role)
	if err == nil {
		_, err = h.Accounts.Create(ctx, actorOf(c), form.Email, c.FormValue("password"), role)
	}
	var fe *failure.Error
	if asFailure(err, &fe) && fe.Kind == failure.Invalid {
		m, lerr := h.usersPage(c)
		if lerr != nil {
			return lerr
		}
		m.Form, m.Errors = form, views.FormErrors{fe.Field: fe.Message}
		p, _, _, perr := h.dashboard(c, "Users", "settings")
		if perr != nil {
			return perr
		}
		return render(c, http.StatusUnprocessableEntity, views.Users(p, m))
	}
	if err != nil {
		return err
	}
	h.flash(c, "success", "Added "+form.Email+" as "+string(role)+".")
	return seeOther(c, "/settings/users")
}
