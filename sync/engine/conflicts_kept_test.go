package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/salesforce/sforg"
)

// A change the writer finds in conflict and keeps (postgres_wins) but Salesforce then refuses has not
// been written: its conflict says postgres_kept, not postgres_won, until a retry of the row is
// written.
func TestAConflictingChangeSalesforceRefusesIsNotSaidWritten(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.PostgresWins, connection.Ordered, polled)
	if err := cb.Org.SetRules("Invoice__c", sforg.Rule{Condition: "Status__c = 'Paid'", Message: "Not yet.", Field: "Status__c"}); err != nil {
		t.Fatal(err)
	}
	cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7, status__c = 'Paid' WHERE external_id__c = 'C-1'`)
	held := holdCaptured(cb.Harness) // the writer judges the change after the poll brought Salesforce's
	cb.updateSF(map[string]any{"Amount__c": 50})
	cb.resume()
	cb.Eventually("the poll of Salesforce's version", 10*time.Second, cb.sfStampIn())
	held.release()
	var logID int64
	cb.Eventually("the refused write", 10*time.Second, func() (bool, string) {
		err := cb.Pool.QueryRow(cb.Ctx, `SELECT id FROM `+cb.Schema+`._trigger_log WHERE state = 'FAILED'`).Scan(&logID)
		return err == nil, fmt.Sprint(logStates(cb.Harness))
	})
	// The polls after the refusal read Salesforce's version again (within their overlap): the
	// writer's conflict over it is the one, not a second for the same version.
	enginetest.Rounds(t, cb.Signals().PollDone, "a poll after the refusal", cb.Signals().PollDone.Mark(), 2, cb.m.ID)
	c := cb.conflicts(1)[0]
	if c.Kind != conflict.UpdateUpdate || c.TriggerLogID != logID || c.Outcome != conflict.PostgresKept {
		t.Fatalf("conflict %+v, want postgres_kept for the refused write %d", c, logID)
	}
	cb.allowAll()
	if err := cb.Admin.Writes.Retry(cb.Ctx, enginetest.Admin, cb.Conn.ID, logID); err != nil {
		t.Fatal(err)
	}
	cb.Eventually("the written retry to settle the conflict", 10*time.Second, func() (bool, string) {
		got, err := conflict.Get(cb.Ctx, cb.Pool, cb.Conn.ID, c.ID)
		return err == nil && got.Outcome == conflict.PostgresWon, fmt.Sprint(got.Outcome, err, logStates(cb.Harness))
	})
	cb.settled(7)
	if n := len(cb.conflicts(1)); n != 1 {
		t.Fatalf("%d conflicts", n)
	}
}
