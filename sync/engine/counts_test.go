package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
)

// The row count the dashboard shows (report.Counts, read by one Reader that keeps exact counts
// between reads as the dashboard's does) stays exact as the engine loads the table, polls inserts
// and deletes into it, and applications insert and delete rows.
func TestTheDashboardsRowCountFollowsLoadsPollsAndApplicationWrites(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 7})
	b.ConnState(connection.Idle)
	r := report.New(b.Pool)
	exact := func(what string) {
		t.Helper()
		counts, err := r.Counts(b.Ctx, b.Schema, []string{"account"})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := counts["account"].Rows, int64(b.Count("account", "")); got != want || counts["account"].Estimated {
			t.Fatalf("after %s: %+v, the table holds %d rows", what, counts["account"], want)
		}
	}
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	if b.Count("account", "") == 0 {
		t.Fatal("nothing loaded")
	}
	exact("the load")
	id, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Brand New"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the insert to arrive", 10*time.Second, func() (bool, string) {
		n := b.Count("account", "sfid = $1", id)
		return n == 1, fmt.Sprint(n)
	})
	exact("a poll's insert")
	if err := b.Org.DeleteAsUser("Account", id); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the delete to arrive", 10*time.Second, func() (bool, string) {
		n := b.Count("account", "sfid = $1", id)
		return n == 0, fmt.Sprint(n)
	})
	exact("a poll's delete")
	b.Exec(`INSERT INTO $schema.account (name) VALUES ('from an app'), ('from an app')`)
	exact("an application's insert")
	b.Exec(`DELETE FROM $schema.account WHERE name = 'from an app'`)
	exact("an application's delete")
}
