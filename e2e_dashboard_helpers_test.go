package main

// Browser steps for the dashboard's end-to-end tests, one per seed procedure. Each drives the real
// pages the way an admin does (clicks, typing, htmx swaps) and waits on what the page shows, never
// on time. They need the engine wired into `pgforce serve` (and the simulated org under /sim).

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// css is a CSS selector.
func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// tick toggles a checkbox from the keyboard: objects have dozens of fields, so a row can sit under
// the form's sticky Save bar, where a mouse click would hit Save; focus scrolls it into view.
func tick(sel string) []chromedp.Action[chromedp.Void] {
	return []chromedp.Action[chromedp.Void]{chromedp.Focus(css(sel)), chromedp.KeyEvent(" ")}
}

// poll waits for a JavaScript predicate, surviving the page navigating meanwhile (a clicked submit
// button loads the next page while the predicate is first evaluated).
func poll(ctx context.Context, predicate string, opts ...chromedp.PollOption) error {
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[bool](predicate, opts...))
		if err == nil || ctx.Err() != nil || !strings.Contains(err.Error(), "navigated or closed") && !strings.Contains(err.Error(), "context") {
			return err
		}
	}
}

// flashContains waits until a flash message contains want.
func flashContains(ctx context.Context, want string) error {
	err := poll(ctx, fmt.Sprintf(`[...document.querySelectorAll('[data-testid="flash"]')].some(e => e.textContent.includes(%q))`, want))
	if err != nil {
		got, _ := text(ctx, `#flashes`)
		return fmt.Errorf("waiting for a flash with %q (flashes: %q): %w", want, got, err)
	}
	return nil
}

// setUpConnection fills Setup Connection (orgType: production, sandbox, custom, simulated) and
// creates the connection; the overview then asks to authorize it.
func setUpConnection(ctx context.Context, baseURL, name, schema, orgType string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/connections/new"),
		chromedp.WaitVisible(css(`[data-testid="connection-form"]`)),
		chromedp.SendKeys(css(`#conn-name`), name),
		chromedp.SetValue(css(`#conn-schema`), schema),
		chromedp.Click(css(`[data-testid="org-type-`+orgType+`"]`)),
		chromedp.Click(css(`[data-testid="connection-create"]`)),
		chromedp.WaitVisible(css(`[data-testid="banner"]`)),
	)
}

// authorizeWithSimulatedOrg clicks the banner's Authorize, signs in on the simulated org's login page
// (Salesforce's ids: #username, #password, #Login), allows access, and waits until the dashboard says
// it is connected.
func authorizeWithSimulatedOrg(ctx context.Context, user, password string) error {
	if err := chromedp.Do(ctx,
		chromedp.Click(css(`[data-testid="banner"] button`)),
		chromedp.WaitVisible(css(`#username, #oaapprove`)),
	); err != nil {
		return fmt.Errorf("open the simulated org's login: %w", err)
	}
	// Signed in to the org already (a second connection): the approval page comes at once.
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#username').length`)); n > 0 {
		if err := chromedp.Do(ctx,
			chromedp.SetValue(css(`#username`), user),
			chromedp.SendKeys(css(`#password`), password),
			chromedp.Click(css(`#Login`)),
			chromedp.WaitVisible(css(`#oaapprove`)),
		); err != nil {
			return fmt.Errorf("sign in on the simulated org: %w", err)
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`#oaapprove`))); err != nil {
		return fmt.Errorf("sign in on the simulated org: %w", err)
	}
	return flashContains(ctx, "Syncing starts now")
}

// createMapping runs Create Mapping: search the object (htmx swaps the list as you type), open it,
// check the extra fields (and Indexed for indexed ones), choose read-write if asked, save.
func createMapping(ctx context.Context, baseURL, object string, readWrite bool, fields, indexed []string) error {
	return createMappingMode(ctx, baseURL, object, readWrite, false, fields, indexed)
}

// createMappingMode is createMapping with the accelerated (streaming) mode chosen or not.
func createMappingMode(ctx context.Context, baseURL, object string, readWrite, accelerated bool, fields, indexed []string) error {
	steps := []chromedp.Action[chromedp.Void]{
		chromedp.Navigate(baseURL + "/mappings"),
		chromedp.Click(css(`[data-testid="create-mapping"]`)),
		chromedp.WaitVisible(css(`[data-testid="object-search"]`)),
		chromedp.SendKeys(css(`[data-testid="object-search"]`), object),
		chromedp.WaitVisible(css(`[data-testid="object-link"][href="/mappings/new/` + object + `"]`)),
		chromedp.Click(css(`[data-testid="object-link"][href="/mappings/new/` + object + `"]`)),
		chromedp.WaitVisible(css(`[data-testid="mapping-form"]`)),
	}
	if readWrite {
		steps = append(steps, chromedp.Click(css(`[data-testid="access-read-write"]`)))
	}
	if accelerated {
		steps = append(steps, chromedp.Click(css(`[data-testid="mode-accelerated"]`)))
	}
	for _, f := range fields {
		steps = append(steps, tick(`[data-field="`+f+`"] [data-testid="field-check"]:not(:checked)`)...)
	}
	for _, f := range indexed {
		steps = append(steps, tick(`[data-field="`+f+`"] [data-testid="index-check"]:not(:checked)`)...)
	}
	steps = append(steps,
		chromedp.Click(css(`[data-testid="mapping-save"]`)),
		chromedp.WaitVisible(css(`[data-testid="mapping-live"]`)),
	)
	if err := chromedp.Do(ctx, steps...); err != nil {
		return fmt.Errorf("create mapping %s: %w", object, err)
	}
	return flashContains(ctx, "Created the "+object+" mapping")
}

// waitMappingState opens the Mappings page once and waits for the object's state to become state
// through the page's own live updates (no reload), up to timeout.
func waitMappingState(ctx context.Context, baseURL, object, state string, timeout time.Duration) error {
	if err := chromedp.Do(ctx, chromedp.Navigate(baseURL+"/mappings"), chromedp.WaitVisible(css(`#mappings-live`))); err != nil {
		return err
	}
	err := poll(ctx, fmt.Sprintf(
		`document.querySelector('[data-testid="mapping-row"][data-object=%q] [data-testid="state"]')?.textContent.trim() === %q`, object, state),
		chromedp.WithPollingTimeout(timeout))
	if err != nil {
		got, _ := text(ctx, fmt.Sprintf(`[data-testid="mapping-row"][data-object=%q] [data-testid="state"]`, object))
		return fmt.Errorf("%s did not reach %s within %v (it is %q): %w", object, state, timeout, got, err)
	}
	return nil
}

// mappingCell reads a cell of the Mappings table (sf-rows, pg-rows, pending, errors).
func mappingCell(ctx context.Context, object, cell string) (string, error) {
	s, err := text(ctx, fmt.Sprintf(`[data-testid="mapping-row"][data-object=%q] [data-testid=%q]`, object, cell))
	return strings.TrimSpace(s), err
}

// openMapping opens a mapping's page from the Mappings table.
func openMapping(ctx context.Context, baseURL, object string) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/mappings"),
		chromedp.Click(css(fmt.Sprintf(`[data-testid="mapping-row"][data-object=%q] [data-testid="mapping-link"]`, object))),
		chromedp.WaitVisible(css(`[data-testid="mapping-live"]`)),
	)
}

// mappingAction opens the mapping's action menu and picks an entry (edit, reload, abort, delete).
func mappingAction(ctx context.Context, baseURL, object, entry string) error {
	if err := openMapping(ctx, baseURL, object); err != nil {
		return err
	}
	return chromedp.Do(ctx,
		chromedp.Click(css(`[data-testid="mapping-menu"] summary`)),
		chromedp.Click(css(`[data-testid="menu-`+entry+`"]`)),
	)
}

// reloadMapping reloads through the confirmation, returning what the confirmation said would be lost.
func reloadMapping(ctx context.Context, baseURL, object string) (lost string, err error) {
	if err := mappingAction(ctx, baseURL, object, "reload"); err != nil {
		return "", err
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(css(`[data-testid="confirm-reload"]`))); err != nil {
		return "", err
	}
	lost, _ = text(ctx, `[data-testid="confirm-reload"] ul`)
	if err := chromedp.Do(ctx, chromedp.Click(css(`[data-testid="confirm"]`))); err != nil {
		return lost, err
	}
	return lost, flashContains(ctx, "Reloading "+object)
}

// deleteMapping deletes through the confirmation (aborting a load first when the page offers it).
func deleteMapping(ctx context.Context, baseURL, object string) error {
	if err := openMapping(ctx, baseURL, object); err != nil {
		return err
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return err
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(loc+"/delete"), chromedp.WaitVisible(css(`[data-testid="confirm-delete"]`))); err != nil {
		return err
	}
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="abort"]').length`)); n > 0 {
		if err := chromedp.Do(ctx, chromedp.Click(css(`[data-testid="abort"]`))); err != nil {
			return err
		}
		if err := flashContains(ctx, "Aborted"); err != nil {
			return err
		}
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`[data-testid="confirm"]`))); err != nil {
		return err
	}
	return flashContains(ctx, "Deleted the "+object+" mapping")
}

// settingsAction clicks a Manage Connection button (pause, resume, recover) and waits for the panel,
// redrawn by htmx in place, to show the expected state.
func settingsAction(ctx context.Context, baseURL, button, wantState string) error {
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/settings"),
		chromedp.Click(css(`[data-testid="`+button+`"]`)),
	); err != nil {
		return err
	}
	err := poll(ctx, fmt.Sprintf(`document.querySelector('#manage-connection [data-testid="state"]')?.textContent.trim() === %q`, wantState))
	if err != nil {
		return fmt.Errorf("%s: connection not %s: %w", button, wantState, err)
	}
	return nil
}

// setWriteAlgorithm picks ordered or merged writes (the connection must be paused).
func setWriteAlgorithm(ctx context.Context, baseURL, algo string) error {
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/settings"),
		chromedp.Click(css(`input[name="write_algorithm"][value="`+algo+`"]`)),
		chromedp.Click(css(`[data-testid="save-write-algorithm"]`)),
	); err != nil {
		return err
	}
	return flashContains(ctx, "Write algorithm set to "+algo)
}

// importConfig uploads a configuration file, checks the preview mentions every wanted object, and
// applies it.
func importConfig(ctx context.Context, baseURL, file string, wantObjects ...string) error {
	if err := chromedp.Do(ctx,
		chromedp.Navigate(baseURL+"/settings/import"),
		chromedp.SetUploadFiles(css(`#import-file`), []string{file}),
		chromedp.Click(css(`[data-testid="upload"]`)),
		chromedp.WaitVisible(css(`[data-testid="import-preview"]`)),
	); err != nil {
		return err
	}
	preview, _ := text(ctx, `[data-testid="import-preview"]`)
	for _, o := range wantObjects {
		if !strings.Contains(preview, o) {
			return fmt.Errorf("import preview does not mention %s: %q", o, preview)
		}
	}
	if blocked, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="import-blocked"], [data-testid="import-problems"]')?.textContent ?? ""`)); blocked != "" {
		return fmt.Errorf("import cannot be applied: %s", strings.Join(strings.Fields(blocked), " "))
	}
	if err := chromedp.Do(ctx, chromedp.Click(css(`[data-testid="apply"]`))); err != nil {
		return err
	}
	return flashContains(ctx, "Imported the configuration")
}
