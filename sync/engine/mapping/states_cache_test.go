package mapping_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
)

// The dashboard lists every mapping of a connection on each refresh through a StatesCache: after
// every kind of change to a mapping (a poll, a state transition, an edit, a new mapping, a deleted
// one) its list must say exactly what ListStates says, reading again only the mappings that changed.
func TestStatesCacheListsWhatListStatesSaysAfterEveryChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, schema := storetest.Pool(t)
	fields := []table.Field{{Name: "Name", Type: "string", Length: 80}}
	ids := map[string]int64{}
	var connID, otherID int64
	inTx := func(fn func(tx pgx.Tx) error) {
		t.Helper()
		if err := store.Tx(ctx, pool, fn); err != nil {
			t.Fatal(err)
		}
	}
	inTx(func(tx pgx.Tx) (err error) {
		row := connection.Row{Name: "acme", Schema: schema + "_sf", OrgType: connection.Production, LoginURL: "https://login.salesforce.com", APIVersion: "62.0"}
		if connID, err = connection.Insert(ctx, tx, row); err != nil {
			return err
		}
		row.Name, row.Schema = "other", schema+"_other"
		if otherID, err = connection.Insert(ctx, tx, row); err != nil {
			return err
		}
		for _, object := range []string{"Account", "Contact", "Lead"} {
			m, err := mapping.Insert(ctx, tx, connID, object, mapping.NewConfig("Name"), fields)
			if err != nil {
				return err
			}
			ids[object] = m.ID
		}
		_, err = mapping.Insert(ctx, tx, otherID, "Account", mapping.NewConfig("Name"), fields)
		return err
	})

	cache := mapping.NewStatesCache(pool)
	var lastRead time.Time
	// check lists through the cache and directly, and returns how many mappings the cache read again.
	check := func(step string, objects ...string) int {
		t.Helper()
		before := cache.Decoded()
		got, err := cache.ListStates(ctx, connID)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		want, err := mapping.ListStates(ctx, pool, connID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(objects) || len(want) != len(objects) {
			t.Fatalf("%s: cache lists %d mappings, ListStates %d, want %v", step, len(got), len(want), objects)
		}
		for i, m := range got {
			if m.Object != objects[i] {
				t.Errorf("%s: mapping %d is %s, want %s", step, i, m.Object, objects[i])
			}
			// Each list is read at its own time (the poll scheduling counts from it), held or not.
			if m.ReadAt.Before(lastRead) || !m.ReadAt.Equal(got[0].ReadAt) {
				t.Errorf("%s: %s read at %v, the list at %v, the previous list at %v", step, m.Object, m.ReadAt, got[0].ReadAt, lastRead)
			}
			w := want[i]
			m.ReadAt, w.ReadAt = time.Time{}, time.Time{}
			if !same(m, w) {
				t.Errorf("%s: %s\ncache      %+v\nListStates %+v", step, m.Object, m, w)
			}
		}
		lastRead = got[0].ReadAt
		return cache.Decoded() - before
	}

	if n := check("first list", "Account", "Contact", "Lead"); n != 3 {
		t.Errorf("the first list reads every mapping, read %d", n)
	}
	if n := check("nothing changed", "Account", "Contact", "Lead"); n != 0 {
		t.Errorf("an unchanged list reads no mapping again, read %d", n)
	}

	inTx(func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mappings SET last_poll_at = now(), next_poll_at = now() + interval '10 minutes', sf_count = 42, sf_count_at = now() WHERE id = $1`, ids["Contact"])
		return err
	})
	if n := check("a poll", "Account", "Contact", "Lead"); n != 1 {
		t.Errorf("a poll of one mapping reads it alone again, read %d", n)
	}

	inTx(func(tx pgx.Tx) error {
		_, err := mapping.Apply(ctx, tx, ids["Account"], mapping.StartLoad, "loading")
		return err
	})
	if n := check("a state change", "Account", "Contact", "Lead"); n != 1 {
		t.Errorf("a state change reads the mapping alone again, read %d", n)
	}

	edited := mapping.NewConfig("Name")
	edited.Access, edited.SFPollingSeconds, edited.PGForce = mapping.ReadWrite, 300, &mapping.Extra{RecordFilter: "Rating = 'Hot'"}
	inTx(func(tx pgx.Tx) error { return mapping.SaveConfig(ctx, tx, ids["Lead"], edited, fields) })
	if n := check("an edit", "Account", "Contact", "Lead"); n != 1 {
		t.Errorf("an edit reads the mapping alone again, read %d", n)
	}

	inTx(func(tx pgx.Tx) error {
		_, err := mapping.Insert(ctx, tx, connID, "Opportunity", mapping.NewConfig("Name"), fields)
		return err
	})
	if n := check("a new mapping", "Account", "Contact", "Lead", "Opportunity"); n != 1 {
		t.Errorf("a new mapping is read alone, read %d", n)
	}

	inTx(func(tx pgx.Tx) error { return mapping.Delete(ctx, tx, ids["Contact"]) })
	if n := check("a deleted mapping", "Account", "Lead", "Opportunity"); n != 0 {
		t.Errorf("a deletion reads nothing again, read %d", n)
	}

	// Another connection's mappings are kept apart.
	others, err := cache.ListStates(ctx, otherID)
	if err != nil {
		t.Fatal(err)
	}
	if len(others) != 1 || others[0].ConnectionID != otherID {
		t.Fatalf("the other connection lists %+v", others)
	}
	check("after another connection's list", "Account", "Lead", "Opportunity")

	// What a caller does with a list does not change what the next one says.
	got, err := cache.ListStates(ctx, connID)
	if err != nil {
		t.Fatal(err)
	}
	got[1].Config.PGForce.RecordFilter, got[1].State = "changed by a caller", mapping.SystemError
	check("after a caller changed its copy", "Account", "Lead", "Opportunity")
}

// Every poll loads its mapping, whose configuration and applied fields are decoded once per content
// of those columns: each load must still return what is stored, as a copy of its own.
func TestLoadReturnsTheStoredSettingsEachTimeAsACopyOfItsOwn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, schema := storetest.Pool(t)
	applied := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
	cfg := mapping.NewConfig("Name", "Email__c")
	cfg.Indexes["Email__c"] = mapping.IndexOption{Unique: true}
	cfg.AppliedAt, cfg.PGForce = &applied, &mapping.Extra{RecordFilter: "Rating = 'Hot'"}
	fields := []table.Field{{Name: "Name", Type: "string", Length: 80}, {Name: "Email__c", Type: "email", Length: 80}}
	var id int64
	if err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		connID, err := connection.Insert(ctx, tx, connection.Row{Name: "acme", Schema: schema + "_sf", OrgType: connection.Production, LoginURL: "https://login.salesforce.com", APIVersion: "62.0"})
		if err != nil {
			return err
		}
		m, err := mapping.Insert(ctx, tx, connID, "Contact", cfg, fields)
		id = m.ID
		return err
	}); err != nil {
		t.Fatal(err)
	}
	first, err := mapping.Load(ctx, pool, id)
	if err != nil {
		t.Fatal(err)
	}
	want := mustJSON([]any{first.Config, first.AppliedFields})
	if got := mustJSON([]any{cfg, fields}); got != want {
		t.Fatalf("loaded %s, stored %s", want, got)
	}

	// A caller changing everything it loaded changes nothing the next load says.
	first.Config.Fields["Phone"] = struct{}{}
	first.Config.Indexes["Name"] = mapping.IndexOption{}
	*first.Config.AppliedAt = time.Time{}
	first.Config.PGForce.RecordFilter = "changed"
	first.AppliedFields[0].Name = "Changed"
	for i := range 2 {
		again, err := mapping.Load(ctx, pool, id)
		if err != nil {
			t.Fatal(err)
		}
		if got := mustJSON([]any{again.Config, again.AppliedFields}); got != want {
			t.Fatalf("load %d after a caller changed its copy: %s, want %s", i+2, got, want)
		}
	}

	// An edit is what the next load says.
	edited := mapping.NewConfig("Name")
	edited.Access = mapping.ReadWrite
	if err := store.Tx(ctx, pool, func(tx pgx.Tx) error { return mapping.SaveConfig(ctx, tx, id, edited, fields[:1]) }); err != nil {
		t.Fatal(err)
	}
	after, err := mapping.Load(ctx, pool, id)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := mustJSON([]any{after.Config, after.AppliedFields}), mustJSON([]any{edited, fields[:1]}); got != want {
		t.Fatalf("after an edit: %s, want %s", got, want)
	}
}
