package engine_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"pgforce/sync/admin"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
)

// conflictBench is a read-write Invoice__c mapping with one record synced both ways, and the
// connection paused so a test can change the record on both sides within one sync window.
type conflictBench struct {
	*enginetest.Harness
	m    mapping.Mapping
	sfid string
}

// policyInvoices maps Invoice__c read-write by its external id with a conflict policy.
func policyInvoices(b *enginetest.Harness, policy conflict.Policy) mapping.Mapping {
	b.T.Helper()
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Amount__c", "External_Id__c", "Status__c")
	cfg.Access, cfg.UpsertField = mapping.ReadWrite, "External_Id__c"
	cfg.PGForce = &mapping.Extra{ConflictPolicy: string(policy)}
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Invoice__c", cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	return m
}

func newConflictBench(t *testing.T, policy conflict.Policy, algo connection.WriteAlgorithm) *conflictBench {
	t.Helper()
	b := enginetest.New(t, enginetest.Options{})
	cb := &conflictBench{Harness: b, m: policyInvoices(b, policy)}
	cb.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) VALUES ('C-1', 1, 'Draft')`)
	var stamp time.Time
	b.Eventually("the record to be written and polled back", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT COALESCE(sfid, ''), systemmodstamp FROM `+b.Schema+`.invoice__c WHERE external_id__c = 'C-1' AND systemmodstamp IS NOT NULL`).Scan(&cb.sfid, &stamp)
		return err == nil && cb.sfid != "", fmt.Sprint(err)
	})
	cb.pause()
	if algo == connection.Merged {
		if err := b.Admin.Connections.SetWriteAlgorithm(b.Ctx, enginetest.Admin, b.Conn.ID, connection.Merged); err != nil {
			t.Fatal(err)
		}
	}
	cb.nextSecond(stamp)
	return cb
}

// nextSecond waits until the clock is in a later whole second than t: Salesforce stamps whole
// seconds, and a change in the same second as the last one cannot be told from it.
func (cb *conflictBench) nextSecond(t time.Time) {
	cb.Eventually("the next second", 3*time.Second, func() (bool, string) {
		return time.Now().UTC().Truncate(time.Second).After(t.UTC()), ""
	})
}

func (cb *conflictBench) updateSF(fields map[string]any) {
	cb.T.Helper()
	body := map[string]json.RawMessage{}
	for k, v := range fields {
		body[k], _ = json.Marshal(v)
	}
	if err := cb.Org.Update("Invoice__c", cb.sfid, body, "test"); err != nil {
		cb.T.Fatal(err)
	}
}

// pause pauses the connection; a pause is refused while a write is in flight, so it is tried until
// the writer is between rounds.
func (cb *conflictBench) pause() {
	cb.T.Helper()
	cb.Eventually("the pause", 10*time.Second, func() (bool, string) {
		err := cb.Admin.Connections.Pause(cb.Ctx, enginetest.Admin, cb.Conn.ID)
		return err == nil, fmt.Sprint(err)
	})
	cb.ConnState(connection.Paused)
}

func (cb *conflictBench) resume() {
	cb.T.Helper()
	if err := cb.Admin.Connections.Resume(cb.Ctx, enginetest.Admin, cb.Conn.ID); err != nil {
		cb.T.Fatal(err)
	}
}

// conflicts waits for n conflicts of the connection and returns them.
func (cb *conflictBench) conflicts(n int) []conflict.Conflict { return waitConflicts(cb.Harness, n) }

// waitConflicts waits for n conflicts of the harness's connection and returns them.
func waitConflicts(b *enginetest.Harness, n int) []conflict.Conflict {
	b.T.Helper()
	var cs []conflict.Conflict
	b.Eventually(fmt.Sprintf("%d conflicts", n), 10*time.Second, func() (bool, string) {
		var err error
		cs, err = conflict.List(b.Ctx, b.Pool, conflict.Filter{ConnectionID: b.Conn.ID})
		return err == nil && len(cs) >= n, fmt.Sprint(len(cs), err, logStates(b))
	})
	if len(cs) != n {
		b.T.Fatalf("%d conflicts, want %d: %+v", len(cs), n, cs)
	}
	return cs
}

func (cb *conflictBench) pgAmount() (float64, bool) {
	var amount float64
	err := cb.Pool.QueryRow(cb.Ctx, `SELECT amount__c FROM `+cb.Schema+`.invoice__c WHERE external_id__c = 'C-1'`).Scan(&amount)
	return amount, err == nil
}

// settled waits until both sides hold amount (Salesforce's record, the Postgres row), then checks
// that they still do after three more polls and that nothing more was captured: no flip-flop, no echo.
func (cb *conflictBench) settled(amount float64) {
	cb.T.Helper()
	cb.Eventually(fmt.Sprintf("both sides to hold %v", amount), 10*time.Second, func() (bool, string) {
		pg, _ := cb.pgAmount()
		sf := cb.Org.Record("Invoice__c", cb.sfid)
		return sf != nil && sf["Amount__c"] == amount && pg == amount, fmt.Sprintf("pg %v sf %v", pg, sf)
	})
	captured := cb.Count("_trigger_log", "")
	enginetest.Rounds(cb.T, cb.Signals().PollDone, "three more polls", cb.Signals().PollDone.Mark(), 3, cb.m.ID)
	pg, _ := cb.pgAmount()
	if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Amount__c"] != amount || pg != amount {
		cb.T.Fatalf("after three polls: pg %v sf %v, want %v on both sides", pg, sf["Amount__c"], amount)
	}
	if n := cb.Count("_trigger_log", ""); n != captured {
		cb.T.Fatalf("%d changes captured after both sides settled: an echo", n-captured)
	}
}

func TestUpdatedOnBothSidesIsAConflictResolvedByPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		algo    connection.WriteAlgorithm
		outcome conflict.Outcome
		final   float64
	}{
		{conflict.PostgresWins, connection.Ordered, conflict.PostgresWon, 7},
		{conflict.PostgresWins, connection.Merged, conflict.PostgresWon, 7},
		{conflict.SalesforceWins, connection.Ordered, conflict.SalesforceWon, 50},
		{conflict.SalesforceWins, connection.Merged, conflict.SalesforceWon, 50},
		{conflict.NewestWins, connection.Ordered, conflict.SalesforceWon, 50}, // Salesforce changed last
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.policy, tc.algo), func(t *testing.T) {
			t.Parallel()
			cb := newConflictBench(t, tc.policy, tc.algo)
			cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
			cb.nextSecond(time.Now())
			cb.updateSF(map[string]any{"Amount__c": 50, "Status__c": "Sent"})
			cb.resume()
			cs := cb.conflicts(1)
			c := cs[0]
			if c.Kind != conflict.UpdateUpdate || c.Outcome != tc.outcome || c.Policy != tc.policy || c.SFID != cb.sfid {
				t.Fatalf("conflict %+v", c)
			}
			if c.PostgresValues["Amount__c"] != 7.0 || c.SalesforceValues["Amount__c"] != 50.0 || c.SFModifiedBy == "" || c.ResolvedBy != "policy" {
				t.Fatalf("both versions, who and how: %+v", c)
			}
			if _, other := c.SalesforceValues["Status__c"]; other {
				t.Fatalf("a field only Salesforce changed is listed: %+v", c.SalesforceValues)
			}
			cb.settled(tc.final)
			if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Status__c"] != "Sent" {
				t.Fatalf("Salesforce's change of another field was lost: %v", sf["Status__c"])
			}
		})
	}
}

func TestNewestWinsKeepsAPostgresChangeMadeAfterSalesforces(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.NewestWins, connection.Ordered)
	cb.updateSF(map[string]any{"Amount__c": 50})
	cb.nextSecond(time.Now())
	cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
	cb.resume()
	if c := cb.conflicts(1)[0]; c.Outcome != conflict.PostgresWon {
		t.Fatalf("conflict %+v", c)
	}
	cb.settled(7)
}

func TestChangesOnOneSideOnlyAreNoConflict(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.SalesforceWins, connection.Ordered)
	cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
	cb.updateSF(map[string]any{"Status__c": "Sent"}) // another field
	cb.resume()
	cb.settled(7)
	if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Status__c"] != "Sent" {
		t.Fatalf("Status__c %v", sf["Status__c"])
	}
	// Two updates of one row in a row: the first write moves the stamp, the second is no conflict.
	cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 8 WHERE external_id__c = 'C-1'`)
	cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 9 WHERE external_id__c = 'C-1'`)
	cb.settled(9)
	if cs, _ := conflict.List(cb.Ctx, cb.Pool, conflict.Filter{ConnectionID: cb.Conn.ID}); len(cs) != 0 {
		t.Fatalf("conflicts: %+v", cs)
	}
}

// The case: pause, delete the record in Salesforce, update its row in Postgres, resume. The
// delete stands, and the discarded update is listed as a conflict with both versions, every time.
func TestDeletedInSalesforceUpdatedInPostgresIsListedEveryTime(t *testing.T) {
	t.Parallel()
	cb := newConflictBench(t, conflict.PostgresWins, connection.Ordered)
	for i := range 20 {
		if i > 0 {
			cb.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) VALUES ('C-1', 1, 'Draft')`)
			cb.Eventually("the new record", 10*time.Second, func() (bool, string) {
				err := cb.Pool.QueryRow(cb.Ctx, `SELECT sfid FROM `+cb.Schema+`.invoice__c WHERE external_id__c = 'C-1' AND sfid IS NOT NULL`).Scan(&cb.sfid)
				return err == nil, fmt.Sprint(err)
			})
			cb.pause()
		}
		if err := cb.Org.Delete("Invoice__c", cb.sfid, "test"); err != nil {
			t.Fatal(err)
		}
		cb.Exec(`UPDATE $schema.invoice__c SET amount__c = $1 WHERE external_id__c = 'C-1'`, 100+i)
		cb.resume()
		cs := cb.conflicts(i + 1)
		c := cs[0]
		if c.Kind != conflict.DeletedInSalesforce || c.Outcome != conflict.DeleteStands || c.SFID != cb.sfid || c.PostgresValues["Amount__c"] != float64(100+i) {
			t.Fatalf("round %d: conflict %+v", i, c)
		}
		cb.Eventually("the row to go", 10*time.Second, func() (bool, string) {
			return cb.Count("invoice__c", "external_id__c = 'C-1'") == 0, ""
		})
		if cb.Org.Record("Invoice__c", cb.sfid) != nil {
			t.Fatalf("round %d: the deleted record came back", i)
		}
	}
	if n := cb.Count("_trigger_log", "state = 'FAILED'"); n != 0 {
		t.Fatalf("%d FAILED writes: a conflict is not a failure", n)
	}
}

func TestDeletedInPostgresUpdatedInSalesforce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		outcome conflict.Outcome
		kept    bool // the record and the row are there at the end
	}{
		{conflict.PostgresWins, conflict.PostgresWon, false},
		{conflict.SalesforceWins, conflict.SalesforceWon, true},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			cb := newConflictBench(t, tc.policy, connection.Ordered)
			cb.Exec(`DELETE FROM $schema.invoice__c WHERE external_id__c = 'C-1'`)
			cb.nextSecond(time.Now())
			cb.updateSF(map[string]any{"Amount__c": 50})
			cb.resume()
			if c := cb.conflicts(1)[0]; c.Kind != conflict.DeletedInPostgres || c.Outcome != tc.outcome {
				t.Fatalf("conflict %+v", c)
			}
			if !tc.kept {
				cb.Eventually("the record to be deleted", 10*time.Second, func() (bool, string) {
					return cb.Org.Record("Invoice__c", cb.sfid) == nil, ""
				})
				return
			}
			cb.settled(50)
		})
	}
}

func TestManualConflictsWaitForAnAdminToKeepOneSide(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		side  admin.Side
		final float64
		to    conflict.Outcome
	}{
		{admin.KeepPostgres, 7, conflict.KeptPostgres},
		{admin.KeepSalesforce, 50, conflict.KeptSalesforce},
	} {
		t.Run(string(tc.side), func(t *testing.T) {
			t.Parallel()
			cb := newConflictBench(t, conflict.Manual, connection.Ordered)
			cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
			cb.nextSecond(time.Now())
			cb.updateSF(map[string]any{"Amount__c": 50})
			cb.resume()
			c := cb.conflicts(1)[0]
			if c.Outcome != conflict.Held || c.ResolvedAt != nil {
				t.Fatalf("conflict %+v", c)
			}
			cb.Eventually("the change to be held", 10*time.Second, func() (bool, string) {
				return cb.Count("_trigger_log", "state = 'CONFLICT'") == 1, fmt.Sprint(logStates(cb.Harness))
			})
			// Held: nothing is sent while the admin has not chosen.
			enginetest.Rounds(t, cb.Signals().WriterRound, "two writer rounds", cb.Signals().WriterRound.Mark(), 2, cb.Conn.ID)
			if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Amount__c"] != 50.0 {
				t.Fatalf("a held change was sent: %v", sf["Amount__c"])
			}
			got, err := cb.Admin.Conflicts.Resolve(cb.Ctx, enginetest.Admin, cb.Conn.ID, c.ID, tc.side)
			if err != nil || got.Outcome != tc.to || got.ResolvedBy != enginetest.Admin.Name {
				t.Fatalf("resolve: %+v %v", got, err)
			}
			if _, err := cb.Admin.Conflicts.Resolve(cb.Ctx, enginetest.Admin, cb.Conn.ID, c.ID, tc.side); !failure.Is(err, failure.Conflict) {
				t.Fatalf("resolving twice: %v", err)
			}
			var audited int
			_ = cb.Pool.QueryRow(cb.Ctx, `SELECT count(*) FROM audit_log WHERE action = 'conflict.resolve' AND actor = $1 AND detail = $2`,
				enginetest.Admin.Name, "kept "+string(tc.side)).Scan(&audited)
			if audited != 1 {
				t.Fatalf("%d audit rows for the resolution", audited)
			}
			cb.settled(tc.final)
			if cs := cb.conflicts(1); cs[0].Outcome != tc.to {
				t.Fatalf("the kept change was judged again: %+v", cs)
			}
		})
	}
}

// What detection costs: a backlog of updates is checked with one query per batch (2,000 changes)
// beside its write calls. The connection runs on (no pause, so no recovery poll) and polls hourly, so
// the only queries are the pre-check's.
func TestConflictDetectionCostsOneQueryPerBatchOfUpdates(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{PollInterval: time.Hour})
	readWriteInvoices(b, true)
	const n = 2000
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) SELECT 'SEED-' || g, g FROM generate_series(1, 2000) g`)
	b.Eventually("the seed rows", 30*time.Second, func() (bool, string) { return logStates(b)["SUCCESS"] == n, fmt.Sprint(logStates(b)) })
	b.ConnState(connection.Idle)
	written := time.Now()
	b.Eventually("a later second", 3*time.Second, func() (bool, string) {
		return time.Now().Truncate(time.Second).After(written), ""
	})
	before := b.Org.APICalls()
	start := time.Now()
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = amount__c + 1`)
	b.Eventually("the updates", 60*time.Second, func() (bool, string) {
		return logStates(b)["SUCCESS"] == 2*n, fmt.Sprint(logStates(b))
	})
	took := time.Since(start)
	calls := map[string]int{}
	for k, v := range b.Org.APICalls() {
		if d := v - before[k]; d != 0 {
			calls[k] = d
		}
	}
	writes := calls["composite"] + calls["bulk"] + calls["bulkPoll"] + calls["bulkResults"]
	checks := calls["query"] + calls["queryMore"]
	t.Logf("%d updates in %v (%.0f records/s): %d write calls, %d pre-check queries (%.2f× the calls without detection); %v",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), writes, checks, float64(writes+checks)/float64(writes), calls)
	if checks != 1 {
		t.Fatalf("%d pre-check queries for one batch of %d updates, want 1", checks, n)
	}
}
