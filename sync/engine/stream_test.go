package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/conflict"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// newStreamingHarness polls rarely, so only change events can make changes arrive quickly.
func newStreamingHarness(t *testing.T) *enginetest.Harness {
	b := enginetest.New(t, enginetest.Options{Seed: 6, NoStart: true})
	b.Options.PollInterval = time.Hour
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAcceleratedMappingStreamsChangesWithinASecond(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Name", "Industry")
	cfg.SFNotifyEnabled = true
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	// Polls are an hour apart: a change arriving now came by the stream, so the subscription is open
	// before the changes whose latency is measured.
	if _, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Warm-up"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the first streamed change", 20*time.Second, func() (bool, string) {
		return b.Count("account", "name = 'Warm-up'") == 1, ""
	})
	for i := 0; i < 5; i++ {
		id, err := b.Org.CreateAsUser("Account", map[string]any{"Name": fmt.Sprintf("Streamed %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		b.Eventually("the streamed insert", 5*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", id) == 1, "" })
		if took := time.Since(start); took > time.Second {
			t.Errorf("change %d took %v to arrive in accelerated mode", i, took)
		}
	}
	b.Eventually("the replay id stored with the data", 5*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.ReplayID != nil && *m.ReplayID > 0, fmt.Sprint(m.ReplayID)
	})
	// The stream is lost and its events with it: the engine resubscribes and catches up by polling.
	b.Org.DropStreamingClients()
	b.Org.ForgetEventsBefore(1 << 40)
	id, _ := b.Org.CreateAsUser("Account", map[string]any{"Name": "After the gap"})
	b.Eventually("the change made during the gap", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", id) == 1, "" })
}

// acceleratedMapping maps an object in accelerated mode and waits until it is in sync.
func acceleratedMapping(b *enginetest.Harness, object string, fields ...string) mapping.Mapping {
	b.T.Helper()
	cfg := mapping.NewConfig(fields...)
	cfg.SFNotifyEnabled = true
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, object, cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	return m
}

// streaming waits until changes to the object stream in (polls come once an hour): a record created
// now arrives. Changes the stream exists for (gap events) are made after it.
func streaming(b *enginetest.Harness, object string, fields map[string]any) {
	b.T.Helper()
	id, err := b.Org.CreateAsUser(object, fields)
	if err != nil {
		b.T.Fatal(err)
	}
	b.Eventually("a change streamed in", 20*time.Second, func() (bool, string) { return b.Count(strings.ToLower(object), "sfid = $1", id) == 1, "" })
}

// history returns the mapping's events of a kind, oldest first, leaving out which transport it
// streams over (the Pub/Sub API's absence from the test org is noted too).
func history(b *enginetest.Harness, mappingID int64, kind string) []string {
	b.T.Helper()
	rows, err := b.Pool.Query(b.Ctx, `SELECT message FROM events WHERE mapping_id = $1 AND kind = $2 AND message NOT LIKE '%Pub/Sub API%' ORDER BY id`, mappingID, kind)
	if err != nil {
		b.T.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.T.Fatal(err)
	}
	return out
}

// A mapping whose object the org publishes no change events for (not selected for Change Data
// Capture: the subscription is refused) polls instead, says so in its history and on its page, and
// streams once the object is selected; the other accelerated mappings stream all along.
func TestAnObjectWithoutChangeEventsFallsBackToPollingVisibly(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	b.ConnState(connection.Idle)
	b.Org.DeselectForCDC("Lead")
	leads := acceleratedMapping(b, "Lead", "LastName", "Company")
	accounts := acceleratedMapping(b, "Account", "Name")
	b.Eventually("the fallback on the Lead mapping", 20*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, leads.ID)
		return strings.Contains(m.StreamNote, "Salesforce publishes no change events for Lead") &&
			strings.Contains(m.StreamNote, "does not exist {/data/LeadChangeEvent}") && strings.Contains(m.StreamNote, "Change Data Capture"), m.StreamNote
	})
	if h := history(b, leads.ID, "stream"); len(h) != 1 || !strings.HasPrefix(h[0], "Not streaming") {
		t.Fatalf("history: %q", h)
	}
	// The other object streams although one subscription was refused (polls come once an hour).
	id, _ := b.Org.CreateAsUser("Account", map[string]any{"Name": "Streamed beside a refused one"})
	b.Eventually("the streamed account", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", id) == 1, "" })
	if m, _ := b.Admin.Mappings.Get(b.Ctx, accounts.ID); m.StreamNote != "" {
		t.Fatalf("the streaming mapping says %q", m.StreamNote)
	}
	// The admin selects Lead for Change Data Capture: its next try subscribes, and says so.
	if err := b.Org.SelectForCDC("Lead"); err != nil {
		t.Fatal(err)
	}
	b.Eventually("Lead streaming again", 30*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, leads.ID)
		return m.StreamNote == "", m.StreamNote
	})
	if h := history(b, leads.ID, "stream"); len(h) != 2 || h[1] != "Streaming Lead's changes again." {
		t.Fatalf("history: %q", h)
	}
	lead, _ := b.Org.CreateAsUser("Lead", map[string]any{"LastName": "Streamed", "Company": "C"})
	b.Eventually("the streamed lead", 10*time.Second, func() (bool, string) { return b.Count("lead", "sfid = $1", lead) == 1, "" })
}

// A gap event (a change Salesforce made in its database, SystemModstamp unchanged, so no poll can
// find it) makes the engine read the named records by id; a gap delete removes the row.
func TestGapEventsMakeTheEngineReadTheNamedRecords(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	b.ConnState(connection.Idle)
	// Stamped an hour ago: far behind every poll's window.
	old, err := b.Org.CreateCommittedLate("Account", map[string]any{"Name": "Archived", "Rating": "Hot"}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	other, _ := b.Org.CreateCommittedLate("Account", map[string]any{"Name": "Purged"}, time.Now().Add(-time.Hour))
	m := acceleratedMapping(b, "Account", "Name", "Rating")
	b.Eventually("the loaded account", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1 AND rating = 'Hot'", old) == 1, "" })
	streaming(b, "Account", map[string]any{"Name": "Streaming"})
	if _, err := b.Org.Gap(sforg.GapChange{Object: "Account", Type: "UPDATE", IDs: []string{old}, Fields: map[string]any{"Rating": "Cold"}}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the change named by the gap event", 10*time.Second, func() (bool, string) {
		return b.Count("account", "sfid = $1 AND rating = 'Cold'", old) == 1, ""
	})
	if _, err := b.Org.Gap(sforg.GapChange{Object: "Account", Type: "DELETE", IDs: []string{other}}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the row of the record deleted in the database", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", other) == 0, "" })
	b.Eventually("both gap events in the history", 5*time.Second, func() (bool, string) {
		h := history(b, m.ID, "gap")
		return len(h) == 2 && strings.Contains(h[0], "1 updated") && strings.Contains(h[1], "1 deleted"), fmt.Sprint(h)
	})
	b.Eventually("the gap event's replay id stored", 5*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.ReplayID != nil && *m.ReplayID >= b.Org.NewestReplayID()-1, fmt.Sprint(m.ReplayID)
	})
}

// Events of several records (a mass update or delete) and an overflow (more changes in one
// transaction than Salesforce publishes events for) reach every record they cover.
func TestMultiRecordAndOverflowEventsReachEveryRecord(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	b.ConnState(connection.Idle)
	m := acceleratedMapping(b, "Account", "Name", "Rating")
	ids, err := b.Org.CreateManyAsUser("Account", []map[string]any{{"Name": "Mass 1"}, {"Name": "Mass 2"}, {"Name": "Mass 3"}})
	if err != nil {
		t.Fatal(err)
	}
	in := "sfid = ANY($1)"
	b.Eventually("the mass-created accounts", 10*time.Second, func() (bool, string) { return b.Count("account", in, ids) == 3, "" })
	if err := b.Org.UpdateManyAsUser("Account", ids, map[string]any{"Rating": "Warm"}); err != nil { // one event, three records
		t.Fatal(err)
	}
	b.Eventually("the mass update", 10*time.Second, func() (bool, string) { return b.Count("account", in+" AND rating = 'Warm'", ids) == 3, "" })
	if err := b.Org.DeleteManyAsUser("Account", ids); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the mass delete", 10*time.Second, func() (bool, string) { return b.Count("account", in, ids) == 0, "" })

	b.Org.SetOverflowThreshold(2)
	many := make([]map[string]any, 6)
	for i := range many {
		many[i] = map[string]any{"Name": fmt.Sprint("Overflow ", i)}
	}
	ids, err = b.Org.CreateManyAsUser("Account", many)
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("every record of the overflowing transaction", 10*time.Second, func() (bool, string) { return b.Count("account", in, ids) == 6, "" })
	b.Eventually("the overflow in the history", 5*time.Second, func() (bool, string) {
		h := history(b, m.ID, "stream")
		return len(h) == 1 && strings.Contains(h[0], "overflow"), fmt.Sprint(h)
	})
}

// Issue 21 #8: a stored replay id ahead of the org's newest event (a restored org that numbers from
// lower ids) is refused; the engine forgets it, resubscribes for new events, catches up by polling
// and says so in the mapping's history.
func TestAReplayIDAheadOfTheOrgIsForgottenVisibly(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	b.ConnState(connection.Idle)
	m := acceleratedMapping(b, "Contact", "LastName")
	b.Engine.Stop()
	ahead := b.Org.NewestReplayID() + 20_000
	b.Exec(`UPDATE mappings SET replay_id = $1 WHERE id = $2`, ahead, m.ID)
	missed, _ := b.Org.CreateAsUser("Contact", map[string]any{"LastName": "While stopped"})
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the refusal in the history", 20*time.Second, func() (bool, string) {
		h := history(b, m.ID, "stream")
		return len(h) == 1 && strings.Contains(h[0], fmt.Sprintf("The replayId {%d} you provided was invalid", ahead)) && strings.Contains(h[0], "caught up by polling"), fmt.Sprint(h)
	})
	b.Eventually("the change made while stopped", 10*time.Second, func() (bool, string) { return b.Count("contact", "sfid = $1", missed) == 1, "" })
	// A change made before the new subscription is open arrives by the resubscription's poll, without
	// a replay id: change Salesforce once a second until one is streamed and its replay id stored.
	attempts := 0
	b.Eventually("a replay id the org issued, from a change streamed after resubscribing", 30*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		if m.ReplayID != nil {
			return *m.ReplayID <= b.Org.NewestReplayID(), fmt.Sprint(*m.ReplayID, " > newest ", b.Org.NewestReplayID())
		}
		if attempts%50 == 0 {
			if _, err := b.Org.CreateAsUser("Contact", map[string]any{"LastName": fmt.Sprint("Streamed after ", attempts/50)}); err != nil {
				b.T.Fatal(err)
			}
		}
		attempts++
		return false, "none stored"
	})
}

// A poll a change event asked for that fails (Salesforce unavailable for longer than the client
// retries) is tried again after the worker's backoff: the change arrives, although the mapping polls
// only hourly between events and no other event comes.
func TestAStreamedChangeWhosePollFailsArrivesWhenThePollIsRetried(t *testing.T) {
	t.Parallel()
	b := newTransportHarness(t, byCometD)
	m := policyInvoices(b, conflict.PostgresWins, byCometD)
	if err := b.Org.InjectFault(sforg.Fault{Path: "query", Status: 503, Code: "SERVER_UNAVAILABLE", Count: 20}); err != nil {
		t.Fatal(err)
	}
	id, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": "AFTER-FAILURE", "Amount__c": 5})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the poll to fail", 20*time.Second, func() (bool, string) {
		h := history(b, m.ID, "retry")
		return len(h) > 0, "no retry in the history"
	})
	b.Org.ClearFaults()
	b.Eventually("the change whose poll failed", 20*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "sfid = $1", id) == 1, "not there"
	})
}
