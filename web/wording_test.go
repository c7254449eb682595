package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
	"pgforce/sync/engine/mapping"
)

// Every state description and message says what is true at that moment (issue 20, item 5).
func TestStateDescriptionsAndMessagesSayWhatIsTrueNow(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)

	// A brand-new connection just authorized has missed nothing: it is starting, not catching up.
	conn := a.connection("walk", true)
	b.open("/")
	desc := b.text(`[data-testid="connection-summary"] .row-head .muted`)
	if strings.Contains(desc, "while stopped") || !strings.Contains(desc, "after the authorization") {
		t.Errorf("a just-authorized connection is described as %q", desc)
	}

	// The empty Mappings page names the schema, not the connection as if it were one.
	b.open("/mappings")
	if empty := b.text(`main`); !strings.Contains(empty, "in schema "+conn.Schema) || strings.Contains(empty, "in schema "+conn.Name) {
		t.Errorf("empty Mappings page: %q", empty)
	}

	// A mapping polled every 10 minutes does not claim changes are picked up as they happen.
	m := a.mapping(conn.ID, "Contact", "LastName")
	a.mappingState(m.ID, mapping.DataSynced)
	b.open("/mappings/" + itoa(m.ID))
	if d := b.text(`[data-testid="state-description"]`); strings.Contains(d, "as they happen") || !strings.Contains(d, "every 10 min") {
		t.Errorf("a polled DATA_SYNCED mapping is described as %q", d)
	}

	// Creating a connection whose schema is taken (under another name) names the schema as the clash.
	b.open("/connections/new")
	b.run(
		chromedp.SendKeys(chromedp.CSS(`#conn-name`), "another name"),
		chromedp.SetValue(chromedp.CSS(`#conn-schema`), conn.Schema),
		chromedp.Click(chromedp.CSS(`[data-testid="org-type-sandbox"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="connection-create"]`)),
	)
	b.waitFor(`document.querySelector('[data-testid="error-schema"], [data-testid="form-error"]') !== null`)
	msg := b.text(`[data-testid="error-schema"]`) + b.text(`[data-testid="form-error"]`)
	if strings.Contains(msg, conn.Name) || !strings.Contains(msg, "already uses schema") {
		t.Errorf("duplicate schema error: %q", msg)
	}
}
