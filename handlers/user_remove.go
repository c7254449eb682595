package handlers

import (
	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
)

// RemoveUser deletes a user; their sessions end at their next request.
func (h *Handlers) RemoveUser(c echo.Context) error {
	email := c.FormValue("email")
	err := h.Accounts.Remove(c.Request().Context(), actorOf(c), email)
	if err != nil && failure.KindOf(err) == failure.Internal {
		return err
	}
	if err != nil {
		h.flash(c, "error", failure.Message(err))
	} else {
		h.flash(c, "success", "Removed "+email+".")
	}
	return seeOther(c, "/settings/users")
}
