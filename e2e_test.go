package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestFirstRunSetupSignInAndOutInTheBrowser is the newcomer's first minutes: start pgforce, open the
// one-time setup link it prints, create the admin, see the dashboard, sign out, sign back in.
func TestFirstRunSetupSignInAndOutInTheBrowser(t *testing.T) {
	t.Parallel()
	ctx := newBrowser(t)
	p := startProduct(t, nil)

	const email, password = "admin@example.com", "a long admin password"
	if err := setupAdmin(ctx, p.SetupURL, email, password); err != nil {
		t.Fatalf("first-admin setup: %v", err)
	}
	nav, err := text(ctx, `[data-testid="nav"]`)
	if err != nil {
		t.Fatal(err)
	}
	flash, err := text(ctx, `[data-testid="flash"]`)
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range []string{"Overview", "Mappings", "Explorer", "Activity", "Settings"} {
		if !strings.Contains(nav, item) {
			t.Errorf("navigation %q lacks %s", nav, item)
		}
	}
	if !strings.Contains(flash, "first admin") {
		t.Errorf("welcome flash = %q", flash)
	}
	screenshot(t, ctx, "overview")

	// The setup link is spent.
	res, err := http.Get(p.SetupURL)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("reused setup link: %d, want 403", res.StatusCode)
	}

	for _, page := range []string{"mappings", "explorer", "activity", "settings"} {
		if err := chromedp.Do(ctx,
			chromedp.Click(chromedp.CSS(`nav a[href="/`+page+`"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-state"]`)),
		); err != nil {
			t.Fatalf("%s page: %v", page, err)
		}
		if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/"+page) {
			t.Fatalf("clicked %s, landed on %s", page, loc)
		}
		screenshot(t, ctx, page)
	}

	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`[data-testid="logout"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
	); err != nil {
		t.Fatalf("sign out: %v", err)
	}
	loginForm, _ := text(ctx, `#flashes`)
	if !strings.Contains(loginForm, "You have signed out.") {
		t.Errorf("after sign-out: %q", loginForm)
	}
	if err := signIn(ctx, p.BaseURL, email, password); err != nil {
		t.Fatalf("sign in again: %v", err)
	}
	if who, err := text(ctx, `[data-testid="whoami"]`); err != nil || !strings.Contains(who, email) {
		t.Fatalf("signed in as %q (%v)", who, err)
	}
	if err := p.Stop(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
}
