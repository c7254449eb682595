package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/views"
)

// ShowNewConnection renders Setup Connection: name, schema, org type and API version. From the
// sandbox-refresh guide (?refresh_from=ID) it is prefilled for the refreshed sandbox.
func (h *Handlers) ShowNewConnection(c echo.Context) error {
	p, _, conns, err := h.dashboard(c, "Set up connection", "settings")
	if err != nil {
		return err
	}
	f := h.connectionForm()
	used := map[string]bool{}
	for _, cc := range conns {
		used[cc.Schema] = true
	}
	if used[f.Schema] {
		f.Schema = ""
	}
	if id, err := strconv.ParseInt(c.QueryParam("refresh_from"), 10, 64); err == nil {
		old, err := h.Connections.Get(c.Request().Context(), id)
		if err != nil {
			return err
		}
		f.RefreshFromID = old.ID
		f.Name, f.Schema, f.OrgType, f.APIVersion = old.Name+" (refreshed)", old.Schema+"_refreshed", string(old.OrgType), old.APIVersion
		if old.OrgType == connection.Custom {
			f.LoginURL = old.LoginURL
		}
		f.Next = "/settings/sandbox-refresh?from=" + itoa(old.ID)
	}
	return render(c, http.StatusOK, views.NewConnection(p, f))
}

// connectionForm is the empty Setup Connection form.
func (h *Handlers) connectionForm() views.ConnectionForm {
	f := views.ConnectionForm{Schema: "salesforce", OrgType: string(connection.Production), APIVersion: admin.DefaultAPIVersion,
		APIVersions: apiVersions(""), Simulated: h.SimulatedOrg, SimulatedURL: h.SimulatedLoginURL, Errors: views.FormErrors{}}
	if h.SimulatedOrg {
		f.OrgType = string(connection.Simulated)
	}
	return f
}

// apiVersions are the Salesforce API versions offered, newest first, always including current.
func apiVersions(current string) []string {
	var out []string
	found := current == ""
	for v := 64; v >= admin.MinAPIVersion; v-- {
		s := strconv.Itoa(v) + ".0"
		out = append(out, s)
		found = found || s == current
	}
	if !found {
		out = append([]string{current}, out...)
	}
	return out
}
