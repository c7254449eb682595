package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgforce/sync/diagnose"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
	"pgforce/sync/testsignal"
	"pgforce/sync/verify"
)

// The running engine verifies a mapping an admin asks about, finds drift injected behind its back,
// the health model says so, and a repair asked for makes the table match again; the count check of
// the poll cycle refreshes Salesforce's count and notices the drift too.
func TestTheRuntimeVerifiesRepairsAndCountsUnderItsLease(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	done, counted := testsignal.New[int64](), testsignal.New[int64]()
	b.Options.Signals.VerificationDone, b.Options.Signals.CountChecked = done, counted
	b.Options.CountCheckEvery = time.Millisecond // every poll
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	counted.WaitFor(t, "a count check", 0, 1, 20*time.Second, func(id int64) bool { return id == m.ID })
	if got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID); got.CountDrift == nil || *got.CountDrift != 0 || got.SFCount == nil || *got.SFCount != int64(b.Org.Count("Account")) {
		t.Fatalf("count check of a synced table: drift %v, Salesforce %v", got.CountDrift, got.SFCount)
	}

	// The org's records were all stamped just before the load: polls re-read them until one began more than
	// the overlap after them, and only then are they judged rather than possibly still in flight.
	b.Eventually("a poll an overlap after the records' stamps", 20*time.Second, func() (bool, string) {
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return got.LastPollAt != nil && got.LastPollAt.Sub(*got.Watermark) > b.Options.Overlap, fmt.Sprint(got.LastPollAt, got.Watermark)
	})
	// Three rows vanish behind pgforce's back (an operator's DELETE as pgforce's own session).
	tx, _ := b.Pool.Begin(b.Ctx)
	_, _ = tx.Exec(b.Ctx, `SET LOCAL xmlbinary = 'hex'`)
	if _, err := tx.Exec(b.Ctx, `DELETE FROM `+b.Schema+`.account WHERE sfid IN (SELECT sfid FROM `+b.Schema+`.account ORDER BY sfid LIMIT 3)`); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(b.Ctx); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the count check to notice", 20*time.Second, func() (bool, string) {
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return got.CountDrift != nil && *got.CountDrift == 3, fmt.Sprint(*got.CountDrift, " at ", got.CountCheckedAt, " polled ", got.LastPollAt, " mark ", got.Watermark, " sf ", *got.SFCount, " pg ", b.Count("account", ""))
	})

	mark := done.Mark()
	v, err := b.Admin.Verifications.Request(b.Ctx, enginetest.Admin, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	done.WaitFor(t, "the verification", mark, 1, 20*time.Second, func(id int64) bool { return id == v.ID })
	if v, _ = b.Admin.Verifications.Get(b.Ctx, v.ID); v.State != verify.DriftFound || v.Missing != 3 || v.Holder != b.Engine.Instance() {
		t.Fatalf("verification: %+v", v)
	}
	health := diagnose.Checker{Connections: b.Admin.Connections, Mappings: b.Admin.Mappings, Reports: report.New(b.Pool), Verifications: b.Admin.Verifications}
	if r, _ := health.Run(b.Ctx, b.Conn.ID); r.Healthy() || !strings.Contains(r.Summary(), "does not hold what Salesforce holds: 3 missing") {
		t.Fatalf("health with drift found: %s", r.Summary())
	}
	mark = done.Mark()
	if _, err := b.Admin.Verifications.Repair(b.Ctx, enginetest.Admin, v.ID); err != nil {
		t.Fatal(err)
	}
	done.WaitFor(t, "the repair", mark, 1, 20*time.Second, func(id int64) bool { return id == v.ID })
	if v, _ = b.Admin.Verifications.Get(b.Ctx, v.ID); v.State != verify.Repaired || v.Repaired != 3 {
		t.Fatalf("repair: %+v", v)
	}
	if n := b.Count("account", ""); n != b.Org.Count("Account") {
		t.Fatalf("after the repair the table holds %d of %d records", n, b.Org.Count("Account"))
	}
	b.Eventually("the health model to see the repair", 20*time.Second, func() (bool, string) {
		r, err := health.Run(b.Ctx, b.Conn.ID)
		return err == nil && r.Healthy(), r.Summary()
	})
}

// Issue 21 #9: "Salesforce rows" followed the org only at load (80 shown while the org had 20,081):
// the count check of the poll cycle refreshes it, with its age, as records are added in Salesforce.
func TestSalesforceRowsFollowTheOrgAfterTheLoad(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	b.Options.CountCheckEvery = 200 * time.Millisecond
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	loaded, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
	if loaded.SFCount == nil || *loaded.SFCount != int64(b.Org.Count("Account")) {
		t.Fatalf("at load: %v", loaded.SFCount)
	}
	more := make([]map[string]any, 25)
	for i := range more {
		more[i] = map[string]any{"Name": fmt.Sprint("Added after the load ", i)}
	}
	if _, err := b.Org.CreateManyAsUser("Account", more); err != nil {
		t.Fatal(err)
	}
	want := int64(b.Org.Count("Account"))
	b.Eventually("Salesforce rows to follow the org", 20*time.Second, func() (bool, string) {
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return got.SFCount != nil && *got.SFCount == want && got.SFCountAt.After(*loaded.SFCountAt), fmt.Sprint(*got.SFCount, " want ", want)
	})
}
