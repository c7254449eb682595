package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/mapping"
)

func TestOneSyncerPerConnectionAndFailoverWhenTheLeaderStops(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1, Instance: "instance-a"})
	b.ConnState(connection.Idle)
	opts := b.Options
	opts.Instance = "instance-b"
	second := engine.New(opts)
	t.Cleanup(second.Stop)
	if err := second.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	m := b.CreateMapping("Invoice__c", mapping.ReadWrite, "Amount__c", "External_Id__c")
	b.MappingState(m.ID, mapping.DataSynced)
	if holder, _, _ := lease.Holder(b.Ctx, b.Pool, b.Conn.ID); holder != "instance-a" {
		t.Fatalf("holder = %q", holder)
	}
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) SELECT 'F-' || g, g FROM generate_series(1, 50) g`)
	b.Eventually("the first batch", 10*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "sfid IS NOT NULL AND external_id__c LIKE 'F-%'") == 50, ""
	})

	// The leader dies without releasing its lease (a crash): the other instance takes over once it
	// expires, well within 15 s.
	b.Engine.Stop()
	stoppedAt := time.Now()
	// As if the dead leader never released its lease: it holds for a full TTL.
	b.Exec(`INSERT INTO leases (connection_id, holder, expires_at) VALUES ($1, 'instance-a', now() + make_interval(secs => $2))
		ON CONFLICT (connection_id) DO UPDATE SET holder = 'instance-a', expires_at = EXCLUDED.expires_at`, b.Conn.ID, b.Options.LeaseTTL.Seconds())
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) SELECT 'G-' || g, g FROM generate_series(1, 50) g`)
	b.Eventually("instance-b to take over and write", 15*time.Second, func() (bool, string) {
		holder, _, _ := lease.Holder(b.Ctx, b.Pool, b.Conn.ID)
		n := b.Count("invoice__c", "sfid IS NOT NULL AND external_id__c LIKE 'G-%'")
		return holder == "instance-b" && n == 50, fmt.Sprint(holder, n)
	})
	took := time.Since(stoppedAt)
	if took > 15*time.Second || took < b.Options.LeaseTTL/2 {
		t.Fatalf("failover took %v (lease TTL %v)", took, b.Options.LeaseTTL)
	}
	t.Logf("failover in %v", took)
	// No double writes: each row reached Salesforce exactly once.
	perExt := map[any]int{}
	for _, rec := range b.Org.Records("Invoice__c") {
		perExt[rec["External_Id__c"]]++
	}
	for ext, n := range perExt {
		if n > 1 {
			t.Fatalf("%v written %d times", ext, n)
		}
	}
	if n := b.Count("_trigger_log", "state = 'SUCCESS'"); n != 100 {
		t.Fatalf("%d successful writes, want 100", n)
	}
}
