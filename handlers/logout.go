package handlers

import (
	"github.com/labstack/echo/v4"
)

// Logout ends the session on the server, so the old cookie is worthless even if copied.
func (h *Handlers) Logout(c echo.Context) error {
	if err := h.Sessions.Destroy(c.Request().Context()); err != nil {
		return err
	}
	return seeOther(c, "/login?signed_out=1")
}
