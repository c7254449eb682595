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
// connection paused so a test can change the record on both sides within one sync window; Salesforce's
// changes reach Postgres over its transport.
type conflictBench struct {
	*enginetest.Harness
	m    mapping.Mapping
	sfid string
	tr   transport
}

// policyInvoices maps Invoice__c read-write by its external id with a conflict policy; streaming,
// the mapping is accelerated and streams when it returns.
func policyInvoices(b *enginetest.Harness, policy conflict.Policy, tr transport) mapping.Mapping {
	b.T.Helper()
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Amount__c", "External_Id__c", "Status__c")
	cfg.Access, cfg.UpsertField = mapping.ReadWrite, "External_Id__c"
	cfg.PGForce = &mapping.Extra{ConflictPolicy: string(policy)}
	cfg.SFNotifyEnabled = tr.streams()
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Invoice__c", cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if tr.streams() {
		awaitStreaming(b, m, tr)
	}
	return m
}

func newConflictBench(t *testing.T, policy conflict.Policy, algo connection.WriteAlgorithm, tr transport) *conflictBench {
	t.Helper()
	b := newTransportHarness(t, tr)
	cb := &conflictBench{Harness: b, m: policyInvoices(b, policy, tr), tr: tr}
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
	// pgforce's own write is remembered from when it was recorded, which may be a second later than
	// Salesforce stamped it: Salesforce's changes are made in a later second than both.
	var recorded time.Time
	if err := b.Pool.QueryRow(b.Ctx, `SELECT max(updated_at) FROM `+b.Schema+`._trigger_log WHERE state = 'SUCCESS'`).Scan(&recorded); err != nil {
		t.Fatal(err)
	}
	cb.nextSecond(later(stamp, recorded))
	return cb
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// meet brings the Postgres change captured while paused together with Salesforce's change (sfChange,
// none when nil): polled, Salesforce changes while paused and the connection resumes; streaming, the
// connection resumes with the captured change held back from the writer, Salesforce changes, its
// change event brings the change into Postgres (arrived holds, when given), and only then is the
// captured change let go to be judged.
func (cb *conflictBench) meet(sfChange func(), arrived func() (bool, string)) {
	cb.T.Helper()
	if !cb.tr.streams() {
		if sfChange != nil {
			sfChange()
		}
		cb.resume()
		return
	}
	held := holdCaptured(cb.Harness)
	cb.resume()
	if sfChange != nil {
		sfChange()
	}
	streamedIn(cb.Harness, cb.m, cb.tr, arrived)
	if n := cb.Count("_trigger_log", "state = 'NEW'"); n == 0 {
		cb.T.Fatal("the captured change did not wait for Salesforce's")
	}
	held.release()
}

// sfStampIn is an arrival condition: the row of C-1 holds Salesforce's latest SystemModstamp of the
// record (a poll applied its latest version, keeping what the policy keeps of a change waiting).
func (cb *conflictBench) sfStampIn() func() (bool, string) {
	return func() (bool, string) {
		stamp, _ := cb.Org.Record("Invoice__c", cb.sfid)["SystemModstamp"].(time.Time)
		var pg time.Time
		_ = cb.Pool.QueryRow(cb.Ctx, `SELECT systemmodstamp FROM `+cb.Schema+`.invoice__c WHERE sfid = $1`, cb.sfid).Scan(&pg)
		return !stamp.IsZero() && !pg.Before(stamp.Truncate(time.Second)), fmt.Sprintf("pg %v sf %v", pg, stamp)
	}
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
	cycles(cb.Harness, cb.m, cb.tr, 3)
	pg, _ := cb.pgAmount()
	if sf := cb.Org.Record("Invoice__c", cb.sfid); sf["Amount__c"] != amount || pg != amount {
		cb.T.Fatalf("after three polls (%s): pg %v sf %v, want %v on both sides", cb.tr, pg, sf["Amount__c"], amount)
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
		{conflict.NewestWins, connection.Merged, conflict.SalesforceWon, 50},
	} {
		for _, tr := range transportsFor(tc.algo, tc.policy == conflict.PostgresWins) {
			t.Run(fmt.Sprintf("%s/%s/%s", tc.policy, tc.algo, tr), func(t *testing.T) {
				t.Parallel()
				cb := newConflictBench(t, tc.policy, tc.algo, tr)
				cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
				cb.nextSecond(time.Now())
				cb.meet(func() { cb.updateSF(map[string]any{"Amount__c": 50, "Status__c": "Sent"}) }, cb.sfStampIn())
				if pg, _ := cb.pgAmount(); tr.streams() && pg != tc.final {
					t.Fatalf("the streamed version's poll left amount %v in the row; the policy keeps %v", pg, tc.final)
				}
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
				if n := cb.Count("invoice__c", "external_id__c = 'C-1' AND status__c = 'Sent'"); n != 1 {
					t.Fatalf("Salesforce's change of another field did not reach Postgres")
				}
			})
		}
	}
}

func TestNewestWinsKeepsAPostgresChangeMadeAfterSalesforces(t *testing.T) {
	t.Parallel()
	for _, algo := range []connection.WriteAlgorithm{connection.Ordered, connection.Merged} {
		for _, tr := range transportsFor(algo, true) {
			t.Run(fmt.Sprintf("%s/%s", algo, tr), func(t *testing.T) {
				t.Parallel()
				cb := newConflictBench(t, conflict.NewestWins, algo, tr)
				cb.updateSF(map[string]any{"Amount__c": 50})
				cb.nextSecond(time.Now())
				cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
				cb.meet(nil, cb.sfStampIn())
				if c := cb.conflicts(1)[0]; c.Outcome != conflict.PostgresWon {
					t.Fatalf("conflict %+v", c)
				}
				cb.settled(7)
			})
		}
	}
}

func TestChangesOnOneSideOnlyAreNoConflict(t *testing.T) {
	t.Parallel()
	for _, tr := range transports {
		t.Run(string(tr), func(t *testing.T) {
			t.Parallel()
			cb := newConflictBench(t, conflict.SalesforceWins, connection.Ordered, tr)
			cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
			cb.meet(func() { cb.updateSF(map[string]any{"Status__c": "Sent"}) }, nil) // another field
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
		})
	}
}

// The case: pause, delete the record in Salesforce, update its row in Postgres, resume. The
// delete stands whatever the policy, and the discarded update is listed as a conflict with both
// versions, every time (20 times over in the setting, 3 times with streaming).
func TestDeletedInSalesforceUpdatedInPostgresIsListedEveryTime(t *testing.T) {
	t.Parallel()
	for _, policy := range []conflict.Policy{conflict.PostgresWins, conflict.SalesforceWins, conflict.NewestWins, conflict.Manual} {
		for _, algo := range []connection.WriteAlgorithm{connection.Ordered, connection.Merged} {
			for _, tr := range transportsFor(algo, policy == conflict.PostgresWins) {
				rounds := 1 // the policy does not decide a delete in Salesforce: once is enough for the others
				switch {
				case policy == conflict.PostgresWins && algo == connection.Ordered && tr == polled:
					rounds = 20 // the setting
				case policy == conflict.PostgresWins && algo == connection.Ordered:
					rounds = 3
				}
				t.Run(fmt.Sprintf("%s/%s/%s", policy, algo, tr), func(t *testing.T) {
					t.Parallel()
					deletedInSalesforceUpdatedInPostgres(t, newConflictBench(t, policy, algo, tr), policy, rounds)
				})
			}
		}
	}
}

func deletedInSalesforceUpdatedInPostgres(t *testing.T, cb *conflictBench, policy conflict.Policy, rounds int) {
	for i := range rounds {
		if i > 0 {
			cb.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) VALUES ('C-1', 1, 'Draft')`)
			cb.Eventually("the new record", 10*time.Second, func() (bool, string) {
				err := cb.Pool.QueryRow(cb.Ctx, `SELECT sfid FROM `+cb.Schema+`.invoice__c WHERE external_id__c = 'C-1' AND sfid IS NOT NULL`).Scan(&cb.sfid)
				return err == nil, fmt.Sprint(err)
			})
			cb.pause()
		}
		cb.Exec(`UPDATE $schema.invoice__c SET amount__c = $1 WHERE external_id__c = 'C-1'`, 100+i)
		cb.meet(func() {
			if err := cb.Org.Delete("Invoice__c", cb.sfid, "test"); err != nil {
				t.Fatal(err)
			}
		}, func() (bool, string) {
			return cb.Count("invoice__c", "external_id__c = 'C-1'") == 0, "the row is there"
		})
		cs := cb.conflicts(i + 1)
		c := cs[0]
		if c.Kind != conflict.DeletedInSalesforce || c.Outcome != conflict.DeleteStands || c.Policy != policy || c.SFID != cb.sfid || c.PostgresValues["Amount__c"] != float64(100+i) {
			t.Fatalf("round %d: conflict %+v", i, c)
		}
		cb.Eventually("the row to go", 10*time.Second, func() (bool, string) {
			return cb.Count("invoice__c", "external_id__c = 'C-1'") == 0, ""
		})
		if cb.Org.Record("Invoice__c", cb.sfid) != nil {
			t.Fatalf("round %d: the deleted record came back", i)
		}
	}
	cycles(cb.Harness, cb.m, cb.tr, 3)
	if n := cb.Count("invoice__c", "external_id__c = 'C-1'"); n != 0 {
		t.Fatalf("the row came back")
	}
	if n := cb.Count("_trigger_log", "state = 'FAILED'"); n != 0 {
		t.Fatalf("%d FAILED writes: a conflict is not a failure", n)
	}
	if cs := waitConflicts(cb.Harness, rounds); len(cs) != rounds {
		t.Fatalf("%d conflicts after more polls, want %d", len(cs), rounds)
	}
}

// Deleted in Postgres while updated in Salesforce: the policy decides whether the delete reaches
// Salesforce (the record and the row are gone) or Salesforce's version comes back as the row; manual
// holds the delete until an admin keeps one side.
func TestDeletedInPostgresUpdatedInSalesforce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy  conflict.Policy
		outcome conflict.Outcome
		keep    admin.Side // manual: the side the admin keeps
		kept    bool       // the record and the row are there at the end
	}{
		{conflict.PostgresWins, conflict.PostgresWon, "", false},
		{conflict.SalesforceWins, conflict.SalesforceWon, "", true},
		{conflict.NewestWins, conflict.SalesforceWon, "", true}, // Salesforce changed last
		{conflict.Manual, conflict.Held, admin.KeepPostgres, false},
		{conflict.Manual, conflict.Held, admin.KeepSalesforce, true},
	} {
		for _, algo := range []connection.WriteAlgorithm{connection.Ordered, connection.Merged} {
			for _, tr := range transportsFor(algo, tc.policy == conflict.PostgresWins) {
				t.Run(fmt.Sprintf("%s%s/%s/%s", tc.policy, tc.keep, algo, tr), func(t *testing.T) {
					t.Parallel()
					cb := newConflictBench(t, tc.policy, algo, tr)
					cb.Exec(`DELETE FROM $schema.invoice__c WHERE external_id__c = 'C-1'`)
					cb.nextSecond(time.Now())
					cb.meet(func() { cb.updateSF(map[string]any{"Amount__c": 50}) }, nil)
					c := cb.conflicts(1)[0]
					if c.Kind != conflict.DeletedInPostgres || c.Outcome != tc.outcome || c.Policy != tc.policy || c.SFID != cb.sfid || c.SFModifiedBy == "" {
						t.Fatalf("conflict %+v", c)
					}
					if tc.keep != "" {
						cb.Eventually("the delete to be held", 10*time.Second, func() (bool, string) {
							return cb.Count("_trigger_log", "state = 'CONFLICT'") == 1, fmt.Sprint(logStates(cb.Harness))
						})
						if cb.Org.Record("Invoice__c", cb.sfid) == nil {
							t.Fatal("a held delete was sent")
						}
						if _, err := cb.Admin.Conflicts.Resolve(cb.Ctx, enginetest.Admin, cb.Conn.ID, c.ID, tc.keep); err != nil {
							t.Fatal(err)
						}
					}
					if !tc.kept {
						cb.Eventually("the record and the row to be deleted", 10*time.Second, func() (bool, string) {
							return cb.Org.Record("Invoice__c", cb.sfid) == nil && cb.Count("invoice__c", "sfid = $1", cb.sfid) == 0, ""
						})
						cycles(cb.Harness, cb.m, cb.tr, 3)
						if cb.Org.Record("Invoice__c", cb.sfid) != nil || cb.Count("invoice__c", "sfid = $1", cb.sfid) != 0 {
							t.Fatal("the deleted record or its row came back")
						}
						return
					}
					cb.settled(50)
				})
			}
		}
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
		for _, algo := range []connection.WriteAlgorithm{connection.Ordered, connection.Merged} {
			for _, tr := range transportsFor(algo, tc.side == admin.KeepPostgres) {
				t.Run(fmt.Sprintf("%s/%s/%s", tc.side, algo, tr), func(t *testing.T) {
					t.Parallel()
					cb := newConflictBench(t, conflict.Manual, algo, tr)
					cb.Exec(`UPDATE $schema.invoice__c SET amount__c = 7 WHERE external_id__c = 'C-1'`)
					cb.nextSecond(time.Now())
					cb.meet(func() { cb.updateSF(map[string]any{"Amount__c": 50}) }, cb.sfStampIn())
					c := cb.conflicts(1)[0]
					if c.Kind != conflict.UpdateUpdate || c.Outcome != conflict.Held || c.ResolvedAt != nil ||
						c.PostgresValues["Amount__c"] != 7.0 || c.SalesforceValues["Amount__c"] != 50.0 {
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
	}
}

// What detection costs: a backlog of updates is checked with one call per batch (2,000 changes, 7
// queries by id in one /composite call) beside its write calls. The connection runs on (no pause, so no recovery poll) and polls hourly, so
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
	writes := (n + 199) / 200 // collections of 200, counted with the pre-check's /composite call
	checks := calls["composite"] + calls["bulk"] + calls["bulkPoll"] + calls["bulkResults"] + calls["query"] + calls["queryMore"] - writes
	t.Logf("%d updates in %v (%.0f records/s): %d write calls, %d pre-check queries (%.2f× the calls without detection); %v",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), writes, checks, float64(writes+checks)/float64(writes), calls)
	if checks != 1 {
		t.Fatalf("%d pre-check calls for one batch of %d updates, want 1", checks, n)
	}
}
