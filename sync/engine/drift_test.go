package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/testsignal"
)

// Issue 21 #5: a field that grew in Salesforce was only found by the schema check (at start, every
// 6 h, or on "Check now"), so a longer value stopped the mapping with Postgres's raw error. Postgres
// refusing a value from Salesforce runs the drift check at once: the state reason and the history
// name the drifted field and its fix, and the fix lets the value in.
func TestAValueTooLongForItsColumnIsExplainedAsDrift(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadOnly, "LastName", "Title")
	b.MappingState(m.ID, mapping.DataSynced)
	var was int
	if err := b.Org.ChangeField("Contact", "Title", func(f *sforg.FieldDef) { was, f.Length = f.Length, f.Length*2 }); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("t", was+10)
	id, err := b.Org.CreateAsUser("Contact", map[string]any{"LastName": "Long title", "Title": long})
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("field Title drifted: its column is varchar(%d), Salesforce's definition needs varchar(%d). The field grew in Salesforce: edit the mapping and click Save.", was, was*2)
	b.Eventually("the drift in the state reason", 20*time.Second, func() (bool, string) {
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return got.State == mapping.SystemError && strings.HasPrefix(got.StateReason, want) && strings.Contains(got.StateReason, "value too long"), string(got.State) + " " + got.StateReason
	})
	if h := history(b, m.ID, "drift"); len(h) != 1 || !strings.Contains(h[0], want) {
		t.Fatalf("history: %q", h)
	}
	got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
	if len(got.Drift) != 1 || got.Drift[0].Field != "Title" || !got.Drift[0].Widen {
		t.Fatalf("drift: %+v", got.Drift)
	}
	// The fix (edit, save) widens the column; the value arrives.
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, got.Config, nil); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the long title", 20*time.Second, func() (bool, string) { return b.Count("contact", "sfid = $1 AND title = $2", id, long) == 1, "" })
}

// A mapped field removed in Salesforce makes Salesforce refuse the poll's query (INVALID_FIELD): the
// mapping says which field drifted and how to fix it, not only the refusal.
func TestAFieldRemovedInSalesforceIsExplainedAsDrift(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadOnly, "LastName", "AssistantName")
	b.MappingState(m.ID, mapping.DataSynced)
	if err := b.Org.RemoveField("Contact", "AssistantName"); err != nil {
		t.Fatal(err)
	}
	want := "field AssistantName drifted: it no longer exists in Salesforce. The field no longer exists in Salesforce: edit the mapping, deselect it and save."
	b.Eventually("the drift in the state reason", 20*time.Second, func() (bool, string) {
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return got.State.Severity() == "bad" && strings.HasPrefix(got.StateReason, want) && strings.Contains(got.StateReason, "Salesforce refused the query"), string(got.State) + " " + got.StateReason
	})
}

// Issue 21 #5: fixing one drifted field was refused (422) because another drifted too (a type
// change not recreated, a field removed). Each fix stands alone: the others keep their columns and
// stay reported as drift.
func TestEachDriftFixStandsAlone(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadOnly, "LastName", "Department", "AssistantName")
	b.MappingState(m.ID, mapping.DataSynced)
	b.Engine.Stop() // nothing polls the changed object meanwhile
	if err := b.Org.ChangeField("Contact", "LastName", func(f *sforg.FieldDef) { f.Length += 40 }); err != nil {
		t.Fatal(err)
	}
	if err := b.Org.ChangeField("Contact", "Department", func(f *sforg.FieldDef) { f.Type, f.Length, f.Precision, f.Scale = "double", 0, 18, 2 }); err != nil {
		t.Fatal(err)
	}
	if err := b.Org.RemoveField("Contact", "AssistantName"); err != nil {
		t.Fatal(err)
	}
	drifted := func() []string {
		t.Helper()
		if err := b.Admin.Mappings.CheckSchema(b.Ctx, b.Conn.ID); err != nil {
			t.Fatal(err)
		}
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		var out []string
		for _, d := range got.Drift {
			out = append(out, d.Field)
		}
		slices.Sort(out)
		return out
	}
	if got := drifted(); !slices.Equal(got, []string{"AssistantName", "Department", "LastName"}) {
		t.Fatalf("drift: %v", got)
	}
	// Widen LastName only (the fix-drift action's Edit + Save of the configuration as it is).
	got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, got.Config, nil); err != nil {
		t.Fatalf("fixing LastName alone: %v", err)
	}
	if got := drifted(); !slices.Equal(got, []string{"AssistantName", "Department"}) {
		t.Fatalf("drift left: %v", got)
	}
	// Department's own fix: recreate its column.
	got, _ = b.Admin.Mappings.Get(b.Ctx, m.ID)
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, got.Config, []string{"Department"}); err != nil {
		t.Fatalf("recreating Department alone: %v", err)
	}
	if got := drifted(); !slices.Equal(got, []string{"AssistantName"}) {
		t.Fatalf("drift left: %v", got)
	}
}

// The schema check runs every few minutes (15 by default) at the cost of one API call when nothing
// changed in the org's metadata (describe global with If-Modified-Since answers 304 Not Modified),
// and finds a field that grew without a value having to fail first.
func TestThePeriodicSchemaCheckCostsOneCallUntilSomethingChanges(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	checked := testsignal.New[int64]()
	b.Options.SchemaCheckEvery, b.Options.Signals.SchemaChecked = 100*time.Millisecond, checked
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Idle)
	contacts := b.CreateMapping("Contact", mapping.ReadOnly, "LastName")
	b.MappingState(contacts.ID, mapping.DataSynced)
	b.MappingState(b.CreateMapping("Account", mapping.ReadOnly, "Name").ID, mapping.DataSynced)
	b.MappingState(b.CreateMapping("Lead", mapping.ReadOnly, "LastName").ID, mapping.DataSynced)
	// Once the org's last metadata change is an overlap behind the checks, each costs one call.
	b.Eventually("five checks that cost one describe call each", 20*time.Second, func() (bool, string) {
		before, mark := b.Org.APICalls()["describe"], checked.Mark()
		enginetest.Rounds(t, checked, "schema checks", mark, 5, b.Conn.ID)
		n := b.Org.APICalls()["describe"] - before
		return n == 5, fmt.Sprint(n, " describe calls")
	})
	if err := b.Org.ChangeField("Contact", "LastName", func(f *sforg.FieldDef) { f.Length += 20 }); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the drift found by the periodic check", 20*time.Second, func() (bool, string) {
		got, _ := b.Admin.Mappings.Get(b.Ctx, contacts.ID)
		return len(got.Drift) == 1 && got.Drift[0].Field == "LastName", fmt.Sprint(got.Drift)
	})
}
