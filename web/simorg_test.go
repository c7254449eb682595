package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
	"pgforce/sync/salesforce/sforg"
	"pgforce/views"
)

// The built-in simulated org has a panel for admins (issue 20, item 1): where it is and how to sign
// in, generating records, injecting and clearing a fault, expiring tokens — through the org's Go API.
// Viewers do not see it, nor does a pgforce without the built-in org.
func TestSimulatedOrgPanelDrivesTheBuiltInOrg(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	if b.open("/"); b.count(`[data-testid="nav-simorg"]`) != 0 {
		t.Fatal("the Simulated org entry is shown though this pgforce runs no built-in org")
	}
	org := sforg.New(sforg.Options{BasePath: "/sim", Seed: 1})
	a.h.SimOrg = org

	b.open("/")
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="nav-simorg"]`)))
	b.waitFor(`document.querySelector('[data-testid="simorg"]') !== null`)
	if u := b.attr(`[data-testid="simorg-url"]`, "href"); u != a.srv.URL+"/sim/lightning" {
		t.Errorf("the org's URL is %q", u)
	}
	if b.text(`[data-testid="simorg-username"]`) != sforg.DemoUsername || b.text(`[data-testid="simorg-password"]`) != sforg.DemoPassword {
		t.Error("the panel does not show the org's login")
	}

	before := org.Count("Lead")
	b.run(
		chromedp.SetValue(chromedp.CSS(`[data-testid="simorg-gen-count"]`), "250"),
		chromedp.SetValue(chromedp.CSS(`[data-testid="simorg-gen-object"]`), "Lead"),
		chromedp.Click(chromedp.CSS(`[data-testid="simorg-gen-submit"]`)),
	)
	b.flash("Generated 250 Lead records")
	if got := org.Count("Lead"); got != before+250 {
		t.Errorf("Lead records: %d, want %d", got, before+250)
	}
	if got := b.text(`[data-testid="simorg-object"][data-object="Lead"] [data-testid="simorg-count"]`); got != views.Count(int64(before+250)) {
		t.Errorf("the panel counts %s Leads", got)
	}

	b.run(
		chromedp.SetValue(chromedp.CSS(`[data-testid="simorg-fault"]`), "unavailable"),
		chromedp.Click(chromedp.CSS(`[data-testid="simorg-inject"]`)),
	)
	b.flash("Injected the fault")
	if fs := org.Faults(); len(fs) != 1 || fs[0].Code != "SERVER_UNAVAILABLE" {
		t.Fatalf("faults in the org: %+v", fs)
	}
	if !strings.Contains(b.text(`[data-testid="simorg-fault-list"]`), "503 SERVER_UNAVAILABLE") {
		t.Error("the panel does not list the injected fault")
	}
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="simorg-clear"]`)))
	b.flash("Cleared every injected fault")
	if fs := org.Faults(); len(fs) != 0 {
		t.Errorf("faults left: %+v", fs)
	}
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="simorg-expire"]`)))
	b.flash("Expired every access token")

	v := a.chrome(t, "viewer@example.com", account.Viewer)
	if v.count(`[data-testid="nav-simorg"]`) != 0 {
		t.Error("a viewer sees the Simulated org entry")
	}
}
