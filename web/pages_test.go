package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"pgforce/internal/account"
	"pgforce/internal/browsertest"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// pagesApp is an app with a connection, a synced mapping with rows and the simulated org, signed in
// as an admin, and every page of the dashboard a user can open in it.
func pagesApp(t *testing.T) (*app, *chrome, []string) {
	t.Helper()
	a := newApp(t)
	a.h.SimOrg = sforg.New(sforg.Options{BasePath: "/sim", Seed: 1})
	b := a.chrome(t, "admin@example.com", account.Admin)
	c := a.connection("c1", true)
	a.connState(c.ID, connection.Idle)
	m := a.mapping(c.ID, "Account", "Name", "Phone", "Region__c", "External_Id__c")
	a.mappingState(m.ID, mapping.DataSynced)
	a.exec(`INSERT INTO ` + ident(c.Schema, "account") + ` (sfid, name, phone) SELECT '001000000000' || lpad(g::text, 3, '0') || 'AAA', 'Account number ' || g, '+1 555 0100' FROM generate_series(1, 30) g`)
	a.exec(`INSERT INTO sync_stats (connection_id, mapping_id, bucket, direction, records, errors)
		SELECT $1, $2, date_trunc('minute', now()) - g * interval '7 minutes', d, (g * 37) % 90 + 5, CASE WHEN g % 40 = 0 THEN 2 ELSE 0 END
		FROM generate_series(0, 200) g, unnest(ARRAY['sf_to_pg', 'pg_to_sf']) d`, c.ID, m.ID)
	id := itoa(m.ID)
	return a, b, []string{"/", "/mappings", "/mappings/new", "/mappings/new/Account", "/mappings/" + id, "/mappings/" + id + "/edit",
		"/mappings/" + id + "/reload", "/mappings/" + id + "/delete", "/explorer", "/explorer?mapping=" + id, "/activity", "/diagnose", "/doctor",
		"/settings", "/settings/users", "/settings/export", "/settings/import", "/settings/reload-all", "/settings/sandbox-refresh?from=" + itoa(c.ID),
		"/connections/new", "/connections/" + itoa(c.ID) + "/delete", "/simulated-org"}
}

// Every page works on a phone (issue 20, item 7): at 390 px nothing scrolls sideways; wide tables
// scroll inside their card.
func TestEveryPageFitsAPhoneScreen(t *testing.T) {
	t.Parallel()
	_, b, pages := pagesApp(t)
	b.run(chromedp.EmulateViewport(390, 844))
	for _, path := range pages {
		b.open(path)
		if w := eval[int](b, `document.documentElement.scrollWidth`); w > 390 {
			wide := eval[string](b, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 391 && !e.closest('.table-wrap')).slice(0, 4).map(e => e.tagName + '.' + e.className + '#' + (e.id||'') + ' ' + Math.round(e.getBoundingClientRect().right)).join(', ')`)
			t.Errorf("%s is %d px wide at 390 px: %s", path, w, wide)
		}
	}
}

// Every page passes axe-core's WCAG A/AA rules with no serious or critical violation (issue 20,
// item 9), at desktop and phone widths.
func TestEveryPageHasNoSeriousAccessibilityViolations(t *testing.T) {
	t.Parallel()
	browsertest.SkipWithoutAxe(t)
	_, b, pages := pagesApp(t)
	for _, width := range []int64{1280, 390} {
		b.run(chromedp.EmulateViewport(width, 900))
		for _, path := range pages {
			b.open(path)
			vs, err := browsertest.Axe(b.ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range vs {
				t.Errorf("%s at %d px: %s", path, width, v)
			}
		}
	}
}
