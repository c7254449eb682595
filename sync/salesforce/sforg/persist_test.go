package sforg

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"slices"
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
	saved, err := Restore(ctx, pool, "http://a/sim", Options{Seed: 1})
	if err != nil || saved.Restored {
		t.Fatalf("first start: restored=%v err=%v", saved.Restored, err)
	}
	p := NewPersister(saved, pool, slog.New(slog.DiscardHandler), 0)
	_ = p.Start(ctx)
	id, _ := saved.Org.CreateAsUser("Contact", map[string]any{"LastName": "Persisted"})
	p.Stop()
	p.Stop()
	again, err := Restore(ctx, pool, "http://a/sim", Options{Seed: 1})
	if err != nil || !again.Restored || again.Org.Record("Contact", id)["LastName"] != "Persisted" {
		t.Fatalf("restart: restored=%v err=%v", again.Restored, err)
	}
}

// Issue 21 #8: a restarted embedded org numbered its change events from 1 again, so pgforce's stored
// replay id (far ahead) named nothing and streaming went silent. The event log's position, its
// newest events and the entity selection survive a restart.
func TestARestoredOrgContinuesItsChangeEventNumbering(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.Pool(t)
	ctx := context.Background()
	saved, _ := Restore(ctx, pool, "http://a/sim", Options{Seed: 1, AllowPasswordFlow: true}) // the replay below signs in with a password
	org := saved.Org
	org.DeselectForCDC("Lead")
	for i := range 5 {
		if _, err := org.CreateAsUser("Account", map[string]any{"Name": fmt.Sprint("Before restart ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	newest := org.NewestReplayID()
	p := NewPersister(saved, pool, slog.New(slog.DiscardHandler), 0)
	p.Stop()

	back, err := Restore(ctx, pool, "http://a/sim", Options{Seed: 1, AllowPasswordFlow: true})
	if err != nil || !back.Restored {
		t.Fatal(err)
	}
	if got := back.Org.NewestReplayID(); got != newest {
		t.Fatalf("restored newest replay id %d, want %d", got, newest)
	}
	if _, err := back.Org.CreateAsUser("Account", map[string]any{"Name": "After restart"}); err != nil {
		t.Fatal(err)
	}
	if got := back.Org.NewestReplayID(); got != newest+1 {
		t.Fatalf("the first event after the restart has replay id %d, want %d", got, newest+1)
	}
	if slices.Contains(back.Org.CDCEntities(), "Lead") || !slices.Contains(back.Org.CDCEntities(), "Account") {
		t.Fatalf("selection not kept: %v", back.Org.CDCEntities())
	}
	// The kept events replay after a restart: after newest-2 come newest-1, newest and the new one.
	srv := httptest.NewServer(back.Org.Handler())
	defer srv.Close()
	got := cometdReplay(t, back.Org, srv.URL, "/data/AccountChangeEvent", newest-2, 3)
	if len(got) != 3 || got[0] != newest-1 || got[2] != newest+1 {
		t.Fatalf("replayed %v after %d", got, newest-2)
	}
}

// Two instances on one database each save their own embedded org (they overwrote one row, so a
// restart restored the other instance's records and tokens).
func TestInstancesOnOneDatabaseKeepTheirOwnOrgs(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.Pool(t)
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	a, _ := Restore(ctx, pool, "http://a:8080/sim", Options{Seed: 1})
	b, _ := Restore(ctx, pool, "http://b:8080/sim", Options{Seed: 1})
	idA, _ := a.Org.CreateAsUser("Contact", map[string]any{"LastName": "Only on A"})
	idB, _ := b.Org.CreateAsUser("Contact", map[string]any{"LastName": "Only on B"})
	pa, pb := NewPersister(a, pool, log, 0), NewPersister(b, pool, log, 0)
	pa.Stop()
	pb.Stop()
	a2, _ := Restore(ctx, pool, "http://a:8080/sim", Options{Seed: 1})
	b2, _ := Restore(ctx, pool, "http://b:8080/sim", Options{Seed: 1})
	if a2.Org.Record("Contact", idA) == nil || b2.Org.Record("Contact", idB) == nil {
		t.Fatal("an instance lost its own org's records")
	}
	if a2.Org.Record("Contact", idB) != nil && a2.Org.Record("Contact", idB)["LastName"] == "Only on B" {
		t.Fatal("instance A restored B's org")
	}
}

// Two processes serving the same org URL: the first to save owns it; the other is told and stops
// saving instead of overwriting.
func TestASecondProcessServingTheSameOrgDoesNotOverwriteIt(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.Pool(t)
	ctx := context.Background()
	first, _ := Restore(ctx, pool, "http://same/sim", Options{Seed: 1})
	second, _ := Restore(ctx, pool, "http://same/sim", Options{Seed: 1})
	id, _ := first.Org.CreateAsUser("Contact", map[string]any{"LastName": "Saved by the first"})
	p1, p2 := NewPersister(first, pool, slog.New(slog.DiscardHandler), 0), NewPersister(second, pool, slog.New(slog.DiscardHandler), 0)
	if err := p1.saveIfChanged(ctx); err != nil {
		t.Fatal(err)
	}
	_, _ = second.Org.CreateAsUser("Contact", map[string]any{"LastName": "Not saved"})
	if err := p2.saveIfChanged(ctx); !errors.Is(err, ErrNotOwner) {
		t.Fatalf("the second process saved over the first: %v", err)
	}
	back, _ := Restore(ctx, pool, "http://same/sim", Options{Seed: 1})
	if back.Org.Record("Contact", id) == nil {
		t.Fatal("the first process's save was overwritten")
	}
	// The first goes on saving.
	_, _ = first.Org.CreateAsUser("Contact", map[string]any{"LastName": "Again"})
	if err := p1.saveIfChanged(ctx); err != nil {
		t.Fatal(err)
	}
}

// A state saved before states had owners is adopted by the first instance to start, and only by it.
func TestAnUnownedSavedOrgIsAdoptedOnce(t *testing.T) {
	t.Parallel()
	pool, _ := storetest.Pool(t)
	ctx := context.Background()
	org := New(Options{Seed: 2})
	id, _ := org.CreateAsUser("Contact", map[string]any{"LastName": "Legacy"})
	var buf bytes.Buffer
	if err := org.Save(&buf); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO sforg_snapshot (owner, data, saved_at) VALUES ('', $1, now())`, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	a, err := Restore(ctx, pool, "http://a/sim", Options{Seed: 1})
	if err != nil || !a.Restored || a.Org.Record("Contact", id) == nil {
		t.Fatalf("not adopted: %v %v", a.Restored, err)
	}
	if b, _ := Restore(ctx, pool, "http://b/sim", Options{Seed: 1}); b.Restored {
		t.Fatal("adopted twice")
	}
}
