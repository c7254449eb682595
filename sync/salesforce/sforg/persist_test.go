package sforg

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"pgforce/sync/store/storetest"
)

func TestSaveLoadKeepsRecordsMetadataAndAuthorizations(t *testing.T) {
	t.Parallel()
	org := New(Options{Seed: 3})
	_ = org.AddField("Account", FieldDef{Name: "Tier__c", Type: "string", Length: 10, Nillable: true, Createable: true, Updateable: true})
	id, err := org.CreateAsUser("Account", map[string]any{"Name": "Saved", "Tier__c": "Gold", "External_Id__c": "S-1"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := org.Save(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := Load(&buf, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if back.OrgID() != org.OrgID() || back.Count("Account") != org.Count("Account") || back.Record("Account", id)["Tier__c"] != "Gold" {
		t.Fatalf("records or metadata lost: %v", back.Record("Account", id))
	}
	// Unique indexes are rebuilt: the external id still clashes.
	if _, err := back.CreateAsUser("Account", map[string]any{"Name": "Dup", "External_Id__c": "S-1"}); err == nil {
		t.Fatal("duplicate external id accepted after load")
	}
	next, _ := back.CreateAsUser("Account", map[string]any{"Name": "After"})
	if next == id {
		t.Fatal("id sequence must continue")
	}
}

func TestPersisterRestoresTheOrgFromPostgres(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.Pool(t)
	ctx := context.Background()
	org, restored, err := Restore(ctx, pool, Options{Seed: 1})
	if err != nil || restored {
		t.Fatalf("first start: restored=%v err=%v", restored, err)
	}
	p := NewPersister(org, pool, slog.New(slog.DiscardHandler), 0)
	_ = p.Start(ctx)
	id, _ := org.CreateAsUser("Contact", map[string]any{"LastName": "Persisted"})
	p.Stop()
	p.Stop()
	again, restored, err := Restore(ctx, pool, Options{Seed: 1})
	if err != nil || !restored || again.Record("Contact", id)["LastName"] != "Persisted" {
		t.Fatalf("restart: restored=%v err=%v", restored, err)
	}
}
