package doctor_test

import (
	"encoding/json"
	"io"
	"net/http"
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

// orgOptions: the org knows the callback and opens its control API to the tests.
var orgOptions = sforg.Options{RedirectURIs: []string{callback}, ControlToken: "doctor-test"}

// control changes the org through its HTTP control API (/_sforg/...), as an admin changes Setup.
func control(t *testing.T, h *enginetest.Harness, method, path string, body any) {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(h.Ctx, method, h.Srv.URL+path, strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+orgOptions.ControlToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if got, _ := io.ReadAll(res.Body); res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, got)
	}
}

func settings(t *testing.T, h *enginetest.Harness, s map[string]any) {
	t.Helper()
	control(t, h, "PATCH", "/_sforg/settings", s)
}

func access(t *testing.T, h *enginetest.Harness, object string, a map[string]bool) {
	t.Helper()
	control(t, h, "PUT", "/_sforg/objects/"+object+"/access", a)
}

func usage(t *testing.T, h *enginetest.Harness, used int) {
	t.Helper()
	control(t, h, "POST", "/_sforg/usage", map[string]int{"Used": used})
}

// newDoctor connects a simulated org through the web-server flow (as the dashboard does) and maps
// Account read/write and accelerated, Contact read-only.
func newDoctor(t *testing.T) (*enginetest.Harness, doctor.Doctor) {
	t.Helper()
	h := enginetest.New(t, enginetest.Options{Seed: 2, NoStart: true, Org: orgOptions})
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

// Each problem the doctor looks for, produced through the org's control API as an admin would in
// Setup, is reported with its status and fix; set back, the check passes again.
func TestEachProblemIsFoundAndExplained(t *testing.T) {
	t.Parallel()
	h, d := newDoctor(t)
	fixed := func(apply func()) {
		t.Helper()
		apply()
		if r, _ := run(t, h, d); r.Status != diagnose.Green {
			t.Fatalf("after the fix: %s %+v", r.Status, r.Results)
		}
	}
	full := map[string]bool{"read": true, "create": true, "edit": true, "delete": true}
	for _, tc := range []struct {
		name   string
		break_ func()
		rule   string
		status diagnose.Status
		says   string
		fix    string
		undo   func()
	}{
		{"API disabled", func() { settings(t, h, map[string]any{"apiEnabled": false}) }, "api_enabled", diagnose.Red, "API_CURRENTLY_DISABLED", "API Enabled",
			func() { settings(t, h, map[string]any{"apiEnabled": true}) }},
		{"View All Data revoked", func() { settings(t, h, map[string]any{"viewAllData": false}) }, "view_all_data", diagnose.Yellow, "lacks View All Data", "View All Data",
			func() { settings(t, h, map[string]any{"viewAllData": true}) }},
		{"read only on a read/write mapping", func() { access(t, h, "Account", map[string]bool{"read": true}) }, "object_access:Account", diagnose.Red,
			"lacks Create, Edit, Delete on Account", "Object Settings → Account: grant Create, Edit, Delete",
			func() { access(t, h, "Account", full) }},
		{"no read", func() { access(t, h, "Contact", map[string]bool{}) }, "object_access:Contact", diagnose.Red, "cannot read Contact", "grant Read",
			func() { access(t, h, "Contact", map[string]bool{"read": true}) }},
		{"API allowance nearly spent", func() { usage(t, h, 95000) }, "api_usage", diagnose.Red, "of 100000 daily API requests used", "polling",
			func() { usage(t, h, 0) }},
		{"API allowance getting low", func() { usage(t, h, 80000) }, "api_usage", diagnose.Yellow, "(80%)", "polling",
			func() { usage(t, h, 0) }},
		{"no My Domain", func() { settings(t, h, map[string]any{"myDomain": false}) }, "my_domain", diagnose.Yellow, "no My Domain", "Setup → My Domain",
			func() { settings(t, h, map[string]any{"myDomain": true}) }},
		{"PKCE not required", func() { settings(t, h, map[string]any{"pkceRequired": false}) }, "pkce", diagnose.Yellow, "does not require PKCE", "Require Proof Key for Code Exchange",
			func() { settings(t, h, map[string]any{"pkceRequired": true}) }},
	} {
		tc.break_()
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

// An org on an older release than the connection's API version answers no call: RED, and the
// checks that need the API are skipped.
func TestAnUnofferedVersionIsRed(t *testing.T) {
	t.Parallel()
	h, d := newDoctor(t)
	settings(t, h, map[string]any{"maxVersion": 59})
	r, byID := run(t, h, d)
	if got := byID["api_version"]; got.Status != diagnose.Red || !strings.Contains(got.Message, "does not offer") || !strings.Contains(got.Message, "to 59.0") || r.Status != diagnose.Red {
		t.Fatalf("unoffered version: %+v", got)
	}
	if byID["pkce"].Status != diagnose.Skipped || byID["api_enabled"].Status != diagnose.Skipped {
		t.Fatalf("the checks that need the API are skipped: %+v", r.Results)
	}
}

// A connection without a refresh token stops when its session expires: RED, with the fix that
// fits why it has none (a username-password login, or a connected app without refresh_token).
func TestAConnectionThatCannotRefreshIsRed(t *testing.T) {
	t.Parallel()
	h := enginetest.New(t, enginetest.Options{Seed: 2, NoStart: true, Org: orgOptions}) // authorized with a username and password
	d := doctor.Doctor{Inspection: h.Admin.Inspection, Mappings: h.Admin.Mappings, RedirectURL: callback}
	_, byID := run(t, h, d)
	if got := byID["oauth_scopes"]; got.Status != diagnose.Red || !strings.Contains(got.Message, "username and password") || !strings.Contains(got.Fix, "Settings → Authorize") {
		t.Fatalf("a password-flow connection: %+v", got)
	}
	settings(t, h, map[string]any{"scopes": []string{"api", "id"}})
	h.WebServerFlow(callback) // authorized anew with what the app now grants: still no refresh token
	_, byID = run(t, h, d)
	if got := byID["oauth_scopes"]; got.Status != diagnose.Red || !strings.Contains(got.Message, "lacks refresh_token") || !strings.Contains(got.Fix, "Selected OAuth Scopes") {
		t.Fatalf("missing refresh_token: %+v", got)
	}
	settings(t, h, map[string]any{"scopes": []string{"api", "refresh_token", "id"}})
	h.WebServerFlow(callback)
	if _, byID = run(t, h, d); byID["oauth_scopes"].Status != diagnose.Green {
		t.Fatalf("with refresh_token granted: %+v", byID["oauth_scopes"])
	}
}

func TestBeforeTheFirstMappingTheObjectChecksWait(t *testing.T) {
	t.Parallel()
	h := enginetest.New(t, enginetest.Options{Seed: 2, NoStart: true, Org: orgOptions})
	h.WebServerFlow(callback)
	d := doctor.Doctor{Inspection: h.Admin.Inspection, Mappings: h.Admin.Mappings, RedirectURL: callback}
	r, byID := run(t, h, d)
	if byID["object_access"].Status != diagnose.Skipped || byID["cdc_selection"].Status != diagnose.Skipped || r.Status != diagnose.Green {
		t.Fatalf("no mappings: %s %+v", r.Status, r.Results)
	}
}

// Taking an accelerated mapping's object out of the org's Change Data Capture selection (Setup →
// Change Data Capture; the control API's /_sforg/cdc) is YELLOW: the mapping polls instead.
func TestAnAcceleratedMappingOfAnUnselectedObjectIsYellow(t *testing.T) {
	t.Parallel()
	h, d := newDoctor(t)
	control(t, h, "DELETE", "/_sforg/cdc/entities/Account", nil)
	r, byID := run(t, h, d)
	got := byID["cdc_selection"]
	if got.Status != diagnose.Yellow || r.Status != diagnose.Yellow || !strings.Contains(got.Message, "Account is not selected") || !strings.Contains(got.Fix, "move Account to Selected Entities") {
		t.Fatalf("unselected: %s %+v", r.Status, got)
	}
	control(t, h, "POST", "/_sforg/cdc/entities/Account", nil)
	if _, byID = run(t, h, d); byID["cdc_selection"].Status != diagnose.Green {
		t.Fatalf("selected again: %+v", byID["cdc_selection"])
	}
}
