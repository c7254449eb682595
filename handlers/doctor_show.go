package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
	"pgforce/views"
)

// ShowDoctor checks the current connection's org setup (`pgforce doctor`). With ?setup=1 from htmx
// it renders only the Setup check the Mappings page shows before the first mapping.
func (h *Handlers) ShowDoctor(c echo.Context) error {
	conns, cur, err := h.current(c)
	if err != nil {
		return err
	}
	m := views.DoctorPage{Available: h.Doctor != nil}
	if cur != nil && h.Doctor != nil {
		r, err := h.Doctor.Run(c.Request().Context(), cur.ID)
		switch {
		case failure.Is(err, failure.Conflict):
			m.Problem = failure.Message(err) // not authorized yet
		case err != nil:
			return err
		default:
			m.Overall, m.CheckedAt = string(r.Status), r.CheckedAt.UTC().Format(time.RFC3339)
			for _, res := range r.Results {
				m.Rows = append(m.Rows, views.DiagnoseRow{Name: res.DisplayName, Status: string(res.Status), Message: res.Message, Fix: res.Fix})
			}
		}
	}
	if isHTMX(c) && c.QueryParam("setup") == "1" {
		// A fragment of the Mappings page: the page's layout (and its flashes) stay as they are.
		return render(c, http.StatusOK, views.SetupCheck(m))
	}
	return render(c, http.StatusOK, views.Doctor(h.dashPage(c, "Org setup", "activity", conns, cur), m, cur != nil))
}
