package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"pgforce/views"
)

var (
	now    = time.Date(2025, 6, 20, 14, 7, 0, 0, time.UTC)
	admin  = views.Page{Title: "t", UserEmail: "ann@example.com", UserRole: "admin", CanAct: true}
	viewer = views.Page{Title: "t", UserEmail: "vic@example.com", UserRole: "viewer"}
)

func doc(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	d, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func text(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

func disabled(s *goquery.Selection) bool { _, ok := s.Attr("disabled"); return ok }

func TestActionButtonExplainsWhyItIsDisabled(t *testing.T) {
	a := views.Action{URL: "/connections/1/pause", Label: "Pause", TestID: "pause", Title: "Stop syncing", Disabled: true,
		Why: "The connection is already paused.", Target: "#manage-connection", Fields: []views.KV{{"k", "v"}}}
	d := doc(t, views.ActionButton(viewer, a))
	if b := d.Find(`[data-testid="pause"]`); !disabled(b) || b.AttrOr("title", "") != "Only admins can do this" {
		t.Fatal("viewers: disabled, admins only")
	}
	d = doc(t, views.ActionButton(admin, a))
	if b := d.Find(`[data-testid="pause"]`); !disabled(b) || b.AttrOr("title", "") != a.Why {
		t.Fatal("admins: disabled with the state's reason")
	}
	a.Disabled = false
	d = doc(t, views.ActionButton(admin, a))
	f := d.Find("form")
	if disabled(d.Find("button")) || d.Find("button").AttrOr("title", "") != "Stop syncing" || f.AttrOr("method", "") != "post" ||
		f.AttrOr("action", "") != a.URL || f.AttrOr("hx-post", "") != a.URL || f.AttrOr("hx-target", "") != "#manage-connection" ||
		f.Find(`input[name=k]`).AttrOr("value", "") != "v" {
		t.Fatal("enabled action: a POST form that htmx can swap")
	}
}

func TestMappingsTableShowsStateCountsAndProgress(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	synced := now.Add(-3 * time.Minute)
	m := views.MappingsPage{ConnID: 1, Rows: []views.MappingRow{
		{ID: 1, Object: "Account", Table: "account", Access: "read_write", Mode: "accelerated",
			State: views.Badge{Label: "DATA_SYNCED", Severity: "ok", Title: "In sync"}, SFRows: n(1500000), PGRows: n(1499990), PGEstimated: true,
			Pending: 3, Failed: 2, LastSync: &synced},
		{ID: 2, Object: "Contact", Table: "contact", Access: "read_only", Mode: "every 10 min",
			State: views.Badge{Label: "RELOAD_TABLE", Severity: "info", Title: "Loading"}, Progress: &views.Progress{Done: 40, Expected: 160}},
	}}
	d := doc(t, views.MappingsTable(m, now))
	acct := d.Find(`[data-object="Account"]`)
	if b := acct.Find(`[data-testid="state"]`); !b.HasClass("ok") || b.AttrOr("title", "") != "In sync" {
		t.Fatal("badge coloured by severity, described on hover")
	}
	for id, want := range map[string]string{"sf-rows": "1,500,000", "pg-rows": "≈ 1,499,990", "pending": "3", "errors": "2"} {
		if got := text(acct.Find(`[data-testid="` + id + `"]`)); got != want {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	if acct.Find(`[data-testid="errors"] a`).AttrOr("href", "") != "/activity?mapping=1" || text(acct.Find("td").Eq(2)) != "Read/write" || text(acct.Find("td").Eq(3)) != "accelerated" || text(acct.Find("td").Last()) != "3 min ago" {
		t.Fatalf("account row: %q", text(acct))
	}
	con := d.Find(`[data-object="Contact"]`)
	if text(con.Find(`[data-testid="sf-rows"]`)) != "—" || !strings.Contains(text(con), "never") || con.Find("progress").AttrOr("max", "") != "160" {
		t.Fatalf("contact row: %q", text(con))
	}
}

func TestMappingFormPlacesErrorsAndLocksSystemFields(t *testing.T) {
	f := views.MappingForm{ConnID: 1, Object: "Account", Label: "Account", Access: "read_write", Mode: "polling", PollingMinutes: 10,
		UpsertChoices: []string{"Ext__c"}, UpsertField: "Ext__c",
		Errors: views.FormErrors{"": "The mapping was not saved: fix what is marked below.", "field:Fax": "Account has no field named Fax", "record_filter": "Salesforce rejects the filter"},
		Fields: []views.FieldChoice{
			{Name: "Id", Label: "Record ID", Type: "id(18)", Locked: true, Checked: true, Indexed: true},
			{Name: "Name", Label: "Name", Type: "string(255)", Checked: true, RequiredOnCreate: true},
			{Name: "Score__c", Label: "Score", Type: "double", Checked: true, Drift: "varchar(40) → double precision", Recreate: true},
			{Name: "Fax", Label: "Fax", Type: "—", Checked: true, Missing: true},
		}}
	d := doc(t, views.MappingFormPage(admin, f))
	if d.Find(`[data-field="Id"] input[type=hidden][name=field][value=Id]`).Length() != 1 || d.Find(`[data-field="Id"] [data-testid="field-check"]`).Length() != 0 {
		t.Fatal("Id: locked checkbox plus hidden input")
	}
	if d.Find(`[data-field="Name"] [data-testid="required-on-create"]`).Length() != 1 {
		t.Fatal("required on create flagged")
	}
	if d.Find(`[data-field="Score__c"] [data-testid="recreate-check"][checked]`).Length() != 1 {
		t.Fatal("retyped field offers recreate")
	}
	if fax := d.Find(`[data-field="Fax"]`); !fax.HasClass("missing") || text(fax.Find(`[data-testid="error-field:Fax"]`)) != "Account has no field named Fax" {
		t.Fatal("error at the field row")
	}
	if text(d.Find(`[data-testid="error-record_filter"]`)) != "Salesforce rejects the filter" || !strings.Contains(text(d.Find(`[data-testid="form-error"]`)), "not saved") {
		t.Fatal("form errors")
	}
	if d.Find(`#upsert-field option[selected]`).AttrOr("value", "") != "Ext__c" || d.Find(`form[data-testid="mapping-form"]`).AttrOr("action", "") != "/mappings" {
		t.Fatal("create form")
	}
	f.MappingID = 9
	d = doc(t, views.MappingFormPage(viewer, f))
	if d.Find(`form[data-testid="mapping-form"]`).AttrOr("action", "") != "/mappings/9" || !disabled(d.Find(`[data-testid="mapping-save"]`)) {
		t.Fatal("edit form; viewers cannot save")
	}
}

func TestActivityChartLayout(t *testing.T) {
	ch := views.NewActivityChart([]views.ActivityPoint{
		{At: now.Add(-time.Hour), In: 100},
		{At: now.Add(-time.Hour), Out: 50, Errors: 1},
		{At: now.Add(-23*time.Hour - 50*time.Minute), In: 25},
		{At: now.Add(-48 * time.Hour), In: 1000}, // outside the window
	}, now)
	if ch.In != 125 || ch.Out != 50 || ch.Errors != 1 || ch.Max != 100 || ch.Empty {
		t.Fatalf("totals: %+v", ch)
	}
	if len(ch.Bars) != 4 {
		t.Fatalf("bars: %+v", ch.Bars)
	}
	in, out, errBar := ch.Bars[1], ch.Bars[2], ch.Bars[3]
	if in.Class != "in" || in.Y+in.H != ch.Mid || out.Class != "out" || out.Y != ch.Mid || in.H <= out.H || in.X != out.X || errBar.Class != "err" {
		t.Fatalf("bars grow up (in) and down (out) from the axis: %+v %+v", in, out)
	}
	if !strings.Contains(in.Title, "13:00 UTC: 100 records Salesforce → Postgres") || !strings.Contains(errBar.Title, "1 failed record") {
		t.Fatalf("titles: %q %q", in.Title, errBar.Title)
	}
	if ch.Bars[0].X >= in.X || ch.Bars[0].X < 0 || in.X+in.W > ch.Width {
		t.Fatal("bars in time order inside the chart")
	}
	if len(ch.Ticks) != 8 {
		t.Fatalf("a tick every 3 hours: %+v", ch.Ticks)
	}
	d := doc(t, views.Chart(ch, "activity-chart"))
	if d.Find(`rect.in title`).First().Text() != ch.Bars[0].Title || d.Find(`svg`).AttrOr("viewBox", "") != "0 0 864.0 158.0" {
		t.Fatal("svg")
	}
	if empty := views.NewActivityChart(nil, now); !empty.Empty || len(empty.Bars) != 0 {
		t.Fatal("empty chart")
	}
	if !strings.Contains(text(doc(t, views.Chart(views.NewActivityChart(nil, now), "activity-chart")).Find("svg")), "No records synced") {
		t.Fatal("empty chart says so")
	}
}

func TestConfirmationsNameWhatIsLost(t *testing.T) {
	m := views.MappingConfirm{ID: 3, Object: "Account", Schema: "salesforce", Table: "account", Rows: 1200000, RowsEstimated: true, Pending: 1}
	d := doc(t, views.ReloadConfirmPage(admin, m))
	if !strings.Contains(text(d.Find(`[data-testid="confirm-rows"]`)), "salesforce.account") || !strings.Contains(text(d.Find(`[data-testid="confirm-rows"]`)), "about 1,200,000 rows") ||
		!strings.Contains(text(d.Find(`[data-testid="confirm-pending"]`)), "1 pending write not yet sent to Salesforce is discarded") || disabled(d.Find(`[data-testid="confirm"]`)) {
		t.Fatalf("reload: %q", text(d.Find(`[data-testid="confirm-reload"]`)))
	}
	m.Pending, m.Loading, m.State = 0, true, views.Badge{Label: "RELOAD_TABLE"}
	d = doc(t, views.DeleteConfirmPage(admin, m))
	if !strings.Contains(text(d.Find(`[data-testid="confirm-pending"]`)), "no pending writes") || !disabled(d.Find(`[data-testid="confirm"]`)) ||
		d.Find(`[data-testid="abort"]`).Length() != 1 || !strings.Contains(text(d.Find(`[data-testid="loading-refusal"]`)), "Abort it before deleting") {
		t.Fatal("delete while loading: refused, with Abort at hand")
	}
}

func TestOverviewWithoutConnectionCallsToAction(t *testing.T) {
	if href := doc(t, views.Overview(admin, views.OverviewPage{}, now)).Find(`[data-testid="setup-connection"]`).AttrOr("href", ""); href != "/connections/new" {
		t.Fatal("admins: Set up connection")
	}
	d := doc(t, views.Overview(viewer, views.OverviewPage{}, now))
	if d.Find(`[data-testid="setup-connection"]`).Length() != 0 || !strings.Contains(text(d.Find(`[data-testid="empty-state"]`)), "Ask an admin") {
		t.Fatal("viewers: ask an admin")
	}
}

func TestProgressShowsRateAndTimeLeft(t *testing.T) {
	d := doc(t, views.ProgressBar(views.Progress{Done: 2500, Expected: 10000, Rate: 125, ETA: 60 * time.Second}))
	if d.Find("progress").AttrOr("value", "") != "2500" || !strings.Contains(text(d.Selection), "2,500 of 10,000 records (25%) · 125/s · about 1 min left") {
		t.Fatalf("progress: %q", text(d.Selection))
	}
	d = doc(t, views.ProgressBar(views.Progress{Done: 10}))
	if _, ok := d.Find("progress").Attr("value"); ok || !strings.Contains(text(d.Selection), "10 records so far") {
		t.Fatal("unknown total: indeterminate")
	}
}

func TestLayoutSwitcherAndBanner(t *testing.T) {
	p := admin
	p.Path = "/mappings"
	p.Connections = []views.ConnChoice{{ID: 1, Name: "prod"}, {ID: 2, Name: "sandbox", Current: true}}
	p.Banner = &views.Banner{Kind: "error", Message: "re-authorize", ActionURL: "/connections/2/authorize", ActionLabel: "Re-authorize"}
	d := doc(t, views.Layout(p))
	sw := d.Find(`[data-testid="conn-switcher"]`)
	if sw.AttrOr("action", "") != "/mappings" || sw.AttrOr("method", "") != "get" || sw.Find(`option[selected]`).AttrOr("value", "") != "2" {
		t.Fatal("switcher")
	}
	if d.Find(`[data-testid="banner"] form`).AttrOr("action", "") != "/connections/2/authorize" {
		t.Fatal("banner action")
	}
	p.CanAct = false
	if doc(t, views.Layout(p)).Find(`[data-testid="banner"] form`).Length() != 0 {
		t.Fatal("viewers get no banner button")
	}
}

func TestNoInlineStylesOrScripts(t *testing.T) {
	// CSP forbids inline styles and scripts: no page may rely on them.
	pages := []templ.Component{
		views.Overview(admin, views.OverviewPage{Conn: &views.ConnectionView{Name: "c"}, Chart: views.NewActivityChart([]views.ActivityPoint{{At: now, In: 1}}, now)}, now),
		views.MappingFormPage(admin, views.MappingForm{Fields: []views.FieldChoice{{Name: "Id", Locked: true}}}),
		views.Settings(admin, views.SettingsPage{Conn: &views.ConnectionView{Name: "c"}}, now),
		views.MappingPage(admin, views.MappingDetail{Live: views.MappingLive{Progress: &views.Progress{Done: 1, Expected: 2}}, Drift: []views.DriftRow{{Field: "F", Kind: "recreate"}}}, now),
	}
	for i, pg := range pages {
		d := doc(t, pg)
		if n := d.Find(`[style]`).Length(); n != 0 {
			t.Errorf("page %d: %d style attributes", i, n)
		}
		d.Find("script").Each(func(_ int, s *goquery.Selection) {
			if _, ok := s.Attr("src"); !ok || strings.TrimSpace(s.Text()) != "" {
				t.Errorf("page %d: inline script", i)
			}
		})
		d.Find("*").Each(func(_ int, s *goquery.Selection) {
			for _, a := range s.Nodes[0].Attr {
				if strings.HasPrefix(a.Key, "on") {
					t.Errorf("page %d: inline handler %s", i, a.Key)
				}
			}
		})
	}
}

func TestFormats(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -4200: "-4,200"} {
		if got := views.Count(n); got != want {
			t.Errorf("Count(%d) = %q", n, got)
		}
	}
	for d, want := range map[time.Duration]string{5 * time.Second: "just now", 90 * time.Second: "1 min ago", 3*time.Hour + 5*time.Minute: "3 h 5 min ago", 50 * time.Hour: "2 d ago", -2 * time.Minute: "in 2 min"} {
		if got := views.Ago(now.Add(-d), now); got != want {
			t.Errorf("Ago(%v) = %q, want %q", d, got, want)
		}
	}
}
