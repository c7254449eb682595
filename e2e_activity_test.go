package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Activity shows Postgres → Salesforce write batches (how many changes, their outcome, how long the
// batch took) alongside loads and polls, and filters them by mapping and kind (issue 20, item 4).
func TestActivityShowsWriteBatchesFilterableByKind(t *testing.T) {
	t.Parallel()
	s := newSeedProduct(t)
	s.mapping("Account", true, nil, nil)
	s.query(`INSERT INTO $schema.account (name) VALUES ('Written from Postgres 1'), ('Written from Postgres 2')`)
	s.step("write-batch-in-activity", 30*time.Second, func(ctx context.Context) error {
		for {
			if err := chromedp.Do(ctx, chromedp.Navigate(s.BaseURL+"/activity?kind=write"), chromedp.WaitVisible(css(`[data-testid="activity-filter"]`))); err != nil {
				return err
			}
			got, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('[data-testid="event-row"]')].map(r => r.innerText).join('\n')`))
			if strings.Contains(got, "Wrote 2 Account changes to Salesforce in ") && strings.Contains(got, "2 succeeded") {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The page is not live: look again in half a second, until the step's deadline.
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`false`, chromedp.WithPollingTimeout(500*time.Millisecond))); err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
		}
	})
	// The kind filter offers write batches and shows only them.
	other, _ := chromedp.Run(s.ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('[data-testid="event-row"]')].filter(r => !r.innerText.includes('Wrote')).length`))
	if other != 0 {
		t.Errorf("kind=write shows %d events that are not write batches", other)
	}
	if n, _ := chromedp.Run(s.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#f-kind option[value="write"]').length`)); n != 1 {
		t.Error("the kind filter does not offer write batches")
	}
}

// A Contact write Salesforce refuses and a conflict (the same Contact changed on both sides while
// the connection was paused) appear as rows of Activity's one list, each with its mapping, what
// happened in words and a link to the record (and the Conflicts view); the kind filter shows only
// conflicts. While the failed write is unresolved, every dashboard page counts it in its title.
func TestActivityShowsAFailedWriteAndAConflictAndEveryTitleCountsAttention(t *testing.T) {
	t.Parallel()
	s := newSeedProduct(t)
	s.mapping("Contact", true, []string{"FirstName", "Email"}, nil) // read/write locks LastName in (required)
	rows := s.query(`SELECT id::text, sfid FROM $schema.contact WHERE sfid IS NOT NULL ORDER BY id LIMIT 1`)
	if len(rows) != 1 {
		t.Fatal("the demo org's Contacts were not loaded")
	}
	synced, sfid := rows[0][0].(string), rows[0][1].(string)
	mappingID := s.scalar(`SELECT id FROM mappings WHERE object_name = 'Contact'`)

	// Paused, so both sides change within one sync window.
	s.step("pause", 30*time.Second, func(ctx context.Context) error { return settingsAction(ctx, s.BaseURL, "pause", "PAUSED") })
	s.query(`UPDATE $schema.contact SET firstname = 'Changed in Postgres' WHERE id = ` + synced)
	failing := s.scalar(`INSERT INTO $schema.contact (firstname, lastname, email) VALUES ('Nameless', '', 'nameless@example.com') RETURNING id`)
	// Salesforce stamps whole seconds: its change must fall in a later second than the last poll's.
	start := time.Now()
	s.eventually("the next second", 3*time.Second, func() bool { return time.Now().Truncate(time.Second).After(start) })
	s.sim("PATCH", "/records/Contact/"+sfid, map[string]any{"FirstName": "Changed in Salesforce"})
	s.step("resume", 30*time.Second, func(ctx context.Context) error { return settingsAction(ctx, s.BaseURL, "resume", "IDLE") })

	rowsJS := `[...document.querySelectorAll('[data-testid="event-row"]')].map(r => ({
		kind: r.querySelector('[data-testid="event-kind"]').innerText.trim(), text: r.innerText,
		record: r.querySelector('[data-testid="event-record"]')?.getAttribute('href') ?? '',
		conflicts: r.querySelector('[data-testid="event-conflicts"]')?.getAttribute('href') ?? ''}))`
	type row struct{ Kind, Text, Record, Conflicts string }
	var got []row
	s.step("conflict-and-failure-in-activity", 45*time.Second, func(ctx context.Context) error {
		for {
			if err := chromedp.Do(ctx, chromedp.Navigate(s.BaseURL+"/activity"), chromedp.WaitVisible(css(`[data-testid="activity-filter"]`))); err != nil {
				return err
			}
			got, _ = chromedp.Run(ctx, chromedp.Evaluate[[]row](rowsJS))
			var conflict, failure bool
			for _, r := range got {
				conflict = conflict || r.Kind == "conflict"
				failure = failure || r.Kind == "write failure"
			}
			if conflict && failure {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			// The page is not live: look again in half a second, until the step's deadline.
			if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`false`, chromedp.WithPollingTimeout(500*time.Millisecond))); err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
		}
	})
	for _, r := range got {
		switch r.Kind {
		case "conflict":
			if !strings.Contains(r.Text, "Contact") || !strings.Contains(r.Text, "Conflict on Contact "+sfid) || !strings.Contains(r.Text, "Updated on both sides") ||
				!strings.Contains(r.Text, "Postgres wins policy: Postgres change written") {
				t.Errorf("the conflict's row says %q", r.Text)
			}
			if r.Record != "/explorer/"+mappingID+"/"+synced || r.Conflicts != "/conflicts?mapping="+mappingID+"&record="+synced {
				t.Errorf("the conflict's row links to %q and %q", r.Record, r.Conflicts)
			}
		case "write failure":
			if !strings.Contains(r.Text, "Contact") || !strings.Contains(r.Text, "REQUIRED_FIELD_MISSING") || !strings.Contains(r.Text, "row "+failing) {
				t.Errorf("the failed write's row says %q", r.Text)
			}
			if r.Record != "/explorer/"+mappingID+"/"+failing {
				t.Errorf("the failed write's row links to %q", r.Record)
			}
		}
	}
	screenshot(t, s.ctx, "activity-conflict-and-failure")

	// The kind filter offers conflict and write failure; choosing conflict shows only conflicts.
	s.step("filter-conflicts", 20*time.Second, func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.SetValue(css(`#f-kind`), "conflict"), chromedp.Submit(css(`[data-testid="activity-filter"]`))); err != nil {
			return err
		}
		return poll(ctx, `location.search.includes('kind=conflict') && document.querySelectorAll('[data-testid="event-row"]').length > 0`)
	})
	got, _ = chromedp.Run(s.ctx, chromedp.Evaluate[[]row](rowsJS))
	for _, r := range got {
		if r.Kind != "conflict" {
			t.Errorf("kind=conflict shows a %q row: %q", r.Kind, r.Text)
		}
	}
	if n, _ := chromedp.Run(s.ctx, chromedp.Evaluate[int](`document.querySelectorAll('#f-kind option[value="write_failure"]').length`)); n != 1 {
		t.Error("the kind filter does not offer write failures")
	}

	// Every page of the dashboard: the nav's, and the pages they lead to.
	var nav []string
	s.step("nav", 10*time.Second, func(ctx context.Context) error {
		var err error
		nav, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="nav"] a')].map(a => a.getAttribute('href'))`))
		return err
	})
	if len(nav) < 5 {
		t.Fatalf("the nav has %d links: %v", len(nav), nav)
	}
	pages := append(nav, "/mappings/"+mappingID, "/conflicts", "/settings/users", "/explorer/"+mappingID+"/"+failing, "/diagnose", "/mappings/new",
		"/settings/export", "/settings/import")
	for _, path := range pages {
		var title string
		s.step("title-"+strings.Trim(strings.ReplaceAll(path, "/", "-"), "-"), 15*time.Second, func(ctx context.Context) error {
			if err := chromedp.Do(ctx, chromedp.Navigate(s.BaseURL+path)); err != nil {
				return err
			}
			title, _ = chromedp.Run(ctx, chromedp.Evaluate[string](`document.title`))
			return nil
		})
		if !attentionTitle.MatchString(title) {
			t.Errorf("%s: title %q does not count what needs attention", path, title)
		}
	}
}

// attentionTitle is a page title counting problems: "(1) Activity · pgforce".
var attentionTitle = regexp.MustCompile(`^\([1-9][0-9]*\) .+ · pgforce$`)
