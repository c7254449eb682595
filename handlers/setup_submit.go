package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// SubmitSetup creates the first admin with the one-time link and signs them in.
func (h *Handlers) SubmitSetup(c echo.Context) error {
	form := views.SetupForm{Token: c.FormValue("token"), Email: c.FormValue("email")}
	password := c.FormValue("password")
	if password != c.FormValue("confirm") {
		form.Errors = views.FormErrors{"confirm": "The two passwords do not match."}
		return render(c, http.StatusUnprocessableEntity, views.Setup(h.page(c, "Set up pgforce", ""), form))
	}
	ctx := c.Request().Context()
	u, err := h.Accounts.CompleteSetup(ctx, form.Token, form.Email, password)
	if err != nil {
		var fe *failure.Error
		if asFailure(err, &fe) && fe.Kind == failure.Invalid {
			form.Errors = views.FormErrors{fe.Field: fe.Message}
			return render(c, http.StatusUnprocessableEntity, views.Setup(h.page(c, "Set up pgforce", ""), form))
		}
		return err
	}
	if err := h.Sessions.RenewToken(ctx); err != nil {
		return err
	}
	h.Sessions.Put(ctx, sessionUserID, u.ID)
	h.flash(c, "success", "Welcome! You are pgforce's first admin.")
	return seeOther(c, "/")
}

func asFailure(err error, target **failure.Error) bool { return errors.As(err, target) }
