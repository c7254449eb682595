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

// invoiceRow is what the Postgres row of C-1 holds.
type invoiceRow struct {
	amount         float64
	status, lastop string
}

func (cb *conflictBench) row() invoiceRow {
	cb.T.Helper()
	var r invoiceRow
	if err := cb.Pool.QueryRow(cb.Ctx, `SELECT amount__c, COALESCE(status__c, ''), _hc_lastop FROM `+cb.Schema+`.invoice__c WHERE external_id__c = 'C-1'`).
		Scan(&r.amount, &r.status, &r.lastop); err != nil {
		cb.T.Fatal(err)
	}
	return r
}

// A poll that brings Salesforce's later version of a record whose row holds a captured change not
// yet written shows at once what the policy will keep: the field the change touched keeps its
// Postgres value unless Salesforce's version wins, the field only Salesforce changed takes its
// value; the writer then records the conflict once, and nothing flips back.
func TestAPollShowsWhatThePolicyKeepsOfAChangeNotYetWritten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		shown   float64 // the row's amount right after the poll, and at the end
		outcome conflict.Outcome
	}{
		{conflict.PostgresWins, 7, conflict.PostgresWon},
		{conflict.SalesforceWins, 50, conflict.SalesforceWon},
		{conflict.NewestWins, 50, conflict.SalesforceWon}, // Salesforce changed last
		{conflict.Manual, 7, conflict.Held},
	} {
		for _, tr := range []transport{polled, byCometD} {
			t.Run(fmt.Sprintf("%s/%s", tc.policy, tr), func(t *testing.T) {
				t.Parallel()
				cb := newConflictBench(t, tc.policy, connection.Ordered, tr)
				cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
				cb.nextSecond(time.Now())
				held := holdCaptured(cb.Harness) // the writer cannot claim the change yet
				if tr.streams() {
					cb.resume()
					cb.updateSF(map[string]any{"Amount__c": 50, "Status__c": "Sent"})
					streamedIn(cb.Harness, cb.m, tr, cb.sfStampIn())
				} else {
					cb.updateSF(map[string]any{"Amount__c": 50, "Status__c": "Sent"})
					cb.resume()
					cb.Eventually("the poll of Salesforce's version", 10*time.Second, cb.sfStampIn())
				}
				if r := cb.row(); r.amount != tc.shown || r.status != "Sent" {
					t.Fatalf("right after the poll the row holds %+v, want amount %v (policy %s) and Salesforce's status", r, tc.shown, tc.policy)
				}
				if cs, _ := conflict.List(cb.Ctx, cb.Pool, conflict.Filter{ConnectionID: cb.Conn.ID}); len(cs) != 0 {
					t.Fatalf("a conflict recorded before the writer judged the change: %+v", cs)
				}
				held.release()
				c := cb.conflicts(1)[0]
				if c.Kind != conflict.UpdateUpdate || c.Outcome != tc.outcome || c.PostgresValues["Amount__c"] != 7.0 || c.SalesforceValues["Amount__c"] != 50.0 {
					t.Fatalf("conflict %+v", c)
				}
				if tc.outcome == conflict.Held {
					cb.Eventually("the change to be held", 10*time.Second, func() (bool, string) {
						return cb.Count("_trigger_log", "state = 'CONFLICT'") == 1, fmt.Sprint(logStates(cb.Harness))
					})
					cycles(cb.Harness, cb.m, cb.tr, 2)
					if r := cb.row(); r.amount != 7 || r.status != "Sent" || r.lastop != "CONFLICT" {
						t.Fatalf("a held change's row: %+v", r)
					}
					if _, err := cb.Admin.Conflicts.Resolve(cb.Ctx, enginetest.Admin, cb.Conn.ID, c.ID, admin.KeepPostgres); err != nil {
						t.Fatal(err)
					}
				}
				cb.settled(tc.shown)
				if n := len(cb.conflicts(1)); n != 1 {
					t.Fatalf("%d conflicts", n)
				}
				if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Status__c"] != "Sent" {
					t.Fatalf("Salesforce's change of another field was lost: %v", sf["Status__c"])
				}
			})
		}
	}
}

// A change Salesforce refused (FAILED, awaiting a retry) is settled by the poll that brings a later
// Salesforce version of its record, by the policy, with its conflict recorded once: kept, its row
// keeps the application's values and a retry sends them; lost, it is set aside and the row takes
// Salesforce's; manual, it is held for an admin.
func TestAPollSettlesAFailedChangeByThePolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		outcome conflict.Outcome
		row     invoiceRow // right after the poll
		state   string     // the failed change's state then
	}{
		{conflict.PostgresWins, conflict.PostgresKept, invoiceRow{7, "Paid", "FAILED"}, "FAILED"}, // written by the retry
		{conflict.SalesforceWins, conflict.SalesforceWon, invoiceRow{50, "Sent", "SYNCED"}, "IGNORED"},
		{conflict.Manual, conflict.Held, invoiceRow{7, "Paid", "CONFLICT"}, "CONFLICT"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			cb := newConflictBench(t, tc.policy, connection.Ordered, polled)
			// Salesforce refuses the status the application writes, until the rule goes.
			if err := cb.Org.SetRules("Invoice__c", sforg.Rule{Condition: "Status__c = 'Paid'", Message: "Not yet.", Field: "Status__c"}); err != nil {
				t.Fatal(err)
			}
			cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7, status__c = 'Paid' WHERE external_id__c = 'C-1'`)
			cb.resume()
			var logID int64
			cb.Eventually("the refused write", 10*time.Second, func() (bool, string) {
				err := cb.Pool.QueryRow(cb.Ctx, `SELECT id FROM `+cb.Schema+`._trigger_log WHERE state = 'FAILED'`).Scan(&logID)
				return err == nil, fmt.Sprint(logStates(cb.Harness))
			})
			cb.nextSecond(time.Now())
			cb.updateSF(map[string]any{"Amount__c": 50, "Status__c": "Sent"})
			cb.Eventually("the poll of Salesforce's version", 10*time.Second, cb.sfStampIn())
			c := cb.conflicts(1)[0]
			if c.Kind != conflict.UpdateUpdate || c.Outcome != tc.outcome || c.TriggerLogID != logID || c.SFID != cb.sfid ||
				c.PostgresValues["Status__c"] != "Paid" || c.SalesforceValues["Status__c"] != "Sent" || c.PostgresValues["Amount__c"] != 7.0 {
				t.Fatalf("conflict %+v", c)
			}
			if r := cb.row(); r != tc.row {
				t.Fatalf("right after the poll the row holds %+v, want %+v", r, tc.row)
			}
			var state string
			_ = cb.Pool.QueryRow(cb.Ctx, `SELECT state FROM `+cb.Schema+`._trigger_log WHERE id = $1`, logID).Scan(&state)
			if state != tc.state {
				t.Fatalf("the failed change is %s, want %s", state, tc.state)
			}
			cycles(cb.Harness, cb.m, cb.tr, 2)
			if r := cb.row(); r != tc.row {
				t.Fatalf("after more polls the row holds %+v, want %+v", r, tc.row)
			}
			if n := len(cb.conflicts(1)); n != 1 {
				t.Fatalf("%d conflicts: judged again", n)
			}
			if err := cb.Org.SetRules("Invoice__c"); err != nil {
				t.Fatal(err)
			}
			switch tc.outcome {
			case conflict.PostgresKept:
				if err := cb.Admin.Writes.Retry(cb.Ctx, enginetest.Admin, cb.Conn.ID, logID); err != nil {
					t.Fatal(err)
				}
				cb.Eventually("the retried write", 10*time.Second, func() (bool, string) {
					rows, _ := cb.Pool.Query(cb.Ctx, `SELECT id, state, action, COALESCE(sf_message, ''), "values"::text FROM `+cb.Schema+`._trigger_log ORDER BY id`)
					var out []string
					for rows.Next() {
						var id int64
						var st, act, msg, vals string
						_ = rows.Scan(&id, &st, &act, &msg, &vals)
						out = append(out, fmt.Sprint(id, st, act, msg, vals))
					}
					rows.Close()
					return logStates(cb.Harness)["FAILED"] == 0 && logStates(cb.Harness)["NEW"] == 0, fmt.Sprint(out)
				})
				cb.settled(7)
				if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Status__c"] != "Paid" {
					t.Fatalf("the retry sent status %v, not the application's", sf["Status__c"])
				}
				if got, _ := conflict.Get(cb.Ctx, cb.Pool, cb.Conn.ID, c.ID); got.Outcome != conflict.PostgresWon {
					t.Fatalf("the retried change was written; its conflict is %s", got.Outcome)
				}
			case conflict.Held:
				if _, err := cb.Admin.Conflicts.Resolve(cb.Ctx, enginetest.Admin, cb.Conn.ID, c.ID, admin.KeepPostgres); err != nil {
					t.Fatal(err)
				}
				cb.settled(7)
				if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Status__c"] != "Paid" {
					t.Fatalf("the kept change sent status %v", sf["Status__c"])
				}
			default:
				cb.settled(50)
			}
			if n := len(cb.conflicts(1)); n != 1 {
				t.Fatalf("%d conflicts", n)
			}
		})
	}
}

// A failed update of a record deleted in Salesforce meanwhile: the delete stands, the row goes with
// the record, and the failed change is set aside (nothing is left to retry), recorded as a conflict.
func TestAPollSetsAsideAFailedUpdateOfARecordDeletedInSalesforce(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.PostgresWins, connection.Ordered, polled)
	cb.Exec(`UPDATE $schema.invoice__c SET amount__c = -5 WHERE external_id__c = 'C-1'`) // refused: negative
	cb.resume()
	cb.Eventually("the refused write", 10*time.Second, func() (bool, string) {
		return logStates(cb.Harness)["FAILED"] == 1, fmt.Sprint(logStates(cb.Harness))
	})
	if err := cb.Org.Delete("Invoice__c", cb.sfid, "test"); err != nil {
		t.Fatal(err)
	}
	c := cb.conflicts(1)[0]
	if c.Kind != conflict.DeletedInSalesforce || c.Outcome != conflict.DeleteStands || c.PostgresValues["Amount__c"] != -5.0 {
		t.Fatalf("conflict %+v", c)
	}
	if n := cb.Count("invoice__c", "external_id__c = 'C-1'"); n != 0 {
		t.Fatal("the row of the deleted record stays")
	}
	if s := logStates(cb.Harness); s["FAILED"] != 0 || s["IGNORED"] != 1 {
		t.Fatalf("states %v", s)
	}
}

// A row deleted in Postgres whose delete is not yet written is not made again by a poll bringing
// Salesforce's later version (postgres_wins: the delete will be sent).
func TestAPollDoesNotBringBackARowWhoseDeleteWaits(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.PostgresWins, connection.Ordered, polled)
	cb.Exec(`DELETE FROM $schema.invoice__c WHERE external_id__c = 'C-1'`)
	cb.nextSecond(time.Now())
	cb.updateSF(map[string]any{"Amount__c": 50})
	held := holdCaptured(cb.Harness)
	cb.resume()
	cycles(cb.Harness, cb.m, cb.tr, 2)
	if n := cb.Count("invoice__c", "sfid = $1", cb.sfid); n != 0 {
		t.Fatal("a poll brought back a row whose delete waits to be written")
	}
	held.release()
	if c := cb.conflicts(1)[0]; c.Kind != conflict.DeletedInPostgres || c.Outcome != conflict.PostgresWon {
		t.Fatalf("conflict %+v", c)
	}
	cb.Eventually("the record to be deleted", 10*time.Second, func() (bool, string) {
		return cb.Org.Record("Invoice__c", cb.sfid) == nil, ""
	})
	cycles(cb.Harness, cb.m, cb.tr, 2)
	if n := cb.Count("invoice__c", "sfid = $1", cb.sfid); n != 0 {
		t.Fatal("the deleted row came back")
	}
}

// An insert not yet written whose row a poll links to the record Salesforce has with its external id
// keeps the values the application inserted when the policy keeps them (postgres_wins: the upsert
// will write them over the record), and takes Salesforce's when Salesforce's version wins.
func TestAPollLinkingAWaitingInsertShowsWhatThePolicyKeeps(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		outcome conflict.Outcome
		amount  float64
		status  string
	}{
		{conflict.PostgresWins, conflict.PostgresWon, 7, "Draft"},
		{conflict.SalesforceWins, conflict.SalesforceWon, 50, "Sent"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			ib := newInsertBench(t, tc.policy, connection.Ordered, polled)
			ib.cb.pause()
			ib.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) VALUES ('X-1', 7, 'Draft')`)
			ib.cb.nextSecond(time.Now())
			// Salesforce changes the record (a field the mapping leaves out): the poll reads it.
			if err := ib.Org.UpdateAsUser("Invoice__c", ib.sfid, map[string]any{"Notes__c": "Touched while the insert waits"}); err != nil {
				t.Fatal(err)
			}
			held := holdCaptured(ib.Harness)
			ib.cb.resume()
			ib.Eventually("the poll to link the row", 10*time.Second, func() (bool, string) {
				sfid, _, _ := ib.row()
				return sfid == ib.sfid, "row linked to " + sfid
			})
			if _, amount, status := ib.row(); amount != tc.amount || status != tc.status {
				t.Fatalf("right after the poll the row holds %v %s, want %v %s", amount, status, tc.amount, tc.status)
			}
			held.release()
			if c := waitConflicts(ib.Harness, 1)[0]; c.Kind != conflict.InsertExisting || c.Outcome != tc.outcome {
				t.Fatalf("conflict %+v", c)
			}
			ib.settled(tc.amount, tc.status)
		})
	}
}
