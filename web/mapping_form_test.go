package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
)

// The mapping form (issue 20, item 6): the sticky Save bar never covers a field's checkboxes (a click
// meant for one must not save), every checkbox is named by its field's label, and "Select all shown"
// maps the fields a filter shows.
func TestMappingFormSaveBarLabelsAndSelectAllShown(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.chrome(t, "admin@example.com", account.Admin)
	a.connection("c1", true)
	b.run(chromedp.EmulateViewport(1400, 420))
	b.open("/mappings/new/Account")

	// Scrolled to as a browser does (the nearest edge), each checkbox is the element under its centre.
	covered := eval[[]string](b, `[...document.querySelectorAll('#field-table input[type=checkbox]')].filter(el => {
		el.scrollIntoView({block: 'nearest'});
		const r = el.getBoundingClientRect();
		return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) !== el;
	}).map(el => el.getAttribute('aria-label'))`)
	if len(covered) > 0 {
		t.Errorf("the Save bar (or something else) covers %v", covered)
	}

	for _, name := range []string{"Map Account Phone", "Index Account Phone", "Map Region"} {
		if b.count(`#field-table input[aria-label="`+name+`"]`) != 1 {
			t.Errorf("no checkbox named %q", name)
		}
	}

	b.run(
		chromedp.SendKeys(chromedp.CSS(`[data-testid="field-filter"]`), "phone"),
		chromedp.Click(chromedp.CSS(`[data-testid="select-shown"]`)),
	)
	if !eval[bool](b, `document.querySelector('[data-field="Phone"] [data-testid="field-check"]').checked`) {
		t.Error("Select all shown did not map the shown field")
	}
	if eval[bool](b, `document.querySelector('[data-field="Region__c"] [data-testid="field-check"]').checked`) {
		t.Error("Select all shown mapped a field the filter hides")
	}
}
