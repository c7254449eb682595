package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/enginetest"
)

// A backlog of updates, claimed in the engine's own batches, costs its collection calls and one
// conflict pre-check call per batch (a /composite call of up to 25 queries by id), plus one more for
// a batch whose versions read ahead had aged and were read again: 10,000 updates are 50 collection
// calls and 2 pre-checks: 1.04 × ceil(n/200).
func TestABacklogOfUpdatesCostsOnePreCheckCallPerClaimedBatch(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	b := enginetest.New(t, enginetest.Options{Seed: 1, PollInterval: time.Hour, WriteBatch: engine.DefaultWriteBatch, LogTo: logs, Debug: true})
	readWriteAmounts(b)
	n := 2 * engine.DefaultWriteBatch
	b.Exec(`INSERT INTO $schema.invoice__c (amount__c, status__c) SELECT 1000000 + g, 'Draft' FROM generate_series(1, $1::int) g`, n)
	b.Eventually("the rows written to Salesforce", 60*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "amount__c > 1000000 AND sfid IS NOT NULL") == n, fmt.Sprint(logStates(b))
	})
	queueWhilePaused(b, `UPDATE $schema.invoice__c SET amount__c = amount__c + 0.5 WHERE amount__c > 1000000`)
	before := b.Org.APICallsByClient()["pgforce/writer"]
	resume(b)
	b.Eventually("the updates written", 60*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["NEW"]+s["PENDING"] == 0, fmt.Sprint(s)
	})
	if s := logStates(b); s["SUCCESS"] != 2*n {
		t.Fatalf("trigger log %v, want %d SUCCESS", s, 2*n)
	}
	// The writer's calls, as the org counted them by the client they named (Sforce-Call-Options).
	after := b.Org.APICallsByClient()["pgforce/writer"]
	if other := total(after) - total(before) - (after["composite"] - before["composite"]); other != 0 {
		t.Fatalf("the writer made %d calls other than /composite ones: %v then %v", other, before, after)
	}
	calls := after["composite"] - before["composite"]
	readAgain := strings.Count(logs.String(), "conflict pre-check read again")
	writes := n / 200
	if preChecks := calls - writes; preChecks != 2+readAgain {
		t.Fatalf("%d /composite calls for %d updates: %d pre-checks, want 2 (one per batch of %d) and %d read again", calls, n, preChecks, engine.DefaultWriteBatch, readAgain)
	}
}
