package sforg

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

// An org saved by an earlier release comes back with this release's objects and fields (empty),
// its records and an admin's additions intact, and its settings as they were.
func TestARestoredOrgGetsThisReleasesMetadataAndKeepsItsSettings(t *testing.T) {
	t.Parallel()
	old := New(Options{Seed: 1})
	accounts := old.Count("Account")
	// What an earlier release did not have, and what an admin did.
	if err := old.RemoveField("Account", "Regions__c"); err != nil {
		t.Fatal(err)
	}
	old.RemoveObject("Campaign")
	if err := old.AddField("Account", FieldDef{Name: "Admin_Note__c", Type: "string", Length: 40, Nillable: true, Createable: true, Updateable: true, Custom: true}); err != nil {
		t.Fatal(err)
	}
	off := false
	if err := old.Configure(Settings{ViewAllData: &off}); err != nil {
		t.Fatal(err)
	}
	if err := old.SetObjectAccess("Lead", ObjectAccess{Read: true}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := old.Save(&buf); err != nil {
		t.Fatal(err)
	}
	o, err := Load(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Count("Account") != accounts || o.table("Campaign") == nil || !o.table("Account").def.has("Regions__c") || !o.table("Account").def.has("Admin_Note__c") {
		t.Fatalf("restored: %d accounts (want %d), Campaign %v, fields %v", o.Count("Account"), accounts, o.table("Campaign") != nil, o.table("Account").def.has("Regions__c"))
	}
	for id, rec := range o.Records("Account") {
		if rec["Name"] == nil || rec["Id"] != id {
			t.Fatalf("record values moved: %v", rec)
		}
	}
	if o.settings.viewAllData || o.access(o.table("Lead")).Create {
		t.Fatal("the org's settings and permissions survive a restart")
	}
}

// The control API changes the org's settings and the integration user's object permissions, for
// demos and tests in another process.
func TestControlAPIChangesSettingsAndObjectAccess(t *testing.T) {
	t.Parallel()
	org, srv := newTestServer(t, Options{ControlToken: "ctl"})
	do := func(method, path, body string) int {
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer ctl")
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if do("PATCH", "/_sforg/settings", `{"viewAllData": false, "scopes": ["api"], "passwordFlow": true}`) != 200 {
		t.Fatal("settings")
	}
	if do("PATCH", "/_sforg/settings", `{"scopes": ["everything"]}`) != 400 || do("PATCH", "/_sforg/settings", `{"maxVersion": 12}`) != 400 {
		t.Fatal("bad settings are refused")
	}
	if do("PUT", "/_sforg/objects/Case/access", `{"read": true, "edit": true}`) != 200 || do("PUT", "/_sforg/objects/Nope/access", `{"read": true}`) != 400 {
		t.Fatal("object access")
	}
	if org.settings.viewAllData || !org.settings.passwordFlow || strings.Join(org.settings.scopes, " ") != "api" || org.access(org.table("Case")).Create || !org.access(org.table("Case")).Edit {
		t.Fatalf("settings %+v", org.settings)
	}
}
