package main

import (
	"context"
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
