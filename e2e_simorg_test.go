package main

import (
	"net/url"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"pgforce/sync/salesforce/sforg"
)

var simLine = regexp.MustCompile(`simulated Salesforce org at (\S+)`)

// The simulated org's printed link opens the org (not pgforce's Overview), and its login returns to
// the page you came from (issue 20, item 1).
func TestThePrintedSimulatedOrgLinkOpensTheOrgAndItsLoginKeepsThePage(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	p := startProduct(t, nil)
	link := p.out.wait(t, simLine, time.Second)
	if err := chromedp.Do(ctx, chromedp.Navigate(link), chromedp.WaitVisible(css(`#username`))); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		t.Fatalf("the printed link %s leads to %s, not the org's login: %v", link, loc, err)
	}
	// /sim alone (the instance URL) leads to the org too.
	if err := chromedp.Do(ctx, chromedp.Navigate(p.BaseURL+"/sim"), chromedp.WaitVisible(css(`#username`))); err != nil {
		t.Fatalf("/sim: %v", err)
	}
	record := p.BaseURL + "/sim/lightning/o/Account"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(record),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SetValue(css(`#username`), sforg.DemoUsername),
		chromedp.SendKeys(css(`#password`), sforg.DemoPassword),
		chromedp.Click(css(`#Login`)),
		// The list's own link: the login page has a main h1 too, and would pass before it navigates.
		chromedp.WaitVisible(css(`a[href$="/lightning/o/Account/new"]`)),
	); err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if u, _ := url.Parse(loc); u == nil || u.Path != "/sim/lightning/o/Account" {
		t.Errorf("after signing in the org shows %s, not the page asked for (%s)", loc, record)
	}
}
