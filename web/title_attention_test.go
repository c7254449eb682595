package web_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

// Every page of the dashboard counts what needs attention in its title, by the rule of the
// Overview's and the Mappings page's problem list (issue 20, item 8): one failed write is one
// problem, on the Activity, Explorer, Settings or Users page as much as on the Overview; once it is
// dismissed no title counts anything.
func TestEveryDashboardPageCountsWhatNeedsAttentionInItsTitle(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.adminBrowser()
	c := a.connection("c1", true)
	m := a.mapping(c.ID, "Account", "Name")
	a.connState(c.ID, connection.Idle)
	a.mappingState(m.ID, mapping.DataSynced)
	a.exec(`INSERT INTO ` + ident(c.Schema, "account") + ` (id, sfid, name) VALUES (4, '001000000000004AAA', 'Acme')`)
	pages := []string{"/", "/mappings", "/mappings/" + itoa(m.ID), "/mappings/" + itoa(m.ID) + "/edit", "/mappings/new", "/explorer",
		"/explorer?mapping=" + itoa(m.ID), "/explorer/" + itoa(m.ID) + "/4", "/activity", "/activity?kind=write_failure", "/conflicts",
		"/diagnose", "/settings", "/settings/users", "/settings/export", "/settings/import", "/connections/new"}
	title := func(path string) string {
		t.Helper()
		res := b.get(path)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", path, res.StatusCode)
		}
		return strings.TrimSpace(res.doc(t).Find("head title").Text())
	}
	for _, path := range pages {
		if got := title(path); strings.HasPrefix(got, "(") {
			t.Errorf("all is well, yet %s is titled %q", path, got)
		}
	}

	a.exec(`INSERT INTO ` + ident(c.Schema, "_trigger_log") + ` (id, state, action, table_name, record_id, sf_result, sf_message, processed_at, updated_at)
		VALUES (700, 'FAILED', 'UPDATE', 'account', 4, 0, '[{"statusCode":"FIELD_CUSTOM_VALIDATION_EXCEPTION","message":"no"}]', now(), now())`)
	counted := regexp.MustCompile(`^\(1\) .+ · pgforce$`)
	for _, path := range pages {
		if got := title(path); !counted.MatchString(got) {
			t.Errorf("with one failed write %s is titled %q", path, got)
		}
	}
	// The live fragments that redraw the title keep the same count.
	for _, path := range []string{"/?live=1", "/mappings?live=1"} {
		res := b.htmx(http.MethodGet, path, nil)
		if got := strings.TrimSpace(res.doc(t).Find("title").Text()); !counted.MatchString(got) {
			t.Errorf("the live fragment of %s titles the page %q", path, got)
		}
	}

	b.post("/writes/700/ignore", nil)
	for _, path := range pages {
		if got := title(path); strings.HasPrefix(got, "(") {
			t.Errorf("the failure was dismissed, yet %s is titled %q", path, got)
		}
	}
}
