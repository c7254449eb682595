package handlers

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/internal/resource"
	"pgforce/sync/failure"
)

// APIAudit answers the audit trail as JSON, or as CSV with ?format=csv or Accept: text/csv.
// Filters: since and until (UTC days, until inclusive), action ("mapping.create" or "mapping."),
// connection_id.
func (h *Handlers) APIAudit(c echo.Context) error {
	f, err := auditFilterOf(c)
	if err != nil {
		return err
	}
	if s := c.QueryParam("connection_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return failure.InvalidField("connection_id", "connection_id must be a connection's id.")
		}
		f.ConnectionID = &id
	}
	ctx := c.Request().Context()
	if c.QueryParam("format") == "csv" || strings.Contains(c.Request().Header.Get("Accept"), "text/csv") {
		var buf bytes.Buffer
		if err := h.Reports.AuditCSV(ctx, f, &buf); err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
	}
	entries, err := h.Reports.AuditEntries(ctx, f)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, resource.NewList(resource.NewAuditEntries(entries)))
}
