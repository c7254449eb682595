package web_test

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"pgforce/internal/account"
	"pgforce/sync/engine/mapping"
)

// tabTo presses Tab until the focused element matches sel (at most n times).
func (c *chrome) tabTo(sel string, n int) {
	c.t.Helper()
	for i := 0; i < n; i++ {
		if eval[bool](c, fmt.Sprintf(`document.activeElement?.matches(%q) ?? false`, sel)) {
			return
		}
		c.run(chromedp.KeyEvent(kb.Tab))
	}
	c.t.Fatalf("%d Tabs did not reach %s (focus is on %s)", n, sel, eval[string](c, `document.activeElement?.outerHTML.slice(0, 200) ?? ''`))
}

// The mapping's menu and form work from the keyboard alone (issue 20, item 9): Tab to Actions, open
// it with Enter, pick Edit, untick a field with Space, save with Enter, confirm.
func TestTheMappingMenuAndFormWorkFromTheKeyboard(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name", "Phone")
	a.mappingState(m.ID, mapping.DataSynced)

	b.open("/mappings/" + itoa(m.ID))
	b.tabTo(`[data-testid="mapping-menu"] summary`, 40)
	b.run(chromedp.KeyEvent(kb.Enter))
	b.waitFor(`document.querySelector('[data-testid="mapping-menu"]').open`)
	b.tabTo(`[data-testid="menu-edit"]`, 5)
	b.run(chromedp.KeyEvent(kb.Enter))
	b.waitFor(`document.querySelector('[data-testid="mapping-form"]') !== null`)

	b.tabTo(`[data-field="Phone"] [data-testid="field-check"]`, 200)
	b.run(chromedp.KeyEvent(" "))
	if eval[bool](b, `document.querySelector('[data-field="Phone"] [data-testid="field-check"]').checked`) {
		t.Fatal("Space did not untick Phone")
	}
	b.tabTo(`[data-testid="mapping-save"]`, 200)
	b.run(chromedp.KeyEvent(kb.Enter))
	b.waitFor(`document.querySelector('[data-testid="confirm-remove-fields"]') !== null`)
	b.tabTo(`[data-testid="confirm"]`, 40)
	b.run(chromedp.KeyEvent(kb.Enter))
	b.flash("Saved the Account mapping")

	// Escape closes an open menu and gives the focus back to it.
	b.tabTo(`[data-testid="mapping-menu"] summary`, 40)
	b.run(chromedp.KeyEvent(kb.Enter))
	b.waitFor(`document.querySelector('[data-testid="mapping-menu"]').open`)
	b.run(chromedp.KeyEvent(kb.Escape))
	b.waitFor(`!document.querySelector('[data-testid="mapping-menu"]').open && document.activeElement.matches('[data-testid="mapping-menu"] summary')`)
}
