package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"pgforce/sync/store/storetest"
)

// The Overview says "Healthy" only while the data shows nothing wrong: a write Salesforce refused,
// a mapping stopped by an error and a connection needing re-authorization each replace it with the
// problem and its fix, and a connection that cannot sync counts no mapping as in sync.
func TestTheOverviewNeverCallsAConnectionWithAProblemHealthy(t *testing.T) {
	t.Parallel()
	p, ctx := connectedProduct(t)
	// Read/write Contact: Last Name is required to create a Contact, so choosing Read/write locks it in.
	if err := createMapping(ctx, p.BaseURL, "Contact", true, []string{"Email"}, nil); err != nil {
		screenshot(t, ctx, "failed-create-mapping")
		t.Fatal(err)
	}
	if err := waitMappingState(ctx, p.BaseURL, "Contact", "DATA_SYNCED", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	overview := func(what string, healthy bool, want string) {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.Navigate(p.BaseURL+"/")); err != nil {
			t.Fatal(err)
		}
		// The Overview refreshes itself every 5 s: wait for its verdict rather than reloading.
		err := poll(ctx, fmt.Sprintf(`(() => { const h = document.querySelector('[data-testid="health-summary"]');
			return !!h && h.dataset.healthy === %q && h.textContent.includes(%q); })()`, fmt.Sprint(healthy), want),
			chromedp.WithPollingTimeout(30*time.Second))
		if err != nil {
			got, _ := text(ctx, `[data-testid="overview"]`)
			screenshot(t, ctx, "failed-health-"+strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: the Overview should say %q (healthy=%v); it says:\n%s", what, want, healthy, got)
		}
	}
	overview("synced", true, "Healthy")

	db, err := pgx.Connect(context.Background(), storetest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	exec := func(sql string) {
		t.Helper()
		sql = strings.NewReplacer("$pgforce", p.Env["PGFORCE_DB_SCHEMA"], "$synced", connectedSchema(p)).Replace(sql)
		if _, err := db.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}

	// An application inserts a Contact without a last name: Salesforce refuses it.
	exec(`INSERT INTO $synced.contact (email) VALUES ('nobody@example.com')`)
	overview("a failed write", false, "Salesforce refused 1 write of Contact")
	if n, _ := text(ctx, `[data-testid="health-ok"]`); strings.TrimSpace(n) != "0" {
		t.Fatalf("a mapping with a failed write is not in sync: In sync = %q", n)
	}

	exec(`UPDATE $pgforce.mappings SET state = 'SYSTEM_ERROR', state_reason = 'poll failed: boom' WHERE object_name = 'Contact'`)
	overview("an errored mapping", false, "Contact (SYSTEM_ERROR) is stopped: poll failed: boom")

	exec(`UPDATE $pgforce.mappings SET state = 'DATA_SYNCED' WHERE object_name = 'Contact'`)
	exec(`UPDATE $pgforce.connections SET state = 'NEED_AUTHENTICATION'`)
	overview("a needed re-authorization", false, "Salesforce no longer accepts pgforce's authorization")
}

// connectedSchema is the synced schema connectedProduct created.
func connectedSchema(p *product) string {
	s := p.Env["PGFORCE_DB_SCHEMA"]
	return "salesforce_" + strings.ToLower(s[len(s)-6:])
}
