package conflict_test

import (
	"context"
	"testing"

	"pgforce/sync/conflict"
	"pgforce/sync/store/storetest"
)

// A kept Postgres change not yet written is postgres_kept; Written settles it (postgres_won, resolved
// then) once a write of its row succeeds with that change or a later one, and leaves alone the
// conflicts of later changes, of other rows and tables, and those of other outcomes.
func TestAKeptChangeIsSaidWrittenOnlyByAWriteOfItsRow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	var connID int64
	if err := pool.QueryRow(ctx, `INSERT INTO connections (name, schema_name, state, org_type, login_url, api_version)
		VALUES ('c', 'c_sf', 'IDLE', 'simulated', 'http://sim', '62.0') RETURNING id`).Scan(&connID); err != nil {
		t.Fatal(err)
	}
	kept := func(table string, rec, logID int64, o conflict.Outcome) conflict.Conflict {
		return conflict.Conflict{ConnectionID: connID, Object: "Invoice__c", Table: table, RecordID: rec, SFID: "a0X", TriggerLogID: logID,
			Kind: conflict.UpdateUpdate, Policy: conflict.PostgresWins, Outcome: o}
	}
	cs := []conflict.Conflict{
		kept("invoice__c", 1, 10, conflict.PostgresKept), // written itself
		kept("invoice__c", 3, 20, conflict.PostgresKept), // written by a retry of its row, change 25
		kept("invoice__c", 1, 13, conflict.PostgresKept), // a later change of the row, not written
		kept("invoice__c", 2, 11, conflict.PostgresKept), // another row
		kept("account", 1, 9, conflict.PostgresKept),     // another table
		kept("invoice__c", 1, 8, conflict.SalesforceWon), // another outcome
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := conflict.Insert(ctx, tx, cs); err != nil {
		t.Fatal(err)
	}
	if err := conflict.Written(ctx, tx, connID, "invoice__c", map[int64]int64{1: 10, 3: 25}); err != nil {
		t.Fatal(err)
	}
	got := map[int64]conflict.Outcome{}
	rows, err := tx.Query(ctx, `SELECT trigger_log_id, outcome FROM conflicts`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var o string
		if err := rows.Scan(&id, &o); err != nil {
			t.Fatal(err)
		}
		got[id] = conflict.Outcome(o)
	}
	rows.Close()
	want := map[int64]conflict.Outcome{10: conflict.PostgresWon, 20: conflict.PostgresWon, 13: conflict.PostgresKept, 11: conflict.PostgresKept, 9: conflict.PostgresKept, 8: conflict.SalesforceWon}
	for id, o := range want {
		if got[id] != o {
			t.Errorf("the conflict of change %d is %s, want %s", id, got[id], o)
		}
	}
	if conflict.PostgresKept.Label() == conflict.PostgresWon.Label() {
		t.Error("a kept change is labelled as written")
	}
}
