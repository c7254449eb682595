package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// A poll holds its table's lock only while it applies what it read: the count check that follows
// it, however long Salesforce takes to answer, does not hold up the writer of that table (at 150 ms
// a call it held every write behind it for 700 ms).
func TestACountCheckWaitingOnSalesforceDoesNotHoldUpTheTablesWrites(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 2, NoStart: true})
	b.Options.CountCheckEvery = time.Millisecond // after every poll
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	m := b.CreateMapping("Account", mapping.ReadWrite, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	// Salesforce holds the next count query for minutes.
	if err := b.Org.InjectFault(sforg.Fault{SOQL: `^SELECT COUNT\(\)`, Latency: 5 * time.Minute, Count: 1}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("a count check held by Salesforce", 30*time.Second, func() (bool, string) {
		return len(b.Org.Faults()) == 0, fmt.Sprint(b.Org.Faults())
	})

	b.Exec(`INSERT INTO $schema.account (name) VALUES ('Written beside a count check')`)
	b.Eventually("the insert written while the count check waits", 30*time.Second, func() (bool, string) {
		n := b.Count("account", "name = 'Written beside a count check' AND sfid IS NOT NULL AND _hc_lastop = 'INSERTED'")
		return n == 1, fmt.Sprint(n, " written")
	})
}
