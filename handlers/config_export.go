package handlers

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/views"
)

// ShowExport confirms an export of the current connection's configuration.
func (h *Handlers) ShowExport(c echo.Context) error {
	p, cur, _, err := h.dashboard(c, "Export configuration", "settings")
	if err != nil {
		return err
	}
	if cur == nil {
		return seeOther(c, "/settings")
	}
	ms, err := h.Mappings.List(c.Request().Context(), cur.ID)
	if err != nil {
		return err
	}
	return render(c, http.StatusOK, views.ExportConfirmPage(p, views.ExportConfirm{ConnID: cur.ID, ConnName: cur.Name, Mappings: len(ms)}))
}

// sessionExported remembers, for the sandbox-refresh guide, that a connection's export was downloaded.
func sessionExported(id int64) string { return "exported_" + strconv.FormatInt(id, 10) }

// ExportConfig downloads a connection's configuration as Heroku Connect JSON.
func (h *Handlers) ExportConfig(c echo.Context) error {
	_, cur, err := h.current(c)
	if err != nil {
		return err
	}
	if cur == nil {
		return seeOther(c, "/settings")
	}
	raw, err := h.Configuration.Export(c.Request().Context(), cur.ID)
	if err != nil {
		return err
	}
	if c.QueryParam("refresh") == "1" {
		h.Sessions.Put(c.Request().Context(), sessionExported(cur.ID), true)
	}
	name := "pgforce-" + fileSafe(cur.Name) + "-" + h.now().UTC().Format("20060102-150405") + ".json"
	c.Response().Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	return c.Blob(http.StatusOK, "application/json", raw)
}

// fileSafe keeps letters, digits, '-' and '_' of a name for a download's file name.
func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			return r
		}
		return '-'
	}, s)
}
