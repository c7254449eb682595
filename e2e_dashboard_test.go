package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pgforce/sync/salesforce/sforg"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "a long admin password"
)

// connectedProduct starts pgforce, creates the first admin and a connection to the built-in
// simulated org through its real OAuth pages.
func connectedProduct(t *testing.T) (*product, context.Context) {
	t.Helper()
	ctx := newBrowser(t)
	p := startProduct(t, nil)
	if err := setupAdmin(ctx, p.SetupURL, adminEmail, adminPassword); err != nil {
		t.Fatalf("setup: %v", err)
	}
	if err := setUpConnection(ctx, p.BaseURL, "demo", "salesforce_"+strings.ToLower(p.Env["PGFORCE_DB_SCHEMA"][len(p.Env["PGFORCE_DB_SCHEMA"])-6:]), "simulated"); err != nil {
		screenshot(t, ctx, "failed-setup-connection")
		t.Fatalf("set up connection: %v", err)
	}
	if err := authorizeWithSimulatedOrg(ctx, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		screenshot(t, ctx, "failed-authorize")
		t.Fatalf("authorize: %v", err)
	}
	return p, ctx
}

func TestSetupConnectionCreateMappingAndWatchDataFlow(t *testing.T) {
	t.Parallel()
	p, ctx := connectedProduct(t)
	screenshot(t, ctx, "overview-connected")
	// Before the first mapping the Mappings page checks the org's setup (pgforce doctor): the embedded
	// org is set up as the README says.
	if _, err := chromedp.Run(ctx, chromedp.Navigate(p.BaseURL+"/mappings")); err != nil {
		t.Fatal(err)
	}
	if err := poll(ctx, `document.querySelector('[data-testid="setup-check-overall"]')?.textContent === "GREEN"`); err != nil {
		got, _ := text(ctx, `[data-testid="setup-check"]`)
		screenshot(t, ctx, "failed-setup-check")
		t.Fatalf("the Setup check: %q: %v", got, err)
	}
	screenshot(t, ctx, "setup-check")
	if err := createMapping(ctx, p.BaseURL, "Account", true, []string{"Industry", "Phone"}, []string{"Industry"}); err != nil {
		screenshot(t, ctx, "failed-create-mapping")
		t.Fatal(err)
	}
	if err := waitMappingState(ctx, p.BaseURL, "Account", "DATA_SYNCED", 30*time.Second); err != nil {
		screenshot(t, ctx, "failed-load")
		t.Fatal(err)
	}
	screenshot(t, ctx, "mappings")
	sf, _ := mappingCell(ctx, "Account", "sf-rows")
	pg, _ := mappingCell(ctx, "Account", "pg-rows")
	if sf == "" || sf != pg || sf == "0" {
		t.Fatalf("after the load Salesforce rows %q, Postgres rows %q", sf, pg)
	}
	if err := openMapping(ctx, p.BaseURL, "Account"); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "mapping-detail")
	if _, err := chromedp.Run(ctx, chromedp.Navigate(p.BaseURL+"/settings")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "settings")
	if _, err := chromedp.Run(ctx, chromedp.Navigate(p.BaseURL+"/activity")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "activity")
	if _, err := chromedp.Run(ctx, chromedp.Navigate(p.BaseURL+"/")); err != nil {
		t.Fatal(err)
	}
	screenshot(t, ctx, "overview")
}
