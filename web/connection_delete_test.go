package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

// Delete Connection in the dashboard (issue 20, item 3): a confirmation naming what goes, refused
// while the connection syncs (as the CLI is), then done once the schema name is typed — keeping the
// schema or dropping it.
func TestDeleteConnectionConfirmsWithTheSchemaNameAndKeepsOrDropsTheSchema(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	keep := a.connection("keep", true)
	drop := a.connection("drop", true)
	a.mappingState(a.mapping(drop.ID, "Contact", "LastName").ID, mapping.DataSynced)

	// A syncing connection cannot be deleted: the page says why and offers Pause.
	b.open("/settings?conn=" + itoa(drop.ID))
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="delete-connection"][href="/connections/` + itoa(drop.ID) + `/delete"]`)))
	b.waitFor(`document.querySelector('[data-testid="confirm-delete-connection"]') !== null`)
	if r := b.text(`[data-testid="delete-refusal"]`); !strings.Contains(r, "Pause the connection") {
		t.Errorf("refusal for a RECOVERY connection: %q", r)
	}
	if b.count(`[data-testid="confirm"]:disabled`) != 1 || b.count(`[data-testid="pause"]`) != 1 {
		t.Error("the Delete button is not disabled, or Pause is not offered, while the connection syncs")
	}
	if rows := b.text(`[data-testid="delete-row"]`); !strings.Contains(rows, "Contact") || !strings.Contains(rows, drop.Schema+".contact") {
		t.Errorf("the confirmation does not name the mapping and its table: %q", rows)
	}

	// Paused, it can go: a wrong schema name does not submit; the right one deletes and drops.
	a.connState(drop.ID, connection.Paused)
	b.open("/connections/" + itoa(drop.ID) + "/delete")
	b.run(
		chromedp.SendKeys(chromedp.CSS(`[data-testid="confirm-schema"]`), "wrong"),
		chromedp.Click(chromedp.CSS(`[data-testid="schema-drop"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm"]`)),
	)
	if !eval[bool](b, `!document.querySelector('[data-testid="confirm-schema"]').validity.valid`) {
		t.Error("a wrong schema name is accepted by the form")
	}
	b.run(
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="confirm-schema"]').value = ''`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="confirm-schema"]`), drop.Schema),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm"]`)),
	)
	b.flash("dropped schema " + drop.Schema)
	if schemaExists(t, a, drop.Schema) {
		t.Errorf("schema %s was not dropped", drop.Schema)
	}

	// Keeping the schema (a NEW-state connection needs no pause).
	a.connState(keep.ID, connection.Idle)
	b.open("/connections/" + itoa(keep.ID) + "/delete")
	b.run(
		chromedp.SendKeys(chromedp.CSS(`[data-testid="confirm-schema"]`), keep.Schema),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm"]`)),
	)
	b.flash("schema " + keep.Schema + " and its tables were kept")
	if !schemaExists(t, a, keep.Schema) {
		t.Errorf("schema %s was dropped though the admin chose to keep it", keep.Schema)
	}
	if cs, _ := a.admin.Connections.List(context.Background()); len(cs) != 0 {
		t.Errorf("connections left: %v", cs)
	}
}

func schemaExists(t *testing.T, a *app, schema string) bool {
	t.Helper()
	var ok bool
	if err := a.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}
