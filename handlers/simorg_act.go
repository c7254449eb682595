package handlers

import (
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"pgforce/sync/failure"
)

const simOrgPage = "/simulated-org"

// simOrg is the built-in org, or a NotFound when this process does not serve one.
func (h *Handlers) simOrg() (SimulatedOrgControl, error) {
	if h.SimOrg == nil {
		return nil, failure.E(failure.NotFound, "This pgforce does not run the built-in simulated org.")
	}
	return h.SimOrg, nil
}

// GenerateSimRecords creates N records of an object in the built-in org, as its users would.
func (h *Handlers) GenerateSimRecords(c echo.Context) error {
	org, err := h.simOrg()
	if err != nil {
		return err
	}
	object := strings.TrimSpace(c.FormValue("object"))
	n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("count")))
	if err != nil || n < 1 || n > 200000 {
		return h.refuse(c, failure.E(failure.Invalid, "Enter how many records to generate, from 1 to 200,000."), simOrgPage)
	}
	if err := org.Generate(object, n, h.now().UnixNano()); err != nil {
		return h.refuse(c, failure.Wrap(err, failure.Invalid, "Could not generate %s records: %v", object, err), simOrgPage)
	}
	return h.finish(c, "Generated "+itoa(int64(n))+" "+object+" records in the simulated org.", simOrgPage, nil)
}

// InjectSimFault makes the built-in org fail pgforce's calls the chosen way until cleared.
func (h *Handlers) InjectSimFault(c echo.Context) error {
	org, err := h.simOrg()
	if err != nil {
		return err
	}
	f, ok := simFault(c.FormValue("fault"))
	if !ok {
		return h.refuse(c, failure.E(failure.Invalid, "Choose one of the faults offered."), simOrgPage)
	}
	if err := org.InjectFault(f); err != nil {
		return err
	}
	return h.finish(c, "Injected the fault: "+faultText(f)+".", simOrgPage, nil)
}

// ClearSimFaults removes every injected fault.
func (h *Handlers) ClearSimFaults(c echo.Context) error {
	org, err := h.simOrg()
	if err != nil {
		return err
	}
	org.ClearFaults()
	return h.finish(c, "Cleared every injected fault.", simOrgPage, nil)
}

// ExpireSimTokens expires the org's access tokens (pgforce refreshes them), or with revoke=1 revokes
// every authorization (the connection then needs re-authorizing).
func (h *Handlers) ExpireSimTokens(c echo.Context) error {
	org, err := h.simOrg()
	if err != nil {
		return err
	}
	if c.FormValue("revoke") == "1" {
		org.RevokeRefreshTokens()
		return h.finish(c, "Revoked every authorization of the simulated org: connections to it need re-authorizing.", simOrgPage, nil)
	}
	org.ExpireTokens()
	return h.finish(c, "Expired every access token of the simulated org: pgforce gets new ones with its refresh token.", simOrgPage, nil)
}
