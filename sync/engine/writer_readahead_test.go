package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/salesforce/sforg"
)

// twoBatchesOfUpdates writes 2,150 Invoice__c rows to Salesforce, then queues, while paused, an
// update of each (the first 2,000 are one batch, the other 150 the next) and a second update of the
// first row, which goes with the second batch: that record is written by both. It returns the
// sfids of the first row (in both batches) and of a row of the second batch only.
func twoBatchesOfUpdates(b *enginetest.Harness) (both, second string) {
	b.T.Helper()
	readWriteAmounts(b)
	b.Exec(`INSERT INTO $schema.invoice__c (amount__c, status__c) SELECT 1000000 + g, 'Draft' FROM generate_series(1, 2150) g`)
	b.Eventually("the rows written to Salesforce", 60*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "amount__c > 1000000 AND sfid IS NOT NULL") == 2150, fmt.Sprint(logStates(b))
	})
	for amount, id := range map[int]*string{1000001: &both, 1002100: &second} {
		if err := b.Pool.QueryRow(b.Ctx, `SELECT sfid FROM `+b.Schema+`.invoice__c WHERE amount__c = $1`, amount).Scan(id); err != nil {
			b.T.Fatal(err)
		}
	}
	queueWhilePaused(b,
		`UPDATE $schema.invoice__c SET amount__c = amount__c + 0.5 WHERE amount__c > 1000000 AND amount__c <= 1002000`,
		`UPDATE $schema.invoice__c SET amount__c = amount__c + 0.5 WHERE amount__c >= 1002001`,
		`UPDATE $schema.invoice__c SET status__c = 'Paid' WHERE amount__c = 1000001.5`)
	// Salesforce stamps whole seconds: a change it makes from now on is later than these captures.
	captured := time.Now()
	b.Eventually("a later second", 3*time.Second, func() (bool, string) {
		return time.Now().Truncate(time.Second).After(captured), ""
	})
	return both, second
}

// awaitWritten waits until nothing waits in the trigger log, every change written.
func awaitWritten(b *enginetest.Harness) {
	b.T.Helper()
	b.Eventually("both batches written", 60*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["NEW"]+s["PENDING"] == 0, fmt.Sprint(s)
	})
	if s := logStates(b); s["SUCCESS"] != 2150+2151 {
		b.T.Fatalf("trigger log %v, want %d SUCCESS", s, 2150+2151)
	}
}

// resumeUntilPreCheckOf resumes the connection and waits until Salesforce was asked for a record
// by id (the conflict pre-check of the batch it is in), which Salesforce answers after delay.
func resumeUntilPreCheckOf(b *enginetest.Harness, sfid string, delay time.Duration) {
	b.T.Helper()
	if err := b.Org.InjectFault(sforg.Fault{SOQL: "Id IN \\(.*'" + sfid + "'", Latency: delay}); err != nil {
		b.T.Fatal(err)
	}
	resume(b)
	b.Eventually("the pre-check of "+sfid, 30*time.Second, func() (bool, string) {
		for _, f := range b.Org.Faults() {
			if f.SOQL != "" {
				return false, fmt.Sprint(logStates(b))
			}
		}
		return true, ""
	})
}

// The pre-check of the batch claimed ahead is read while the batch before it is in flight, and a
// record both batches update is still written in capture order, with no conflict: pgforce's own
// write of it, answered before the second batch is judged, is no conflict whether the read saw the
// record before or after it.
func TestTheNextBatchIsPreCheckedWhileTheOneBeforeItIsInFlight(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1, PollInterval: time.Hour})
	both, second := twoBatchesOfUpdates(b)
	// The first batch's ten write calls take 5 s before Salesforce applies them; the next batch's
	// pre-check, asked meanwhile, reads its records shortly before they are applied (and is fresh
	// when its batch is sent).
	if err := b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects", Latency: 5 * time.Second, Count: 10}); err != nil {
		t.Fatal(err)
	}
	resumeUntilPreCheckOf(b, second, 4800*time.Millisecond)
	if a := b.Org.Record("Invoice__c", both)["Amount__c"]; a != 1000001.0 {
		t.Fatalf("the first batch's update of %s was applied (amount %v) before the next batch was pre-checked: the pre-check waited for it", both, a)
	}
	awaitWritten(b)
	if rec := b.Org.Record("Invoice__c", both); rec["Amount__c"] != 1000001.5 || rec["Status__c"] != "Paid" {
		t.Fatalf("the record both batches update: %v / %v in Salesforce, want 1000001.5 / Paid (its two updates in capture order)", rec["Amount__c"], rec["Status__c"])
	}
	if rec := b.Org.Record("Invoice__c", second); rec["Amount__c"] != 1002100.5 {
		t.Fatalf("the second batch's update of %s: amount %v in Salesforce, want 1002100.5", second, rec["Amount__c"])
	}
	if cs, err := conflict.List(b.Ctx, b.Pool, conflict.Filter{ConnectionID: b.Conn.ID}); err != nil || len(cs) != 0 {
		t.Fatalf("conflicts recorded for records only pgforce changed: %+v %v", cs, err)
	}
}

// A record changed in Salesforce after the batch claimed ahead was pre-checked, while the batch
// before it was slow, is still caught: versions read ahead are used only while fresh, and read
// again before the writes otherwise.
func TestAChangeMadeInSalesforceAfterAReadAheadPreCheckIsStillAConflict(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1, PollInterval: time.Hour})
	_, second := twoBatchesOfUpdates(b)
	// The first batch's write calls take 3 s: its successor's versions, read meanwhile, are old
	// by the time it is sent.
	if err := b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects", Latency: 3 * time.Second, Count: 10}); err != nil {
		t.Fatal(err)
	}
	resumeUntilPreCheckOf(b, second, 0)
	if err := b.Org.UpdateAsUser("Invoice__c", second, map[string]any{"Amount__c": 999}); err != nil {
		t.Fatal(err)
	}
	cs := waitConflicts(b, 1)
	if c := cs[0]; c.SFID != second || c.Kind != conflict.UpdateUpdate || c.SalesforceValues["Amount__c"] != 999.0 || c.PostgresValues["Amount__c"] != 1002100.5 {
		t.Fatalf("conflict %+v, want %s updated on both sides (999 in Salesforce, 1002100.5 in Postgres)", c, second)
	}
	awaitWritten(b)
}
