package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/internal/account"
	"pgforce/views"
)

// ShowUsers lists users (Settings → Users and roles).
func (h *Handlers) ShowUsers(c echo.Context) error {
	p, _, _, err := h.dashboard(c, "Users", "settings")
	if err != nil {
		return err
	}
	m, err := h.usersPage(c)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Users(p, m))
}

func (h *Handlers) usersPage(c echo.Context) (views.UsersPage, error) {
	users, err := h.Accounts.List(c.Request().Context())
	if err != nil {
		return views.UsersPage{}, err
	}
	me, _ := account.FromContext(c.Request().Context())
	m := views.UsersPage{}
	for _, u := range users {
		m.Users = append(m.Users, views.UserRow{Email: u.Email, Role: string(u.Role), CreatedAt: u.CreatedAt, LastLogin: u.LastLoginAt, IsSelf: u.ID == me.ID})
	}
	return m, nil
}
