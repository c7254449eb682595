package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// hotAccounts maps Account read-write with the record filter Rating = 'Hot' and a conflict policy.
func hotAccounts(b *enginetest.Harness, policy conflict.Policy, streams bool) mapping.Mapping {
	b.T.Helper()
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Name", "Rating")
	cfg.Access = mapping.ReadWrite
	cfg.SFNotifyEnabled = streams
	cfg.PGForce = &mapping.Extra{RecordFilter: "Rating = 'Hot'", ConflictPolicy: string(policy)}
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	return m
}

// accountName reads the name the Postgres row of a record holds ("" when there is no row).
func accountName(b *enginetest.Harness, sfid string) string {
	b.T.Helper()
	var name string
	_ = b.Pool.QueryRow(b.Ctx, `SELECT name FROM `+b.Schema+`.account WHERE sfid = $1`, sfid).Scan(&name)
	return name
}

// departuresOf counts the mapping's rows listed as kept back from leaving.
func departuresOf(b *enginetest.Harness, m mapping.Mapping) int {
	b.T.Helper()
	var n int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM `+b.AppSchema+`.departures WHERE mapping_id = $1`, m.ID).Scan(&n); err != nil {
		b.T.Fatal(err)
	}
	return n
}

// departureEvents returns the mapping's history lines saying rows stay while changes wait.
func departureEvents(b *enginetest.Harness, m mapping.Mapping) []string {
	b.T.Helper()
	var out []string
	_ = b.Pool.QueryRow(b.Ctx, `SELECT array_agg(message ORDER BY id) FROM events WHERE mapping_id = $1 AND message LIKE '%stay while application changes%'`, m.ID).Scan(&out)
	return out
}

// A record that leaves its mapping's record filter while the application's change of its row is not
// yet written keeps its row until the change is written or set aside (deleted, the writer would skip
// the change and it would vanish unseen), then the row leaves; the history says so. postgres_wins: the
// change reaches Salesforce. salesforce_wins, Salesforce having changed the same field: the change is
// set aside as a recorded conflict, and the row leaves with Salesforce's values.
func TestARecordLeavingTheFilterKeepsItsRowUntilItsWaitingChangeIsWrittenOrSetAside(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		policy conflict.Policy
		sf     map[string]any // Salesforce's change, which takes the record out of the filter
		name   string         // the record's name at the end
	}{
		{conflict.PostgresWins, map[string]any{"Rating": "Cold"}, "From the app"},
		{conflict.SalesforceWins, map[string]any{"Rating": "Cold", "Name": "From Salesforce"}, "From Salesforce"},
	} {
		t.Run(string(tc.policy), func(t *testing.T) {
			t.Parallel()
			b := enginetest.New(t, enginetest.Options{Seed: 2})
			m := hotAccounts(b, tc.policy, false)
			hot, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Hot one", "Rating": "Hot"})
			if err != nil {
				t.Fatal(err)
			}
			b.Eventually("the matching record", 10*time.Second, func() (bool, string) { return accountName(b, hot) == "Hot one", "" })
			cb := &conflictBench{Harness: b, m: m, tr: polled}
			cb.pause()
			// Salesforce stamps whole seconds: its change comes in a later one than the row's version.
			cb.nextSecond(time.Now())
			b.Exec(`UPDATE $schema.account SET name = 'From the app' WHERE sfid = $1`, hot)
			held := holdCaptured(b) // the writer cannot claim the change yet
			if err := b.Org.UpdateAsUser("Account", hot, tc.sf); err != nil {
				t.Fatal(err)
			}
			cb.resume()
			cycles(b, m, polled, 2)
			if got := accountName(b, hot); got != "From the app" {
				t.Fatalf("after the polls that found the record out of the filter the row holds %q, want the application's change kept", got)
			}
			if ev := departureEvents(b, m); len(ev) == 0 {
				t.Fatal("the history does not say the row stays while its change waits")
			}
			held.release()
			b.Eventually("the row to leave once its change is settled", 10*time.Second, func() (bool, string) {
				return b.Count("account", "sfid = $1", hot) == 0, fmt.Sprint(logStates(b), " row ", accountName(b, hot))
			})
			if sf := b.Org.Record("Account", hot); sf == nil || sf["Name"] != tc.name || sf["Rating"] != "Cold" {
				t.Fatalf("Salesforce's record %v, want name %q", sf, tc.name)
			}
			if n := departuresOf(b, m); n != 0 {
				t.Fatalf("%d rows still listed as kept back", n)
			}
			cs, err := conflict.List(b.Ctx, b.Pool, conflict.Filter{ConnectionID: b.Conn.ID})
			if err != nil {
				t.Fatal(err)
			}
			switch tc.policy {
			case conflict.SalesforceWins:
				if len(cs) != 1 || cs[0].Outcome != conflict.SalesforceWon || cs[0].PostgresValues["Name"] != "From the app" || cs[0].SFID != hot {
					t.Fatalf("conflicts %+v, want the set-aside change recorded", cs)
				}
				if s := logStates(b); s["IGNORED"] != 1 {
					t.Fatalf("states %v", s)
				}
			default:
				if len(cs) != 0 {
					t.Fatalf("conflicts %+v: Salesforce changed another field", cs)
				}
				if s := logStates(b); s["SUCCESS"] != 1 || s["IGNORED"] != 0 {
					t.Fatalf("states %v: the change was not written", s)
				}
			}
			cycles(b, m, polled, 2)
			if n := b.Count("account", "sfid = $1", hot); n != 0 {
				t.Fatal("the row came back")
			}
		})
	}
}

// A failed change of a row whose record left the filter keeps the row while it waits for an admin:
// dismissed, nothing of the row waits any more and the next poll removes it.
func TestARowWithAFailedChangeStaysUntilTheFailureIsDismissed(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 2})
	m := hotAccounts(b, conflict.PostgresWins, false)
	hot, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Hot one", "Rating": "Hot"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the matching record", 10*time.Second, func() (bool, string) { return accountName(b, hot) == "Hot one", "" })
	if err := b.Org.SetRules("Account", sforg.Rule{Condition: "Name = 'Refused'", Message: "Not this name.", Field: "Name"}); err != nil {
		t.Fatal(err)
	}
	b.Exec(`UPDATE $schema.account SET name = 'Refused' WHERE sfid = $1`, hot)
	var logID int64
	b.Eventually("the refused write", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT id FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED'`).Scan(&logID)
		return err == nil, fmt.Sprint(logStates(b))
	})
	if err := b.Org.UpdateAsUser("Account", hot, map[string]any{"Rating": "Cold"}); err != nil {
		t.Fatal(err)
	}
	cycles(b, m, polled, 2)
	if got := accountName(b, hot); got != "Refused" {
		t.Fatalf("the row of the failed change holds %q after the record left the filter", got)
	}
	if err := b.Admin.Writes.Ignore(b.Ctx, enginetest.Admin, b.Conn.ID, logID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the row to leave once the failure is dismissed", 10*time.Second, func() (bool, string) {
		return b.Count("account", "sfid = $1", hot) == 0, fmt.Sprint(logStates(b))
	})
	if b.Org.Record("Account", hot) == nil {
		t.Fatal("the record was deleted in Salesforce")
	}
}

// A gap event that takes a record out of the filter while the application's change of its row waits
// keeps the row until the change is written; the write reaches Salesforce, and then the row leaves.
func TestAGapEventLeavesARowWithAWaitingChangeUntilItIsWritten(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	old, err := b.Org.CreateCommittedLate("Account", map[string]any{"Name": "Archived", "Rating": "Hot"}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	m := hotAccounts(b, conflict.PostgresWins, true)
	b.Eventually("the loaded account", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", old) == 1, "" })
	streaming(b, "Account", map[string]any{"Name": "Streaming", "Rating": "Hot"})
	cb := &conflictBench{Harness: b, m: m, tr: byCometD}
	cb.pause()
	b.Exec(`UPDATE $schema.account SET name = 'From the app' WHERE sfid = $1`, old)
	held := holdCaptured(b) // the writer cannot claim the change yet
	cb.resume()
	streaming(b, "Account", map[string]any{"Name": "Streaming again", "Rating": "Hot"}) // subscribed again
	if _, err := b.Org.Gap(sforg.GapChange{Object: "Account", Type: "UPDATE", IDs: []string{old}, Fields: map[string]any{"Rating": "Cold"}}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the gap refresh", 30*time.Second, func() (bool, string) {
		return len(departureEvents(b, m)) > 0, fmt.Sprint(history(b, m.ID, "gap"))
	})
	if got := accountName(b, old); got != "From the app" {
		t.Fatalf("after the gap refresh the row holds %q, want the application's change kept", got)
	}
	held.release()
	b.Eventually("the change to be written", 10*time.Second, func() (bool, string) {
		sf := b.Org.Record("Account", old)
		return sf["Name"] == "From the app", fmt.Sprint(sf["Name"], logStates(b))
	})
	streaming(b, "Account", map[string]any{"Name": "Another", "Rating": "Hot"}) // a poll comes on its event
	b.Eventually("the row to leave", 30*time.Second, func() (bool, string) {
		return b.Count("account", "sfid = $1", old) == 0, fmt.Sprint(logStates(b))
	})
}

// A gap event that deletes a record whose row holds an application's change not yet written: the
// delete stands (the row goes with the record, as for any delete in Salesforce), and the change is
// not lost unseen: the writer records it as a conflict with the application's values.
func TestAGapDeleteOfARecordWithAWaitingChangeIsARecordedConflict(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Name", "Rating")
	cfg.Access, cfg.SFNotifyEnabled = mapping.ReadWrite, true
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	purged, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "To purge", "Rating": "Warm"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the streamed account", 20*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", purged) == 1, "" })
	cb := &conflictBench{Harness: b, m: m, tr: byCometD}
	cb.pause()
	b.Exec(`UPDATE $schema.account SET name = 'From the app' WHERE sfid = $1`, purged)
	held := holdCaptured(b) // the writer cannot claim the change yet
	cb.resume()
	streaming(b, "Account", map[string]any{"Name": "Streaming again"}) // subscribed again
	if _, err := b.Org.Gap(sforg.GapChange{Object: "Account", Type: "DELETE", IDs: []string{purged}}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the row to go with the record", 30*time.Second, func() (bool, string) {
		return b.Count("account", "sfid = $1", purged) == 0, fmt.Sprint(history(b, m.ID, "gap"))
	})
	held.release()
	c := waitConflicts(b, 1)[0]
	if c.Kind != conflict.DeletedInSalesforce || c.Outcome != conflict.DeleteStands || c.PostgresValues["Name"] != "From the app" || c.SFID != purged {
		t.Fatalf("conflict %+v", c)
	}
	if s := logStates(b); s["IGNORED"] != 1 {
		t.Fatalf("states %v", s)
	}
	if n := departuresOf(b, m); n != 0 {
		t.Fatalf("%d rows still listed as kept back", n)
	}
}
