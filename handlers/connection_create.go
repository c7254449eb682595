package handlers

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
	"pgforce/views"
)

// CreateConnection stores a new connection (state NEW) and makes it current; authorizing it is next.
func (h *Handlers) CreateConnection(c echo.Context) error {
	f := h.connectionForm()
	f.Name, f.Schema = strings.TrimSpace(c.FormValue("name")), strings.TrimSpace(c.FormValue("schema"))
	f.OrgType, f.LoginURL, f.APIVersion = c.FormValue("org_type"), strings.TrimSpace(c.FormValue("login_url")), c.FormValue("api_version")
	f.Next = safeNextOrEmpty(c.FormValue("next"))
	n := admin.NewConnection{Name: f.Name, Schema: f.Schema, OrgType: connection.OrgType(f.OrgType), LoginURL: f.LoginURL, APIVersion: f.APIVersion}
	if n.OrgType == connection.Simulated {
		if !h.SimulatedOrg {
			n.OrgType = ""
		} else {
			n.LoginURL = h.SimulatedLoginURL
		}
	}
	conn, err := h.Connections.Create(c.Request().Context(), actorOf(c), n)
	if err != nil {
		if failure.KindOf(err) == failure.Internal {
			return err
		}
		var fe *failure.Error
		if errors.As(err, &fe) && fe.Field != "" {
			f.Errors[fe.Field] = fe.Message
		} else {
			f.Errors[""] = failure.Message(err)
		}
		conns, cur, cerr := h.current(c)
		if cerr != nil {
			return cerr
		}
		return render(c, http.StatusUnprocessableEntity, views.NewConnection(h.dashPage(c, "Set up connection", "settings", conns, cur), f))
	}
	next := "/"
	if f.Next != "" {
		next = f.Next + "&to=" + itoa(conn.ID)
	} else {
		h.useConnection(c, conn.ID)
	}
	h.flash(c, "success", "Created connection "+conn.Name+" (schema "+conn.Schema+"). Next: authorize pgforce with Salesforce.")
	return seeOther(c, next)
}

// safeNextOrEmpty is safeNext without its default.
func safeNextOrEmpty(next string) string {
	if next == "" {
		return ""
	}
	return safeNext(next)
}
