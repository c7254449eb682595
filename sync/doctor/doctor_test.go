package doctor_test

import (
	"strings"
	"testing"

	"pgforce/sync/diagnose"
	"pgforce/sync/doctor"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// callback is the dashboard's OAuth callback these tests stand in for, registered with the org.
const callback = "http://localhost:9/oauth/callback"

// newDoctor connects a simulated org through the web-server flow (as the dashboard does) and maps
// Account read/write and accelerated, Contact read-only.
func newDoctor(t *testing.T) (*enginetest.Harness, doctor.Doctor) {
	t.Helper()
	h := enginetest.New(t, enginetest.Options{Seed: 2, NoStart: true, Org: sforg.Options{RedirectURIs: []string{callback}}})
	h.WebServerFlow(callback)
	accounts := mapping.NewConfig("Name", "Industry")
	accounts.Access, accounts.SFNotifyEnabled = mapping.ReadWrite, true
	if _, err := h.Admin.Mappings.Create(h.Ctx, enginetest.Admin, h.Conn.ID, "Account", accounts); err != nil {
		t.Fatal(err)
	}
	contacts := mapping.NewConfig("LastName")
	contacts.Access = mapping.ReadOnly
	if _, err := h.Admin.Mappings.Create(h.Ctx, enginetest.Admin, h.Conn.ID, "Contact", contacts); err != nil {
		t.Fatal(err)
	}
	return h, doctor.Doctor{Inspection: h.Admin.Inspection, Mappings: h.Admin.Mappings, RedirectURL: callback}
}

func run(t *testing.T, h *enginetest.Harness, d doctor.Doctor) (doctor.Report, map[string]diagnose.Result) {
	t.Helper()
	r, err := d.Run(h.Ctx, h.Conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]diagnose.Result{}
	for _, res := range r.Results {
		byID[res.RuleID] = res
	}
	return r, byID
}

func TestAnOrgSetUpAsTheREADMESaysPassesEveryCheck(t *testing.T) {
	t.Parallel()
	h, d := newDoctor(t)
	r, byID := run(t, h, d)
	for _, id := range []string{"api_enabled", "view_all_data", "object_access:Account", "object_access:Contact", "cdc_selection", "api_usage", "api_version", "my_domain", "oauth_scopes", "pkce"} {
		res, ok := byID[id]
		if !ok || res.Status != diagnose.Green || res.Fix != "" {
			t.Errorf("%s: %+v", id, res)
		}
	}
	if r.Status != diagnose.Green || r.ConnectionID != h.Conn.ID || r.CheckedAt.IsZero() {
		t.Fatalf("report %s %+v", r.Status, r)
	}
	if !strings.Contains(byID["my_domain"].Message, h.Srv.URL) || !strings.Contains(byID["oauth_scopes"].Message, "refresh_token") {
		t.Fatalf("messages say what was found: %q %q", byID["my_domain"].Message, byID["oauth_scopes"].Message)
	}
}

// Each problem the doctor looks for, produced in the org through its settings (the control API's
// PATCH /_sforg/settings and PUT /_sforg/objects/{name}/access do the same over HTTP), is reported
// with its status and fix; set back, the check passes again.
func TestEachProblemIsFoundAndExplained(t *testing.T) {
	t.Parallel()
	h, d := newDoctor(t)
	off, on := false, true
	fixed := func(apply func()) {
		t.Helper()
		apply()
		if r, _ := run(t, h, d); r.Status != diagnose.Green {
			t.Fatalf("after the fix: %s %+v", r.Status, r.Results)
		}
	}
	for _, tc := range []struct {
		name   string
		break_ func() error
		rule   string
		status diagnose.Status
		says   string
		fix    string
		undo   func()
	}{
		{"API disabled", func() error { return h.Org.Configure(sforg.Settings{APIEnabled: &off}) }, "api_enabled", diagnose.Red, "API_CURRENTLY_DISABLED", "API Enabled",
			func() { _ = h.Org.Configure(sforg.Settings{APIEnabled: &on}) }},
		{"View All Data revoked", func() error { return h.Org.Configure(sforg.Settings{ViewAllData: &off}) }, "view_all_data", diagnose.Yellow, "lacks View All Data", "View All Data",
			func() { _ = h.Org.Configure(sforg.Settings{ViewAllData: &on}) }},
		{"read only on a read/write mapping", func() error { return h.Org.SetObjectAccess("Account", sforg.ObjectAccess{Read: true}) }, "object_access:Account", diagnose.Red,
			"lacks Create, Edit, Delete on Account", "Object Settings → Account: grant Create, Edit, Delete",
			func() {
				_ = h.Org.SetObjectAccess("Account", sforg.ObjectAccess{Read: true, Create: true, Edit: true, Delete: true})
			}},
		{"no read", func() error { return h.Org.SetObjectAccess("Contact", sforg.ObjectAccess{}) }, "object_access:Contact", diagnose.Red, "cannot read Contact", "grant Read",
			func() { _ = h.Org.SetObjectAccess("Contact", sforg.ObjectAccess{Read: true}) }},
		{"API allowance nearly spent", func() error { h.Org.SetAPIUsage(95000); return nil }, "api_usage", diagnose.Red, "of 100000 daily API requests used", "polling",
			func() { h.Org.SetAPIUsage(0) }},
		{"API allowance getting low", func() error { h.Org.SetAPIUsage(80000); return nil }, "api_usage", diagnose.Yellow, "(80%)", "polling",
			func() { h.Org.SetAPIUsage(0) }},
		{"no My Domain", func() error { return h.Org.Configure(sforg.Settings{MyDomain: &off}) }, "my_domain", diagnose.Yellow, "no My Domain", "Setup → My Domain",
			func() { _ = h.Org.Configure(sforg.Settings{MyDomain: &on}) }},
		{"PKCE not required", func() error { return h.Org.Configure(sforg.Settings{PKCERequired: &off}) }, "pkce", diagnose.Yellow, "does not require PKCE", "Require Proof Key for Code Exchange",
			func() { _ = h.Org.Configure(sforg.Settings{PKCERequired: &on}) }},
	} {
		if err := tc.break_(); err != nil {
			t.Fatal(err)
		}
		r, byID := run(t, h, d)
		got := byID[tc.rule]
		if got.Status != tc.status || !strings.Contains(got.Message, tc.says) || !strings.Contains(got.Fix, tc.fix) || r.Status.Worse(tc.status) {
			t.Errorf("%s: %s %s\n  message %q\n  fix %q", tc.name, tc.rule, got.Status, got.Message, got.Fix)
		}
		if tc.rule == "api_enabled" {
			if byID["pkce"].Status != diagnose.Skipped || byID["my_domain"].Status != diagnose.Skipped {
				t.Errorf("with the API refused, the other checks are skipped: %+v", r.Results)
			}
		}
		fixed(tc.undo)
	}
}

// An org on an older release than the connection's API version, and a connected app that does
// not grant refresh_token, are RED: the first answers no call, the second stops the sync when the
// session expires.
func TestAnUnofferedVersionAndAMissingRefreshScopeAreRed(t *testing.T) {
	t.Parallel()
	h, d := newDoctor(t)
	old := 59
	if err := h.Org.Configure(sforg.Settings{MaxVersion: &old}); err != nil {
		t.Fatal(err)
	}
	r, byID := run(t, h, d)
	if got := byID["api_version"]; got.Status != diagnose.Red || !strings.Contains(got.Message, "does not offer") || !strings.Contains(got.Message, "to 59.0") || r.Status != diagnose.Red {
		t.Fatalf("unoffered version: %+v", got)
	}
	if byID["pkce"].Status != diagnose.Skipped {
		t.Fatalf("the checks that need the API are skipped: %+v", byID["pkce"])
	}
	latest := 68
	if err := h.Org.Configure(sforg.Settings{MaxVersion: &latest, Scopes: []string{"api", "id"}}); err != nil {
		t.Fatal(err)
	}
	h.WebServerFlow(callback) // the connection is authorized anew with what the app now grants
	_, byID = run(t, h, d)
	if got := byID["oauth_scopes"]; got.Status != diagnose.Red || !strings.Contains(got.Message, "lacks refresh_token") || !strings.Contains(got.Fix, "Selected OAuth Scopes") {
		t.Fatalf("missing refresh_token: %+v", got)
	}
}

func TestBeforeTheFirstMappingTheObjectChecksWait(t *testing.T) {
	t.Parallel()
	h := enginetest.New(t, enginetest.Options{Seed: 2, NoStart: true, Org: sforg.Options{RedirectURIs: []string{callback}}})
	h.WebServerFlow(callback)
	d := doctor.Doctor{Inspection: h.Admin.Inspection, Mappings: h.Admin.Mappings, RedirectURL: callback}
	r, byID := run(t, h, d)
	if byID["object_access"].Status != diagnose.Skipped || byID["cdc_selection"].Status != diagnose.Skipped || r.Status != diagnose.Green {
		t.Fatalf("no mappings: %s %+v", r.Status, r.Results)
	}
}
