package web_test

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
	"pgforce/sync/engine/mapping"
)

// Removing a field in Edit asks first, naming the column and the rows that lose it (issue 20, item 2).
func TestEditThatRemovesAFieldConfirmsTheColumnsAndRowsLost(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name", "Phone")
	a.mappingState(m.ID, mapping.DataSynced)
	a.exec(`INSERT INTO ` + ident(c.Schema, "account") + ` (sfid, name, phone) SELECT 'a' || g, 'n', 'p' FROM generate_series(1, 3) g`)

	b.open("/mappings/" + itoa(m.ID) + "/edit")
	b.run(
		chromedp.Focus(chromedp.CSS(`[data-field="Phone"] [data-testid="field-check"]`)),
		chromedp.KeyEvent(" "),
		chromedp.Click(chromedp.CSS(`[data-testid="mapping-save"]`)),
	)
	b.waitFor(`document.querySelector('[data-testid="confirm-remove-fields"]') !== null`)
	if got := b.text(`[data-testid="removed-columns"]`); !strings.Contains(got, "Phone: column phone is dropped with its values in 3 rows") {
		t.Errorf("the confirmation says %q", got)
	}
	if saved, _ := a.admin.Mappings.Get(context.Background(), m.ID); saved.Revision != m.Revision {
		t.Fatal("the edit was saved before the admin confirmed")
	}
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="confirm"]`)))
	b.flash("Saved the Account mapping")
	saved, _ := a.admin.Mappings.Get(context.Background(), m.ID)
	if _, ok := saved.Config.Fields["Phone"]; ok {
		t.Error("Phone is still mapped after the confirmed edit")
	}
	if _, ok := saved.Config.Fields["Name"]; !ok {
		t.Error("the confirmed edit lost the fields it kept")
	}
}

// Abort confirms first, saying the table stays incomplete, and the mapping then offers Reload (item 2).
func TestAbortConfirmsThePartialTableAndOffersReload(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	a.mappingState(m.ID, mapping.ReloadTable)
	a.exec(`UPDATE mappings SET load_expected = 10, load_started_at = now() WHERE id = $1`, m.ID)
	a.exec(`INSERT INTO ` + ident(c.Schema, "account") + ` (sfid, name) SELECT 'a' || g, 'n' FROM generate_series(1, 3) g`)

	b.open("/mappings/" + itoa(m.ID))
	b.run(
		chromedp.Click(chromedp.CSS(`[data-testid="mapping-menu"] summary`)),
		chromedp.Click(chromedp.CSS(`[data-testid="menu-abort"]`)),
	)
	b.waitFor(`document.querySelector('[data-testid="confirm-abort"]') !== null`)
	if got := b.text(`[data-testid="confirm-rows"]`); !strings.Contains(got, "keeps the 3 rows loaded so far of 10 expected") {
		t.Errorf("the abort confirmation says %q", got)
	}
	if got, _ := a.admin.Mappings.Get(context.Background(), m.ID); got.State != mapping.ReloadTable {
		t.Fatalf("aborted before the admin confirmed: %s", got.State)
	}
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="confirm"]`)))
	b.flash("Aborted the Account load")
	b.waitFor(`document.querySelector('[data-testid="aborted-panel"]') !== null`)
	if got := b.text(`[data-testid="aborted-panel"]`); !strings.Contains(got, "3 of") {
		t.Errorf("the aborted panel says %q", got)
	}
	b.run(chromedp.Click(chromedp.CSS(`[data-testid="aborted-reload"]`)))
	b.waitFor(`document.querySelector('[data-testid="confirm-reload"]') !== null`)
}
