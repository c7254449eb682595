package handlers

import (
	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// RenderError shows an error: as a flash swapped into the page for htmx requests, as a full page
// otherwise.
func (h *Handlers) RenderError(c echo.Context, status int, msg string) error {
	if isHTMX(c) {
		// Error statuses are swapped too (see the htmx-config meta in the layout); retarget to the
		// flash area so the message appears without replacing the control that failed.
		c.Response().Header().Set("HX-Retarget", "#flashes")
		c.Response().Header().Set("HX-Reswap", "innerHTML")
		return render(c, status, views.Flashes([]views.Flash{{Kind: "error", Message: msg}}))
	}
	return render(c, status, views.ErrorPage(h.page(c, "Error", ""), status, msg))
}
