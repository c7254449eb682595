package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/admin"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/salesforce/sforg"
)

// rowOf reads the Postgres row of an invoice by its external id.
func (cb *conflictBench) rowOf(ext string) (sfid string, r invoiceRow) {
	cb.T.Helper()
	if err := cb.Pool.QueryRow(cb.Ctx, `SELECT COALESCE(sfid, ''), amount__c, COALESCE(status__c, ''), _hc_lastop FROM `+cb.Schema+`.invoice__c WHERE external_id__c = $1`, ext).
		Scan(&sfid, &r.amount, &r.status, &r.lastop); err != nil {
		cb.T.Fatal(err)
	}
	return sfid, r
}

// logState reads a trigger-log entry's state.
func (cb *conflictBench) logState(id int64) string {
	cb.T.Helper()
	var state string
	if err := cb.Pool.QueryRow(cb.Ctx, `SELECT state FROM `+cb.Schema+`._trigger_log WHERE id = $1`, id).Scan(&state); err != nil {
		cb.T.Fatal(err)
	}
	return state
}

// refuseStatus makes Salesforce refuse the status Paid (until allowAll), and waits for the write of
// the change the application makes to be refused (FAILED); it returns the failed entry's id.
func (cb *conflictBench) refuseStatus(action string, sql string) int64 {
	cb.T.Helper()
	if err := cb.Org.SetRules("Invoice__c", sforg.Rule{Condition: "Status__c = 'Paid'", Message: "Not yet.", Field: "Status__c"}); err != nil {
		cb.T.Fatal(err)
	}
	cb.Exec(sql)
	cb.resume()
	var logID int64
	cb.Eventually("the refused write", 10*time.Second, func() (bool, string) {
		err := cb.Pool.QueryRow(cb.Ctx, `SELECT id FROM `+cb.Schema+`._trigger_log WHERE state = 'FAILED' AND action = $1`, action).Scan(&logID)
		return err == nil, fmt.Sprint(logStates(cb.Harness))
	})
	return logID
}

func (cb *conflictBench) allowAll() {
	cb.T.Helper()
	if err := cb.Org.SetRules("Invoice__c"); err != nil {
		cb.T.Fatal(err)
	}
}

// An insert Salesforce refused (FAILED) whose row a poll then links, by its external id, to a record
// a Salesforce user created meanwhile with other values is a conflict, recorded by that poll as the
// writer's pre-check records an insert's (a retry of the linked row sends an update, which no insert
// pre-check sees): kept, the row keeps the application's values and the conflict says they are not
// written yet until a retry writes them; lost, the insert is set aside and the row takes
// Salesforce's; manual, it is held for an admin.
func TestAPollLinkingAFailedInsertRecordsItsConflict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		outcome conflict.Outcome // right after the poll
		row     invoiceRow       // right after the poll
		state   string           // the failed insert's state then
		final   float64          // the amount both sides settle on
	}{
		{conflict.PostgresWins, conflict.PostgresKept, invoiceRow{7, "Paid", "FAILED"}, "FAILED", 7},
		{conflict.SalesforceWins, conflict.SalesforceWon, invoiceRow{50, "Sent", "SYNCED"}, "IGNORED", 50},
		{conflict.Manual, conflict.Held, invoiceRow{7, "Paid", "CONFLICT"}, "CONFLICT", 7},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			cb := newConflictBench(t, tc.policy, connection.Ordered, polled)
			logID := cb.refuseStatus("INSERT", `INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) VALUES ('X-9', 7, 'Paid')`)
			cb.nextSecond(time.Now())
			sfid, err := cb.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": "X-9", "Amount__c": 50, "Status__c": "Sent"})
			if err != nil {
				t.Fatal(err)
			}
			cb.Eventually("the poll to link the row", 10*time.Second, func() (bool, string) {
				linked, r := cb.rowOf("X-9")
				return linked == sfid, fmt.Sprintf("row linked to %q: %+v", linked, r)
			})
			c := cb.conflicts(1)[0]
			if c.Kind != conflict.InsertExisting || c.Outcome != tc.outcome || c.TriggerLogID != logID || c.SFID != sfid ||
				c.PostgresValues["Status__c"] != "Paid" || c.SalesforceValues["Status__c"] != "Sent" ||
				c.PostgresValues["Amount__c"] != 7.0 || c.SalesforceValues["Amount__c"] != 50.0 {
				t.Fatalf("conflict %+v", c)
			}
			if _, r := cb.rowOf("X-9"); r != tc.row {
				t.Fatalf("right after the poll the row holds %+v, want %+v", r, tc.row)
			}
			if s := cb.logState(logID); s != tc.state {
				t.Fatalf("the failed insert is %s, want %s", s, tc.state)
			}
			cycles(cb.Harness, cb.m, cb.tr, 2)
			if _, r := cb.rowOf("X-9"); r != tc.row {
				t.Fatalf("after more polls the row holds %+v, want %+v", r, tc.row)
			}
			if n := len(cb.conflicts(1)); n != 1 {
				t.Fatalf("%d conflicts: judged again", n)
			}
			cb.allowAll()
			switch tc.outcome {
			case conflict.PostgresKept:
				if err := cb.Admin.Writes.Retry(cb.Ctx, enginetest.Admin, cb.Conn.ID, logID); err != nil {
					t.Fatal(err)
				}
				cb.Eventually("the retry's write to settle the conflict", 10*time.Second, func() (bool, string) {
					c, err := conflict.Get(cb.Ctx, cb.Pool, cb.Conn.ID, c.ID)
					return err == nil && c.Outcome == conflict.PostgresWon, fmt.Sprint(c.Outcome, err, logStates(cb.Harness))
				})
			case conflict.Held:
				if _, err := cb.Admin.Conflicts.Resolve(cb.Ctx, enginetest.Admin, cb.Conn.ID, c.ID, admin.KeepPostgres); err != nil {
					t.Fatal(err)
				}
			}
			cb.Eventually(fmt.Sprintf("both sides to hold %v", tc.final), 10*time.Second, func() (bool, string) {
				_, r := cb.rowOf("X-9")
				sf := cb.Org.Record("Invoice__c", sfid)
				return sf["Amount__c"] == tc.final && r.amount == tc.final && logStates(cb.Harness)["NEW"] == 0,
					fmt.Sprintf("row %+v, record %v %v, %v", r, sf["Amount__c"], sf["Status__c"], logStates(cb.Harness))
			})
			if n := cb.Count("invoice__c", "external_id__c = 'X-9'"); n != 1 {
				t.Fatalf("%d rows hold X-9", n)
			}
			if n := len(cb.conflicts(1)); n != 1 {
				t.Fatalf("%d conflicts", n)
			}
		})
	}
}

// A failed change a poll keeps over Salesforce's later version (postgres_wins) has not reached
// Salesforce: its conflict says so (postgres_kept) until the admin's retry is written, and says
// postgres_won only then; a retry Salesforce refuses again leaves it kept, not written.
func TestAKeptFailedChangeIsSaidWrittenOnlyOnceItIs(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.PostgresWins, connection.Ordered, polled)
	c, again := keptFailedChangeRefusedAgain(cb)
	if got, _ := conflict.Get(cb.Ctx, cb.Pool, cb.Conn.ID, c.ID); got.Outcome != conflict.PostgresKept {
		t.Fatalf("after a refused retry the conflict is %s, want postgres_kept", got.Outcome)
	}
	cb.allowAll()
	if err := cb.Admin.Writes.Retry(cb.Ctx, enginetest.Admin, cb.Conn.ID, again); err != nil {
		t.Fatal(err)
	}
	cb.Eventually("the written retry to settle the conflict", 10*time.Second, func() (bool, string) {
		got, err := conflict.Get(cb.Ctx, cb.Pool, cb.Conn.ID, c.ID)
		return err == nil && got.Outcome == conflict.PostgresWon && got.ResolvedAt != nil, fmt.Sprint(got.Outcome, err, logStates(cb.Harness))
	})
	cb.settled(7)
	if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Status__c"] != "Paid" {
		t.Fatalf("the retry sent status %v, not the application's", sf["Status__c"])
	}
	if n := len(cb.conflicts(1)); n != 1 {
		t.Fatalf("%d conflicts", n)
	}
}

// A kept failed change an admin dismisses after a retry Salesforce refused again was never written:
// its conflict says so (postgres_dismissed, by that admin), not that it waits to be written.
func TestAKeptFailedChangeDismissedIsSaidDismissedUnwritten(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.PostgresWins, connection.Ordered, polled)
	c, again := keptFailedChangeRefusedAgain(cb)
	if err := cb.Admin.Writes.Ignore(cb.Ctx, enginetest.Admin, cb.Conn.ID, again); err != nil {
		t.Fatal(err)
	}
	got, err := conflict.Get(cb.Ctx, cb.Pool, cb.Conn.ID, c.ID)
	if err != nil || got.Outcome != conflict.PostgresDismissed || got.ResolvedBy != enginetest.Admin.Name {
		t.Fatalf("after the admin dismissed the write: conflict %+v (%v), want postgres_dismissed by %s", got, err, enginetest.Admin.Name)
	}
	if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Status__c"] != "Sent" {
		t.Fatalf("Salesforce holds status %v: something was written", sf["Status__c"])
	}
}

// keptFailedChangeRefusedAgain makes an update Salesforce refuses, changes the record in Salesforce
// later so a poll keeps the failed change over it (postgres_wins), checks its conflict says kept,
// and retries it while Salesforce still refuses: it returns the conflict and the refused retry.
func keptFailedChangeRefusedAgain(cb *conflictBench) (conflict.Conflict, int64) {
	cb.T.Helper()
	logID := cb.refuseStatus("UPDATE", `UPDATE $schema.invoice__c SET amount__c = 7, status__c = 'Paid' WHERE external_id__c = 'C-1'`)
	cb.nextSecond(time.Now())
	cb.updateSF(map[string]any{"Amount__c": 50, "Status__c": "Sent"})
	c := cb.conflicts(1)[0]
	if c.Outcome != conflict.PostgresKept || c.TriggerLogID != logID {
		cb.T.Fatalf("right after the poll: conflict %+v, want postgres_kept for write %d", c, logID)
	}
	if err := cb.Admin.Writes.Retry(cb.Ctx, enginetest.Admin, cb.Conn.ID, logID); err != nil {
		cb.T.Fatal(err)
	}
	var again int64
	cb.Eventually("the retry to be refused", 10*time.Second, func() (bool, string) {
		err := cb.Pool.QueryRow(cb.Ctx, `SELECT id FROM `+cb.Schema+`._trigger_log WHERE state = 'FAILED' AND id > $1`, logID).Scan(&again)
		return err == nil, fmt.Sprint(logStates(cb.Harness))
	})
	return c, again
}
