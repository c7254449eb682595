package admin_test

import (
	"errors"
	"strings"
	"testing"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store/storetest"
)

// Issue 21 #9: the API version setting is checked against the versions the org lists at
// /services/data: one it does not offer (99.0, or one newer than an older release's) is refused with
// the range it does offer, instead of every call failing with NOT_FOUND later.
func TestAnAPIVersionTheOrgDoesNotOfferIsRefused(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	b.ConnState(connection.Idle)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Paused)
	err := b.Admin.Connections.SetAPIVersion(b.Ctx, enginetest.Admin, b.Conn.ID, "99.0")
	var fe *failure.Error
	if failure.KindOf(err) != failure.Invalid || !strings.Contains(failure.Message(err), "does not offer Salesforce API version 99.0: it offers 50.0 to 68.0") {
		t.Fatalf("99.0: %v", err)
	} else if !errors.As(err, &fe) || fe.Field != "api_version" {
		t.Fatalf("the refusal names the setting: %#v", err)
	}
	max := 60
	if err := b.Org.Configure(sforg.Settings{MaxVersion: &max}); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Connections.SetAPIVersion(b.Ctx, enginetest.Admin, b.Conn.ID, "62.0"); !strings.Contains(failure.Message(err), "it offers 50.0 to 60.0") {
		t.Fatalf("a version newer than the org's release: %v", err)
	}
	if err := b.Admin.Connections.SetAPIVersion(b.Ctx, enginetest.Admin, b.Conn.ID, "59.0"); err != nil {
		t.Fatal(err)
	}
	if c, _ := b.Admin.Connections.Get(b.Ctx, b.Conn.ID); c.APIVersion != "59.0" || c.State != connection.Paused {
		t.Fatalf("the offered version is kept: %s %s", c.APIVersion, c.State)
	}
}

// Issue 21: a connection created with an API version its org does not offer cannot be authorized
// (by the username-password flow or the dashboard's web-server flow): Salesforce's answer is refused
// with the versions the org offers, the connection stays NEW without tokens (not authorized while
// every call would fail), its version can be changed while NEW, and the next authorization works.
func TestAnAuthorizationForAnAPIVersionTheOrgDoesNotOfferIsRefused(t *testing.T) {
	t.Parallel()
	const callback = "https://pgforce.example/oauth/callback"
	b := enginetest.New(t, enginetest.Options{NoStart: true, Org: sforg.Options{RedirectURIs: []string{callback}}})
	schema := b.Schema + "_v"
	t.Cleanup(func() { storetest.DropSchema(t, schema) })
	c, err := b.Admin.Connections.Create(b.Ctx, enginetest.Admin, admin.NewConnection{Schema: schema, OrgType: connection.Simulated,
		LoginURL: b.Srv.URL + "/login", APIVersion: "99.0"})
	if err != nil {
		t.Fatal(err)
	}
	refused := func(how string, err error, version, offered string) {
		t.Helper()
		var fe *failure.Error
		if failure.KindOf(err) != failure.Invalid || !errors.As(err, &fe) || fe.Field != "api_version" {
			t.Fatalf("%s with %s: refused as a bad API version: %#v", how, version, err)
		}
		for _, want := range []string{"authorized pgforce as " + sforg.DemoUsername, "does not offer Salesforce API version " + version + ": it offers " + offered,
			"not kept", "then authorize again"} {
			if !strings.Contains(failure.Message(err), want) {
				t.Fatalf("%s with %s: the refusal says %q: %s", how, version, want, failure.Message(err))
			}
		}
		got, err := b.Admin.Connections.Get(b.Ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != connection.New || got.AuthorizedAt != nil || got.OrgID != "" {
			t.Fatalf("%s with %s: the connection stays NEW and unauthorized: %s %v %q", how, version, got.State, got.AuthorizedAt, got.OrgID)
		}
		if tok, err := connection.LoadTokens(b.Ctx, b.Pool, b.Keyring, c.ID); err != nil || tok.AccessToken != "" || tok.RefreshToken != "" {
			t.Fatalf("%s with %s: no tokens are kept: %v", how, version, err)
		}
	}
	_, err = b.Admin.Connections.AuthorizeWithPassword(b.Ctx, enginetest.Admin, c.ID, sforg.DemoUsername, sforg.DemoPassword)
	refused("username-password flow", err, "99.0", "50.0 to 68.0")

	// The dashboard's flow, against an org on an older release: the version is changed while NEW.
	max := 60
	if err := b.Org.Configure(sforg.Settings{MaxVersion: &max}); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Connections.SetAPIVersion(b.Ctx, enginetest.Admin, c.ID, "64.0"); err != nil {
		t.Fatalf("the version of a connection not authorized yet can change: %v", err)
	}
	_, err = b.AuthorizeByWebServerFlow(c.ID, callback)
	refused("web-server flow", err, "64.0", "50.0 to 60.0")

	if err := b.Admin.Connections.SetAPIVersion(b.Ctx, enginetest.Admin, c.ID, "59.0"); err != nil {
		t.Fatal(err)
	}
	got, err := b.AuthorizeByWebServerFlow(c.ID, callback)
	if err != nil {
		t.Fatalf("an offered version: %v", err)
	}
	if got.AuthorizedAt == nil || got.State != connection.Recovery || got.APIVersion != "59.0" || got.Username != sforg.DemoUsername {
		t.Fatalf("authorized with the offered version: %s %v %s %s", got.State, got.AuthorizedAt, got.APIVersion, got.Username)
	}
}
