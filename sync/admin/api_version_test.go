package admin_test

import (
	"errors"
	"strings"
	"testing"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/sforg"
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
