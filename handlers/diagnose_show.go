package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// ShowDiagnose runs the current connection's health checks (RED / YELLOW / GREEN, each with its fix).
func (h *Handlers) ShowDiagnose(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Diagnose", "activity")
	if err != nil {
		return err
	}
	m := views.DiagnosePage{Available: h.Diagnose != nil}
	if cur == nil || h.Diagnose == nil {
		return render(c, http.StatusOK, views.Diagnose(p, m, cur != nil))
	}
	r, err := h.diagnose(c, cur.ID)
	if err != nil {
		return err
	}
	m.Overall, m.CheckedAt = string(r.Status), r.CheckedAt.UTC().Format(time.RFC3339)
	for _, res := range r.Results {
		m.Rows = append(m.Rows, views.DiagnoseRow{Name: res.DisplayName, Status: string(res.Status), Message: res.Message, Fix: res.Fix})
	}
	return render(c, http.StatusOK, views.Diagnose(p, m, true))
}
