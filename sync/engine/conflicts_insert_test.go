package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/admin"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
)

// insertBench is an upsert Invoice__c mapping with a record Salesforce has (External_Id__c X-1,
// Amount__c 50, Status__c Sent) that Postgres does not know: stamped an hour ago, no poll reads it.
type insertBench struct {
	*enginetest.Harness
	cb   *conflictBench // pauses and resumes
	sfid string
}

func newInsertBench(t *testing.T, policy conflict.Policy, algo connection.WriteAlgorithm, tr transport) *insertBench {
	t.Helper()
	b := newTransportHarness(t, tr)
	cb := &conflictBench{Harness: b, m: policyInvoices(b, policy, tr), tr: tr}
	if algo == connection.Merged {
		cb.pause() // the algorithm is changed while paused
		if err := b.Admin.Connections.SetWriteAlgorithm(b.Ctx, enginetest.Admin, b.Conn.ID, connection.Merged); err != nil {
			t.Fatal(err)
		}
		cb.resume()
	}
	sfid, err := b.Org.CreateCommittedLate("Invoice__c", map[string]any{"External_Id__c": "X-1", "Amount__c": 50, "Status__c": "Sent"}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return &insertBench{Harness: b, cb: cb, sfid: sfid}
}

// insert inserts X-1 in Postgres. Streaming, the insert is captured while paused and held back from
// the writer while Salesforce changes the record (a field the mapping leaves out) and the change
// event's poll links the row to the record by its external id, taking Salesforce's values; then the
// captured insert is let go to be judged.
func (ib *insertBench) insert(amount float64, status string) {
	ib.T.Helper()
	const sql = `INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) VALUES ('X-1', $1, $2)`
	if !ib.cb.tr.streams() {
		ib.Exec(sql, amount, status)
		return
	}
	ib.cb.pause()
	ib.Exec(sql, amount, status)
	ib.cb.nextSecond(time.Now())
	ib.cb.meet(func() {
		if err := ib.Org.UpdateAsUser("Invoice__c", ib.sfid, map[string]any{"Notes__c": "Touched while the insert waits"}); err != nil {
			ib.T.Fatal(err)
		}
	}, func() (bool, string) {
		sfid, _, _ := ib.row()
		return sfid == ib.sfid, "row linked to " + sfid
	})
}

// newest is what newest_wins keeps of an insert over X-1: the row, inserted after the record was
// stamped; streaming, Salesforce's record, changed while the insert waited.
func newest(tr transport) (conflict.Outcome, float64, string) {
	if tr.streams() {
		return conflict.SalesforceWon, 50, "Sent"
	}
	return conflict.PostgresWon, 7, "Draft"
}

// row reads the Postgres row of X-1 (exactly one row must hold it).
func (ib *insertBench) row() (sfid string, amount float64, status string) {
	ib.T.Helper()
	if n := ib.Count("invoice__c", "external_id__c = 'X-1'"); n != 1 {
		ib.T.Fatalf("%d rows hold X-1", n)
	}
	_ = ib.Pool.QueryRow(ib.Ctx, `SELECT COALESCE(sfid, ''), amount__c, COALESCE(status__c, '') FROM `+ib.Schema+`.invoice__c WHERE external_id__c = 'X-1'`).
		Scan(&sfid, &amount, &status)
	return sfid, amount, status
}

// settled waits until the record and the row hold amount, the row linked to the record.
func (ib *insertBench) settled(amount float64, status string) {
	ib.T.Helper()
	// Streaming, the row may hold Salesforce's values before the insert is judged: nothing waits then.
	ib.Eventually(fmt.Sprintf("both sides to hold %v, no write waiting", amount), 10*time.Second, func() (bool, string) {
		sfid, pg, st := ib.row()
		sf := ib.Org.Record("Invoice__c", ib.sfid)
		waiting := ib.Count("_trigger_log", "state IN ('NEW', 'PENDING')")
		return sf["Amount__c"] == amount && sf["Status__c"] == status && pg == amount && st == status && sfid == ib.sfid && waiting == 0,
			fmt.Sprintf("row %s %v %s, record %v %v, %d waiting", sfid, pg, st, sf["Amount__c"], sf["Status__c"], waiting)
	})
	if n := ib.Count("_trigger_log", "state = 'FAILED'"); n != 0 {
		ib.T.Fatalf("%d writes failed: %v", n, logStates(ib.Harness))
	}
	// No flip-flop and no echo over more polls.
	captured := ib.Count("_trigger_log", "")
	cycles(ib.Harness, ib.cb.m, ib.cb.tr, 3)
	sfid, pg, st := ib.row()
	if sf := ib.Org.Record("Invoice__c", ib.sfid); sf["Amount__c"] != amount || sf["Status__c"] != status || pg != amount || st != status || sfid != ib.sfid {
		ib.T.Fatalf("after three polls: row %s %v %s, record %v %v", sfid, pg, st, sf["Amount__c"], sf["Status__c"])
	}
	if n := ib.Count("_trigger_log", ""); n != captured {
		ib.T.Fatalf("%d changes captured after both sides settled: an echo", n-captured)
	}
}

func (ib *insertBench) conflicts(n int) []conflict.Conflict { return waitConflicts(ib.Harness, n) }

// An insert whose external id Salesforce already has, with other values: a conflict, decided by
// the policy; one record and one row in the end, linked, holding the winner's values.
func TestInsertWithAnExternalIdSalesforceHasIsAConflict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		algo    connection.WriteAlgorithm
		outcome conflict.Outcome
		amount  float64
		status  string
	}{
		{conflict.PostgresWins, connection.Ordered, conflict.PostgresWon, 7, "Draft"},
		{conflict.PostgresWins, connection.Merged, conflict.PostgresWon, 7, "Draft"},
		{conflict.SalesforceWins, connection.Ordered, conflict.SalesforceWon, 50, "Sent"},
		{conflict.SalesforceWins, connection.Merged, conflict.SalesforceWon, 50, "Sent"},
		{conflict.NewestWins, connection.Ordered, "", 0, ""}, // newest(transport)
		{conflict.NewestWins, connection.Merged, "", 0, ""},
	} {
		for _, tr := range transportsFor(tc.algo, tc.policy == conflict.PostgresWins) {
			t.Run(fmt.Sprintf("%s/%s/%s", tc.policy, tc.algo, tr), func(t *testing.T) {
				t.Parallel()
				tc := tc // the transports' subtests share the case
				if tc.policy == conflict.NewestWins {
					tc.outcome, tc.amount, tc.status = newest(tr)
				}
				ib := newInsertBench(t, tc.policy, tc.algo, tr)
				ib.insert(7, "Draft")
				c := ib.conflicts(1)[0]
				if c.Kind != conflict.InsertExisting || c.Outcome != tc.outcome || c.SFID != ib.sfid || c.SFModifiedBy == "" {
					t.Fatalf("conflict %+v", c)
				}
				if c.PostgresValues["Amount__c"] != 7.0 || c.SalesforceValues["Amount__c"] != 50.0 ||
					c.PostgresValues["Status__c"] != "Draft" || c.SalesforceValues["Status__c"] != "Sent" {
					t.Fatalf("both versions: %+v / %+v", c.PostgresValues, c.SalesforceValues)
				}
				ib.settled(tc.amount, tc.status)
			})
		}
	}
}

func TestInsertWithAnExistingExternalIdHeldForAnAdmin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		side   admin.Side
		amount float64
		status string
	}{
		{admin.KeepPostgres, 7, "Draft"},
		{admin.KeepSalesforce, 50, "Sent"},
	} {
		for _, algo := range []connection.WriteAlgorithm{connection.Ordered, connection.Merged} {
			for _, tr := range transportsFor(algo, tc.side == admin.KeepPostgres) {
				t.Run(fmt.Sprintf("%s/%s/%s", tc.side, algo, tr), func(t *testing.T) {
					t.Parallel()
					ib := newInsertBench(t, conflict.Manual, algo, tr)
					ib.insert(7, "Draft")
					c := ib.conflicts(1)[0]
					if c.Kind != conflict.InsertExisting || c.Outcome != conflict.Held {
						t.Fatalf("conflict %+v", c)
					}
					ib.Eventually("the insert to be held", 10*time.Second, func() (bool, string) {
						return ib.Count("_trigger_log", "state = 'CONFLICT'") == 1, fmt.Sprint(logStates(ib.Harness))
					})
					enginetest.Rounds(t, ib.Signals().WriterRound, "two writer rounds", ib.Signals().WriterRound.Mark(), 2, ib.Conn.ID)
					if sf := ib.Org.Record("Invoice__c", ib.sfid); sf["Amount__c"] != 50.0 {
						t.Fatalf("a held insert was sent: %v", sf["Amount__c"])
					}
					if _, err := ib.Admin.Conflicts.Resolve(ib.Ctx, enginetest.Admin, ib.Conn.ID, c.ID, tc.side); err != nil {
						t.Fatal(err)
					}
					ib.settled(tc.amount, tc.status)
					if cs := ib.conflicts(1); cs[0].Outcome == conflict.Held {
						t.Fatalf("still held: %+v", cs[0])
					}
				})
			}
		}
	}
}

// Salesforce holding the row's very values (an upsert resent after a crash) is no conflict.
func TestInsertMatchingSalesforcesValuesIsNoConflict(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			t.Parallel()
			ib := newInsertBench(t, conflict.Manual, connection.Ordered, tr)
			ib.insert(50, "Sent")
			ib.settled(50, "Sent")
			if cs, _ := conflict.List(ib.Ctx, ib.Pool, conflict.Filter{ConnectionID: ib.Conn.ID}); len(cs) != 0 {
				t.Fatalf("conflicts: %+v", cs)
			}
		})
	}
}

// What the insert pre-check costs: a backlog of inserts carrying an external id (upsert mapping) is
// checked with one query per 300 rows, 25 queries to a call (a /composite batch), beside its write
// calls: 2,000 inserts (one Bulk job) cost one more call.
func TestInsertPreCheckCostsOneCallPer7500Rows(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{PollInterval: time.Hour})
	readWriteInvoices(b, true)
	const n = 2000
	b.ConnState(connection.Idle)
	before := b.Org.APICalls()
	start := time.Now()
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) SELECT 'NEW-' || g, g FROM generate_series(1, 2000) g`)
	b.Eventually("the inserts", 60*time.Second, func() (bool, string) { return logStates(b)["SUCCESS"] == n, fmt.Sprint(logStates(b)) })
	took := time.Since(start)
	calls := map[string]int{}
	for k, v := range b.Org.APICalls() {
		if d := v - before[k]; d != 0 {
			calls[k] = d
		}
	}
	writes := calls["bulk"] + calls["bulkPoll"] + calls["bulkResults"] // 2,000 records go by Bulk
	checks := calls["query"] + calls["queryMore"] + calls["composite"]
	t.Logf("%d upsert inserts in %v (%.0f records/s): %d write calls, %d pre-check queries (%.2f× the calls without detection); %v",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), writes, checks, float64(writes+checks)/float64(writes), calls)
	if writes == 0 || checks != 1 {
		t.Fatalf("%d pre-check calls for %d inserts (%d write calls), want 1", checks, n, writes)
	}
}
