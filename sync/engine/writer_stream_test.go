package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// readWriteAmounts maps Invoice__c read-write without a parent lookup, so a batch's calls go out
// several at a time.
func readWriteAmounts(b *enginetest.Harness) mapping.Mapping {
	b.T.Helper()
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Amount__c", "Status__c")
	cfg.Access = mapping.ReadWrite
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Invoice__c", cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	return m
}

// queueWhilePaused pauses the connection and runs the statements, so they wait as one backlog.
func queueWhilePaused(b *enginetest.Harness, sqls ...string) {
	b.T.Helper()
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		b.T.Fatal(err)
	}
	b.ConnState(connection.Paused)
	for _, sql := range sqls {
		b.Exec(sql)
	}
}

func resume(b *enginetest.Harness) {
	b.T.Helper()
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		b.T.Fatal(err)
	}
}

// While a batch's calls are in flight the writer claims the batch after it; pausing then stops
// after the batch in flight: the one claimed ahead goes back to the queue unsent, in order.
func TestTheBatchClaimedWhileOneIsInFlightGoesBackUnsentWhenTheConnectionPauses(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	readWriteAmounts(b)
	before := b.Org.Count("Invoice__c")
	queueWhilePaused(b, `INSERT INTO $schema.invoice__c (amount__c, status__c) SELECT g, 'Draft' FROM generate_series(1, 4000) g`)
	// The first batch's ten calls take 4 s each: long enough to pause while they are in flight.
	if err := b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects", Latency: 4 * time.Second, Count: 10}); err != nil {
		t.Fatal(err)
	}
	resume(b)
	b.Eventually("the second batch claimed while the first is in flight", 20*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["PENDING"] == 4000, fmt.Sprint(s)
	})
	if got := b.Org.Count("Invoice__c"); got >= before+2000 {
		t.Fatalf("%d records created before the first batch was answered", got-before)
	}
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Paused)
	if s := logStates(b); s["SUCCESS"] != 2000 || s["NEW"] != 2000 || s["PENDING"] != 0 {
		t.Fatalf("after pausing with a batch in flight and one claimed ahead: %v, want 2000 SUCCESS and 2000 NEW", s)
	}
	if got := b.Org.Count("Invoice__c"); got != before+2000 {
		t.Fatalf("%d records created, want the 2000 of the batch in flight", got-before)
	}
	var lastWritten, firstWaiting int64
	if err := b.Pool.QueryRow(b.Ctx, `SELECT max(id) FILTER (WHERE state = 'SUCCESS'), min(id) FILTER (WHERE state = 'NEW') FROM `+b.Schema+`._trigger_log`).Scan(&lastWritten, &firstWaiting); err != nil {
		t.Fatal(err)
	}
	if firstWaiting < lastWritten {
		t.Fatalf("change %d waits while the later change %d was written: capture order lost", firstWaiting, lastWritten)
	}
	resume(b)
	b.Eventually("the rest written after resuming", 60*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["SUCCESS"] == 4000, fmt.Sprint(s)
	})
	if got := b.Org.Count("Invoice__c"); got != before+4000 {
		t.Fatalf("%d records created, want 4000", got-before)
	}
}

// A batch that stops on a retriable failure stops the batch claimed behind it too: that one goes
// back unsent, so an update never overtakes its record's insert that goes back to the queue.
func TestARetriableFailureSendsTheBatchClaimedBehindItBackUnsent(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	readWriteAmounts(b)
	seeded := b.Org.Records("Invoice__c")
	// 2,000 inserts (one batch), then an update of each (the next batch, claimed while the inserts
	// are in flight).
	queueWhilePaused(b,
		`INSERT INTO $schema.invoice__c (amount__c, status__c) SELECT g, 'Draft' FROM generate_series(1, 2000) g`,
		`UPDATE $schema.invoice__c SET amount__c = amount__c + 0.5 WHERE sfid IS NULL`)
	// Nine of the inserts' ten calls pass slowly (the updates are claimed meanwhile); the other
	// fails every attempt the client makes, so its 200 inserts go back to the queue.
	if err := b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects", Status: 503, Code: "SERVER_UNAVAILABLE", Message: "Server unavailable", Count: 4}); err != nil {
		t.Fatal(err)
	}
	if err := b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects", Latency: 2 * time.Second, Count: 9}); err != nil {
		t.Fatal(err)
	}
	resume(b)
	b.Eventually("every change written", 60*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["NEW"]+s["PENDING"] == 0, fmt.Sprint(s)
	})
	if s := logStates(b); s["FAILED"] != 0 || s["SUCCESS"] != 4000 {
		t.Fatalf("trigger log: %v, want 4000 SUCCESS", s)
	}
	if len(b.Org.Faults()) != 0 {
		t.Fatalf("faults left unused: %+v: the test did not fail a call", b.Org.Faults())
	}
	updated := 0
	for id, rec := range b.Org.Records("Invoice__c") {
		if a, ok := rec["Amount__c"].(float64); ok && seeded[id] == nil && a != float64(int(a)) {
			updated++
		}
	}
	if updated != 2000 {
		t.Fatalf("%d of 2000 updates reached Salesforce", updated)
	}
}

// Polls go on while a long backlog drains: a poll waiting for a table lock the overlapping batches
// keep held gets it within about a second, not once the backlog is written.
func TestPollsGoOnWhileALongBacklogIsWritten(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	readWriteAmounts(b)
	queueWhilePaused(b, `INSERT INTO $schema.invoice__c (amount__c, status__c) SELECT g, 'Draft' FROM generate_series(1, 20000) g`)
	// Every write call takes 800 ms: ten batches take 8 s at least.
	if err := b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects", Latency: 800 * time.Millisecond, Count: -1}); err != nil {
		t.Fatal(err)
	}
	resume(b)
	b.Eventually("the backlog being written", 30*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["SUCCESS"] >= 2000, fmt.Sprint(s)
	})
	sfID, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"Amount__c": 7})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the record made in Salesforce polled", 30*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "sfid = $1", sfID) == 1, fmt.Sprint(logStates(b))
	})
	if s := logStates(b); s["NEW"] == 0 {
		t.Fatalf("the backlog was written before the poll applied: %v", s)
	}
	b.Org.ClearFaults()
	b.Eventually("the backlog written", 60*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["SUCCESS"] == 20000, fmt.Sprint(s)
	})
}
