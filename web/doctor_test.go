package web_test

import (
	"net/http"
	"strings"
	"testing"

	"pgforce/internal/apitoken"
	"pgforce/sync/doctor"
	"pgforce/sync/salesforce/sforg"
)

// Before the first mapping the Mappings page loads a Setup check of the org (the doctor's RED and
// YELLOW findings with their fixes, or that all is well), linking to every check on /doctor.
func TestMappingsPageChecksTheOrgSetupBeforeTheFirstMapping(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("setup", false)
	b.authorize(c.ID) // in the dashboard, as the README says: the web-server flow gives a refresh token
	d := b.get("/mappings?conn=" + itoa(c.ID)).doc(t)
	if hx := d.Find(`[data-testid="setup-check"]`).AttrOr("hx-get", ""); hx != "/doctor?setup=1" {
		t.Fatalf("the Mappings page loads the Setup check: %q", hx)
	}
	check := b.htmx(http.MethodGet, "/doctor?setup=1", nil).doc(t).Find(`[data-testid="setup-check"]`)
	if st := check.AttrOr("data-status", ""); st != "GREEN" || check.Find(`[data-testid="setup-check-item"]`).Length() != 0 || !strings.Contains(check.Text(), "set up for pgforce") {
		t.Fatalf("a well set up org: %s %q", st, check.Text())
	}
	no := false
	if err := a.orgs.org.Configure(sforg.Settings{ViewAllData: &no}); err != nil {
		t.Fatal(err)
	}
	res := b.htmx(http.MethodGet, "/doctor?setup=1", nil)
	if strings.Contains(res.body, "<html") {
		t.Fatalf("the Setup check is a fragment: %s", res.body)
	}
	check = res.doc(t).Find(`[data-testid="setup-check"]`)
	item := check.Find(`[data-testid="setup-check-item"]`)
	if check.AttrOr("data-status", "") != "YELLOW" || item.Length() != 1 || !strings.Contains(item.Text(), "View All Data") || !strings.Contains(item.Text(), "permission set") {
		t.Fatalf("View All Data revoked: %q", check.Text())
	}
	if href := check.Find(`[data-testid="open-doctor"]`).AttrOr("href", ""); href != "/doctor" {
		t.Fatalf("links to every check: %q", href)
	}
	page := b.get("/doctor").doc(t)
	if page.Find(`[data-testid="doctor-row"]`).Length() < len(doctor.RuleIDs()) || strings.TrimSpace(page.Find(`[data-testid="doctor-overall"]`).Text()) != "YELLOW" {
		t.Fatalf("the Org setup page: %q", page.Find("main").Text())
	}
	// Once a mapping exists the Mappings page shows its table instead.
	a.mapping(c.ID, "Account", "Name")
	if b.get("/mappings").doc(t).Find(`[data-testid="setup-check"]`).Length() != 0 {
		t.Fatal("the Setup check is for before the first mapping")
	}
}

// An unauthorized connection has nothing to check yet: the page says to authorize first.
func TestDoctorPageOfAnUnauthorizedConnectionSaysAuthorizeFirst(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("unauth", false)
	if d := b.get("/doctor?conn=" + itoa(c.ID)).doc(t); !strings.Contains(d.Find(`[data-testid="empty-state"]`).Text(), "Authorize the connection") {
		t.Fatalf("unauthorized: %q", d.Find("main").Text())
	}
	if b.get("/mappings").doc(t).Find(`[data-testid="setup-check"]`).Length() != 0 {
		t.Fatal("no Setup check before the connection is authorized")
	}
	if d := b.get("/diagnose").doc(t); d.Find(`[data-testid="open-doctor"]`).AttrOr("href", "") != "/doctor" {
		t.Fatal("Diagnose links to the org checks")
	}
}

// GET /api/v3/connections/:id/doctor answers the doctor's report for a viewer token, checked
// against the simulated org.
func TestAPIDoctorChecksTheOrg(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t)
	r := decode[doctor.Report](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+itoa(a.b.Conn.ID)+"/doctor", "", http.StatusOK))
	byID := map[string]string{}
	for _, res := range r.Results {
		byID[res.RuleID] = string(res.Status)
	}
	if r.ConnectionID != a.b.Conn.ID || byID["api_version"] != "GREEN" || byID["api_enabled"] != "GREEN" || byID["pkce"] != "GREEN" || byID["object_access"] != "SKIPPED" {
		t.Fatalf("report: %+v", r)
	}
	a.as(apitoken.Viewer, "GET", "/api/v3/connections/999999/doctor", "", http.StatusNotFound)
}
