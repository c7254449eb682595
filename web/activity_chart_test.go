package web_test

import (
	"strings"
	"testing"
	"time"

	"pgforce/internal/account"
)

// The Overview's activity shows its shape (issue 20, item 4): the last hour per minute, scaled on its
// own so that a spike earlier in the day does not flatten it, and 24 hours in 15-minute bins, each
// bar telling its values on hover.
func TestActivityChartsShowTheLastHourPerMinuteAndTheDayIn15MinuteBins(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	now := time.Now().UTC()
	stat := func(at time.Time, records int) {
		a.exec(`INSERT INTO sync_stats (connection_id, mapping_id, bucket, direction, records, errors) VALUES ($1, $2, $3, 'sf_to_pg', $4, 0)`,
			c.ID, m.ID, at.Truncate(time.Minute), records)
	}
	stat(now.Add(-10*time.Hour), 5000) // the morning's load
	// Two minutes of the last hour in one 15-minute bin of the day (the bins are the clock's).
	recent := now.Truncate(15 * time.Minute)
	if now.Sub(recent) < 2*time.Minute {
		recent = recent.Add(-15 * time.Minute)
	}
	stat(recent, 30)
	stat(recent.Add(time.Minute), 40)

	b.open("/")
	hour := `svg[data-testid="activity-chart-hour"] rect.in`
	if n := b.count(hour); n != 2 {
		t.Fatalf("the last hour shows %d bars, want one per minute with changes (2)", n)
	}
	if h := eval[float64](b, `Math.max(...[...document.querySelectorAll('`+hour+`')].map(r => r.getBBox().height))`); h < 40 {
		t.Errorf("the last hour's bars are flattened by the earlier spike: %.1f of 66", h)
	}
	if got := eval[string](b, `document.querySelector('`+hour+` title').textContent`); !strings.Contains(got, "30 records Salesforce → Postgres") {
		t.Errorf("hover text: %q", got)
	}
	if n := b.count(`svg[data-testid="activity-chart"] rect.in`); n != 2 {
		t.Errorf("the 24-hour chart has %d bars, want 2 (the spike and the recent 15 minutes)", n)
	}
	if got := eval[string](b, `document.querySelector('[data-testid="activity-chart"]').textContent`); !strings.Contains(got, "per 15 min") {
		t.Errorf("the 24-hour chart's scale: %q", got)
	}
}
