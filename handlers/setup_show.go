package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// ShowSetup renders the first-admin form for a valid one-time setup link.
func (h *Handlers) ShowSetup(c echo.Context) error {
	token := c.QueryParam("token")
	if err := h.Accounts.CheckSetupToken(c.Request().Context(), token); err != nil {
		return err
	}
	return render(c, http.StatusOK, views.Setup(h.page(c, "Set up pgforce", ""), views.SetupForm{Token: token}))
}
