package handlers

import (
	"net/http"
	"strconv"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"pgforce/sync/diagnose"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/views"
)

// sessionConnID keeps the admin's current connection.
const sessionConnID = "conn_id"

// current returns every connection and the current one (nil when there is none). A "conn" query
// parameter (the header's switcher) changes the current connection for the session.
func (h *Handlers) current(c echo.Context) ([]connection.Connection, *connection.Connection, error) {
	ctx := c.Request().Context()
	conns, err := h.Connections.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	stored := h.Sessions.GetInt64(ctx, sessionConnID)
	want := stored
	if id, err := strconv.ParseInt(c.QueryParam("conn"), 10, 64); err == nil {
		want = id
	}
	var cur *connection.Connection
	for i := range conns {
		if conns[i].ID == want {
			cur = &conns[i]
		}
	}
	if cur == nil && len(conns) > 0 {
		cur = &conns[0]
	}
	if cur != nil && cur.ID != stored {
		h.Sessions.Put(ctx, sessionConnID, cur.ID)
	}
	return conns, cur, nil
}

// useConnection makes a connection current (after creating it, or when a page is about it).
func (h *Handlers) useConnection(c echo.Context, id int64) {
	h.Sessions.Put(c.Request().Context(), sessionConnID, id)
}

// dashPage builds the layout for a dashboard page: flashes, the connection switcher, the banner of a
// connection that needs authorizing, and the count of problems needing attention in the title.
func (h *Handlers) dashPage(c echo.Context, title, nav string, conns []connection.Connection, cur *connection.Connection) views.Page {
	p := h.page(c, title, nav)
	for _, item := range views.Nav {
		if item.Key == nav {
			p.Path = item.URL
		}
	}
	if cur == nil {
		return p
	}
	p.ConnName = cur.Name
	if len(conns) > 1 {
		for _, cc := range conns {
			p.Connections = append(p.Connections, views.ConnChoice{ID: cc.ID, Name: cc.Name, Current: cc.ID == cur.ID})
		}
	}
	p.Banner = banner(*cur, p.CanAct)
	p.Attention = h.attention(c, cur.ID)
	return p
}

// diagnoseKey keeps a request's health report, so a page that shows the report and its layout's
// title run the checks once.
const diagnoseKey = "pgforce.diagnose"

// diagnose runs a connection's health checks, once per request.
func (h *Handlers) diagnose(c echo.Context, connID int64) (diagnose.Report, error) {
	if r, ok := c.Get(diagnoseKey).(diagnose.Report); ok && r.ConnectionID == connID {
		return r, nil
	}
	r, err := h.Diagnose.Run(c.Request().Context(), connID)
	if err != nil {
		return r, err
	}
	c.Set(diagnoseKey, r)
	return r, nil
}

// attention is how many problems of a connection need attention: the count every dashboard page's
// title carries ("(2) Activity · pgforce"), the Overview's and the Mappings page's problem list. The
// title is no reason to fail a page: a failed check leaves the count out (and is logged).
func (h *Handlers) attention(c echo.Context, connID int64) int {
	if h.Diagnose == nil {
		return 0
	}
	r, err := h.diagnose(c, connID)
	if err != nil {
		if c.Request().Context().Err() == nil {
			h.Log.Warn("health checks for the page title failed", "connection", connID, "err", err)
		}
		return 0
	}
	return len(r.Problems)
}

// banner warns on every page while a connection cannot sync for lack of authorization.
func banner(c connection.Connection, canAct bool) *views.Banner {
	ask := ""
	if !canAct {
		ask = " Ask an admin to do it."
	}
	url := "/connections/" + strconv.FormatInt(c.ID, 10) + "/authorize"
	switch c.State {
	case connection.NeedAuthentication:
		return &views.Banner{Kind: "error", Message: "Salesforce no longer accepts pgforce's authorization for " + c.Name +
			": nothing syncs until the connection is re-authorized." + ask, ActionURL: url, ActionLabel: "Re-authorize"}
	case connection.New:
		return &views.Banner{Kind: "warning", Message: c.Name + " is not authorized yet: sign in to Salesforce to start syncing." + ask,
			ActionURL: url, ActionLabel: "Authorize"}
	}
	return nil
}

// dashboard is current + dashPage, for pages.
func (h *Handlers) dashboard(c echo.Context, title, nav string) (views.Page, *connection.Connection, []connection.Connection, error) {
	conns, cur, err := h.current(c)
	if err != nil {
		return h.page(c, title, nav), nil, nil, err
	}
	return h.dashPage(c, title, nav, conns, cur), cur, conns, nil
}

// finish ends a successful action. A plain form post gets the message as a flash and a 303 to next;
// an htmx request gets the fragment with the message swapped into the flash area out of band (or,
// without a fragment, the redirect).
func (h *Handlers) finish(c echo.Context, msg, next string, fragment func() (templ.Component, error)) error {
	if isHTMX(c) && fragment != nil {
		comp, err := fragment()
		if err != nil {
			return err
		}
		return render(c, http.StatusOK, templ.Join(comp, views.FlashesOOB([]views.Flash{{Kind: "success", Message: msg}})))
	}
	h.flash(c, "success", msg)
	return seeOther(c, next)
}

// refuse reports an action the engine refused, where the admin acted: a plain post goes back to the
// page it came from with the reason as a flash; htmx shows it in the flash area (the error handler
// does that). Internal errors go to the error handler, which logs them.
func (h *Handlers) refuse(c echo.Context, err error, next string) error {
	if isHTMX(c) || failure.KindOf(err) == failure.Internal {
		return err
	}
	h.flash(c, "error", failure.Message(err))
	return seeOther(c, next)
}

// nextOr is the form's "next" (a local path), or def.
func nextOr(c echo.Context, def string) string {
	if n := c.FormValue("next"); n != "" {
		return safeNext(n)
	}
	return def
}

// idParam parses a numeric path parameter.
func idParam(c echo.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, failure.E(failure.NotFound, "There is no such %s.", name)
	}
	return id, nil
}

// connBadge and mappingBadge show a state with its explanation (true of this connection or mapping
// now: how a synced mapping hears of changes, why a connection is in RECOVERY).
func connBadge(c connection.Connection) views.Badge {
	return views.Badge{Label: string(c.State), Severity: c.State.Severity(), Title: c.DescribeNow()}
}

func syncedBadge(s mapping.State, pollingSeconds int, accelerated bool) views.Badge {
	return views.Badge{Label: string(s), Severity: s.Severity(), Title: s.DescribeSync(pollingSeconds, accelerated)}
}

func mappingBadge(s mapping.State) views.Badge {
	return views.Badge{Label: string(s), Severity: s.Severity(), Title: s.Describe()}
}

// connectionView is a connection as pages show it, with what can be done in its state and why not.
func connectionView(c connection.Connection) views.ConnectionView {
	v := views.ConnectionView{
		ID: c.ID, Name: c.Name, Schema: c.Schema, State: connBadge(c), StateReason: c.StateReason, StateSince: c.StateChangedAt,
		OrgType: string(c.OrgType), LoginURL: c.LoginURL, APIVersion: c.APIVersion, WriteAlgorithm: string(c.WriteAlgorithm),
		OrgName: c.OrgName, OrgID: c.OrgID, Username: c.Username, InstanceURL: c.InstanceURL, AuthorizedAt: c.AuthorizedAt,
		PollingSeconds: c.PollingSeconds, VerifyEvery: c.VerifyEveryHours, StreamTransport: string(c.StreamTransport), Paused: c.State == connection.Paused, Authorized: c.AuthorizedAt != nil,
		CanPause: connection.Pause.Allowed(c.State) || connection.PauseWhenDone.Allowed(c.State), CanResume: connection.Resume.Allowed(c.State), CanRecover: connection.Recover.Allowed(c.State),
		CanImport: connection.StartImport.Allowed(c.State), CanChangeAPIVersion: c.State.APIVersionChangeable(),
	}
	if !v.CanImport {
		v.ImportWhy = "Configurations are imported while the connection is IDLE or PAUSED; this one is " + string(c.State) + ". Try again in a moment."
	}
	if !v.CanPause {
		switch c.State {
		case connection.Paused:
			v.PauseWhy = "The connection is already paused."
		case connection.Busy:
			v.PauseWhy = "The connection is already pausing: it is PAUSED as soon as the work in flight is done."
		default:
			v.PauseWhy = "Connections can only be paused while syncing (IDLE, POLLING_DB_CHANGES or RECOVERY); this one is " + string(c.State) + "."
		}
	}
	if !v.CanResume {
		v.ResumeWhy = "Only a paused (or pausing) connection can be resumed; this one is " + string(c.State) + "."
	}
	if !v.CanRecover {
		v.RecoverWhy = "There is no error to recover from: the connection is " + string(c.State) + "."
	}
	return v
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
