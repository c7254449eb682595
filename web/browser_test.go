package web_test

// Browser steps for tests that drive the dashboard in headless Chromium against the test app (no
// engine runs: tests put connections and mappings in the states they need).

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
	"pgforce/internal/browsertest"
)

// chrome is a browser tab signed in to the app as a new user with role.
type chrome struct {
	t   *testing.T
	ctx context.Context
	app *app
}

func (a *app) chrome(t *testing.T, email string, role account.Role) *chrome {
	t.Helper()
	ctx := browsertest.New(t)
	a.user(email, role)
	c := &chrome{t: t, ctx: ctx, app: a}
	c.run(
		chromedp.Navigate(a.srv.URL+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="login-form"]`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), "long enough password"),
		chromedp.Click(chromedp.CSS(`[data-testid="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav"]`)),
	)
	return c
}

// run runs browser actions, failing the test with the page's text when one fails.
func (c *chrome) run(actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, actions...); err != nil {
		page, _ := chromedp.Run(c.ctx, chromedp.Evaluate[string](`document.querySelector('main')?.innerText ?? document.body?.innerText ?? ''`))
		c.t.Fatalf("%v\npage: %.2000s", err, page)
	}
}

// open navigates to a path and waits for the page's navigation bar.
func (c *chrome) open(path string) {
	c.t.Helper()
	c.run(chromedp.Navigate(c.app.srv.URL+path), chromedp.WaitVisible(chromedp.CSS(`[data-testid="nav"]`)))
}

// eval evaluates a JavaScript expression.
func eval[T any](c *chrome, js string) T {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		c.t.Fatalf("%s: %v", js, err)
	}
	return v
}

// text is the whitespace-normalised visible text of the first element matching sel ("" if none).
func (c *chrome) text(sel string) string {
	c.t.Helper()
	s := eval[string](c, fmt.Sprintf(`document.querySelector(%q)?.innerText ?? ''`, sel))
	return strings.Join(strings.Fields(s), " ")
}

// attr is an attribute of the first element matching sel ("" if none).
func (c *chrome) attr(sel, name string) string {
	c.t.Helper()
	return eval[string](c, fmt.Sprintf(`document.querySelector(%q)?.getAttribute(%q) ?? ''`, sel, name))
}

// count is how many elements match sel.
func (c *chrome) count(sel string) int {
	c.t.Helper()
	return eval[int](c, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// waitFor waits until a JavaScript predicate holds (the page may navigate meanwhile).
func (c *chrome) waitFor(predicate string) {
	c.t.Helper()
	for {
		_, err := chromedp.Run(c.ctx, chromedp.Poll[bool](predicate))
		if err == nil {
			return
		}
		if c.ctx.Err() != nil || !strings.Contains(err.Error(), "navigated or closed") && !strings.Contains(err.Error(), "context") {
			page, _ := chromedp.Run(c.ctx, chromedp.Evaluate[string](`document.body?.innerText ?? ''`))
			c.t.Fatalf("waiting for %s: %v\npage: %.2000s", predicate, err, page)
		}
	}
}

// flash waits for a flash message containing want.
func (c *chrome) flash(want string) {
	c.t.Helper()
	c.waitFor(fmt.Sprintf(`[...document.querySelectorAll('[data-testid="flash"], [data-testid="banner"], .error')].some(e => e.textContent.includes(%q))`, want))
}
