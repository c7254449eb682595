package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/mapping"
)

func TestOneSyncerPerConnectionAndFailoverWhenTheLeaderStops(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{seed: 1, instance: "instance-a"})
	b.connState(connection.Idle)
	opts := b.opts
	opts.Instance = "instance-b"
	second := engine.New(opts)
	t.Cleanup(second.Stop)
	if err := second.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	m := b.createMapping("Invoice__c", mapping.ReadWrite, "Amount__c", "External_Id__c")
	b.mappingState(m.ID, mapping.DataSynced)
	if holder, _, _ := lease.Holder(b.ctx, b.pool, b.conn.ID); holder != "instance-a" {
		t.Fatalf("holder = %q", holder)
	}
	b.exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) SELECT 'F-' || g, g FROM generate_series(1, 50) g`)
	b.eventually("the first batch", 10*time.Second, func() (bool, string) {
		return b.count("invoice__c", "sfid IS NOT NULL AND external_id__c LIKE 'F-%'") == 50, ""
	})

	// The leader dies without releasing its lease (a crash): the other instance takes over once it
	// expires, well within 15 s.
	b.e.Stop()
	stoppedAt := time.Now()
	// As if the dead leader never released its lease: it holds for a full TTL.
	b.exec(`INSERT INTO leases (connection_id, holder, expires_at) VALUES ($1, 'instance-a', now() + make_interval(secs => $2))
		ON CONFLICT (connection_id) DO UPDATE SET holder = 'instance-a', expires_at = EXCLUDED.expires_at`, b.conn.ID, b.opts.LeaseTTL.Seconds())
	b.exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) SELECT 'G-' || g, g FROM generate_series(1, 50) g`)
	b.eventually("instance-b to take over and write", 15*time.Second, func() (bool, string) {
		holder, _, _ := lease.Holder(b.ctx, b.pool, b.conn.ID)
		n := b.count("invoice__c", "sfid IS NOT NULL AND external_id__c LIKE 'G-%'")
		return holder == "instance-b" && n == 50, fmt.Sprint(holder, n)
	})
	took := time.Since(stoppedAt)
	if took > 15*time.Second || took < b.opts.LeaseTTL/2 {
		t.Fatalf("failover took %v (lease TTL %v)", took, b.opts.LeaseTTL)
	}
	t.Logf("failover in %v", took)
	// No double writes: each row reached Salesforce exactly once.
	perExt := map[any]int{}
	for _, rec := range b.org.Records("Invoice__c") {
		perExt[rec["External_Id__c"]]++
	}
	for ext, n := range perExt {
		if n > 1 {
			t.Fatalf("%v written %d times", ext, n)
		}
	}
	if n := b.count("_trigger_log", "state = 'SUCCESS'"); n != 100 {
		t.Fatalf("%d successful writes, want 100", n)
	}
}
