package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

// What needs attention stands out (issue 20, item 8): an errored mapping and a needed
// re-authorization each get an alert panel with the fix on the Mappings page, not only a badge, and
// the tab's title counts them.
func TestProblemsGetAnAlertPanelWithTheFixAndACountInTheTitle(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	a.connState(c.ID, connection.Idle)
	a.mappingState(m.ID, mapping.DataSynced)
	b.open("/mappings")
	if b.count(`[data-testid="attention"]`) != 0 || strings.HasPrefix(eval[string](b, `document.title`), "(") {
		t.Fatalf("all is well, yet the page raises an alert (title %q)", eval[string](b, `document.title`))
	}

	a.mappingState(m.ID, mapping.SystemError)
	a.exec(`UPDATE mappings SET state_reason = 'query failed: boom' WHERE id = $1`, m.ID)
	b.open("/mappings")
	panel := b.text(`[data-testid="attention"]`)
	if !strings.Contains(panel, "Account") || b.count(`[data-testid="attention"] [data-testid="problem-fix"]`) == 0 {
		t.Errorf("the errored mapping's alert panel: %q", panel)
	}
	if title := eval[string](b, `document.title`); !strings.HasPrefix(title, "(1) Mappings") {
		t.Errorf("title with one problem: %q", title)
	}

	// The connection loses its authorization while the page is open: the live refresh adds it to the
	// panel and the count in the title.
	a.connState(c.ID, connection.NeedAuthentication)
	b.waitFor(`document.title.startsWith("(2) Mappings")`)
	b.waitFor(`document.querySelector('[data-testid="attention"]').innerText.includes("authorization")`)
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="nav"] a[href="/"]`)))
	b.waitFor(`document.title.startsWith("(2) Overview")`)
}
