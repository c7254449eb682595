package handlers

import (
	"cmp"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/salesforce/sforg"
	"pgforce/views"
)

// SimulatedOrgControl is what the Simulated org page asks of the built-in org (*sforg.Org).
type SimulatedOrgControl interface {
	ObjectCounts() []sforg.ObjectCount
	Generate(object string, n int, seed int64) error
	InjectFault(f sforg.Fault) error
	Faults() []sforg.Fault
	ClearFaults()
	ExpireTokens()
	RevokeRefreshTokens()
}

// simFaults are the faults the page offers: what Salesforce or the network does to pgforce's calls.
var simFaults = []views.SimFault{
	{Key: "unavailable", Label: "Salesforce unavailable (503 SERVER_UNAVAILABLE on every call)"},
	{Key: "limit", Label: "API limit reached (403 REQUEST_LIMIT_EXCEEDED on every call)"},
	{Key: "session", Label: "Session expired once (401 INVALID_SESSION_ID on the next call)"},
	{Key: "slow", Label: "Slow queries (5 s more per query)"},
}

func simFault(key string) (sforg.Fault, bool) {
	switch key {
	case "unavailable":
		return sforg.Fault{Status: http.StatusServiceUnavailable, Code: "SERVER_UNAVAILABLE", Message: "Server unavailable (injected)", Count: -1}, true
	case "limit":
		return sforg.Fault{Status: http.StatusForbidden, Code: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded. (injected)", Count: -1}, true
	case "session":
		return sforg.Fault{Path: "/services/data/", Status: http.StatusUnauthorized, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid (injected)", Count: 1}, true
	case "slow":
		return sforg.Fault{Path: "/query", Latency: 5 * time.Second, Count: -1}, true
	}
	return sforg.Fault{}, false
}

// ShowSimulatedOrg is the built-in org's control panel for admins: where it is, how to sign in, and
// the buttons that make things happen in it.
func (h *Handlers) ShowSimulatedOrg(c echo.Context) error {
	org, err := h.simOrg()
	if err != nil {
		return err
	}
	p, _, _, err := h.dashboard(c, "Simulated org", "simorg")
	if err != nil {
		return err
	}
	m := views.SimOrgPage{URL: strings.TrimRight(h.BaseURL, "/") + "/sim/lightning", Username: sforg.DemoUsername, Password: sforg.DemoPassword,
		FaultChoices: simFaults}
	for _, o := range org.ObjectCounts() {
		m.Objects = append(m.Objects, views.SimObject{Name: o.Name, Label: o.Label, Count: o.Count})
	}
	for _, f := range org.Faults() {
		m.Faults = append(m.Faults, faultText(f))
	}
	return render(c, http.StatusOK, views.SimulatedOrgPage(p, m))
}

// faultText describes an injected fault in a line.
func faultText(f sforg.Fault) string {
	s := cmp.Or(f.Method, "any method") + " " + cmp.Or(f.Path, "any path") + ": "
	switch {
	case f.Status != 0:
		s += itoa(int64(f.Status)) + " " + f.Code
	case f.Latency > 0:
		s += f.Latency.String() + " slower"
	default:
		s += "dropped"
	}
	if f.Count > 0 {
		s += " (" + itoa(int64(f.Count)) + " more)"
	}
	return s
}
