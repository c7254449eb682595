package handlers

import (
	"bytes"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/audit"
	"pgforce/sync/failure"
)

// DownloadAudit downloads the audit trail as CSV, for a date range (UTC days, "until" inclusive) and an
// action or area ("mapping.").
func (h *Handlers) DownloadAudit(c echo.Context) error {
	f, err := auditFilterOf(c)
	if err != nil {
		return err
	}
	// Buffered, so a failure half-way becomes an error page and never a truncated file.
	var buf bytes.Buffer
	if err := h.Reports.AuditCSV(c.Request().Context(), f, &buf); err != nil {
		return err
	}
	name := "pgforce-audit-" + h.now().UTC().Format("20060102-150405") + ".csv"
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// auditFilterOf reads the trail's filters: since and until (UTC days, "until" inclusive) and an
// action or area ("mapping.").
func auditFilterOf(c echo.Context) (audit.Filter, error) {
	var f audit.Filter
	if s := c.QueryParam("since"); s != "" {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return f, failure.InvalidField("since", "The start date must look like 2025-06-20.")
		}
		f.Since = t
	}
	if s := c.QueryParam("until"); s != "" {
		t, err := time.Parse("2006-01-02", s)
		if err != nil {
			return f, failure.InvalidField("until", "The end date must look like 2025-06-20.")
		}
		f.Until = t.AddDate(0, 0, 1)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return f, failure.E(failure.Invalid, "The end date is before the start date.")
	}
	if a := strings.TrimSpace(c.QueryParam("action")); a != "" {
		f.Action = audit.Action(a)
	}
	return f, nil
}
