package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

func readWriteInvoices(b *enginetest.Harness, upsert bool) mapping.Mapping {
	b.T.Helper()
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Amount__c", "External_Id__c", "Status__c", "Account__r.External_Id__c")
	cfg.Access = mapping.ReadWrite
	if upsert {
		cfg.UpsertField = "External_Id__c"
	}
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Invoice__c", cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	return m
}

func logStates(b *enginetest.Harness) map[string]int {
	rows, err := b.Pool.Query(b.Ctx, `SELECT state, count(*) FROM `+b.Schema+`._trigger_log GROUP BY state`)
	if err != nil {
		b.T.Fatal(err)
	}
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		_ = rows.Scan(&s, &n)
		out[s] = n
	}
	return out
}

func TestPartialFailuresFailOnlyTheirRowsAndCanBeRetriedOrIgnored(t *testing.T) {
	t.Parallel()
	// No poll after the load: one reading the written records back turns their rows' INSERTED into
	// SYNCED, and on a loaded machine it could land between the write and the check below.
	b := enginetest.New(t, enginetest.Options{Seed: 1, PollInterval: time.Hour})
	m := readWriteInvoices(b, true)
	// One batch: two good rows, one refused by a validation rule, one with a bad picklist.
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) VALUES
		('OK-1', 10, 'Draft'), ('NEG-1', -5, 'Draft'), ('OK-2', 20, 'Sent'), ('BAD-1', 1, 'Bogus')`)
	b.Eventually("all four to be decided", 10*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["SUCCESS"] == 2 && s["FAILED"] == 2, fmt.Sprint(s)
	})
	var lastop, errJSON string
	_ = b.Pool.QueryRow(b.Ctx, `SELECT _hc_lastop, _hc_err FROM `+b.Schema+`.invoice__c WHERE external_id__c = 'NEG-1'`).Scan(&lastop, &errJSON)
	if lastop != "FAILED" || !strings.Contains(errJSON, "FIELD_CUSTOM_VALIDATION_EXCEPTION") || !strings.Contains(errJSON, "Amount must not be negative.") {
		t.Fatalf("failed row: %s %s", lastop, errJSON)
	}
	var msg string
	_ = b.Pool.QueryRow(b.Ctx, `SELECT sf_message FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED' AND "values" -> 'external_id__c' = 'BAD-1'`).Scan(&msg)
	if !strings.Contains(msg, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST") {
		t.Fatalf("sf_message %q", msg)
	}
	if n := b.Count("invoice__c", "external_id__c IN ('OK-1', 'OK-2') AND sfid IS NOT NULL AND _hc_lastop = 'INSERTED'"); n != 2 {
		t.Fatalf("good rows: %d", n)
	}
	// Fix the row, retry its write; ignore the other.
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = 5 WHERE external_id__c = 'NEG-1'`)
	var negLog, badLog int64
	_ = b.Pool.QueryRow(b.Ctx, `SELECT id FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED' AND "values" -> 'external_id__c' = 'NEG-1'`).Scan(&negLog)
	_ = b.Pool.QueryRow(b.Ctx, `SELECT id FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED' AND "values" -> 'external_id__c' = 'BAD-1'`).Scan(&badLog)
	if err := b.Admin.Writes.Retry(b.Ctx, enginetest.Admin, b.Conn.ID, negLog); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Writes.Ignore(b.Ctx, enginetest.Admin, b.Conn.ID, badLog); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the retried insert", 10*time.Second, func() (bool, string) {
		n := b.Count("invoice__c", "external_id__c = 'NEG-1' AND sfid IS NOT NULL")
		return n == 1, fmt.Sprint(logStates(b))
	})
	// REQUEUED: the retried insert, and the update captured while the row was not in Salesforce
	// (refused) that the insert's success resolved.
	s := logStates(b)
	if s["REQUEUED"] != 2 || s["IGNORED"] != 1 || s["FAILED"] != 0 {
		t.Fatalf("states after retry/ignore: %v", s)
	}
	_ = m
}

func TestInsertWhoseAcknowledgementIsLostIsNotDuplicated(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	// The org applies the upsert, then the connection drops before the answer arrives.
	_ = b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects/Invoice__c/External_Id__c$", DropAfter: true, Count: 1})
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('ONCE-1', 1)`)
	b.Eventually("the insert to succeed", 10*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "external_id__c = 'ONCE-1' AND sfid IS NOT NULL") == 1, fmt.Sprint(logStates(b))
	})
	n := 0
	for _, rec := range b.Org.Records("Invoice__c") {
		if rec["External_Id__c"] == "ONCE-1" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("%d Salesforce records for one insert", n)
	}
}

func TestParentLookupByExternalIDOnInsert(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1}) // demo Accounts have External_Id__c ACC-0001...
	readWriteInvoices(b, true)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, account__r__external_id__c) VALUES ('CHILD-1', 3, 'ACC-0001')`)
	var sfid string
	b.Eventually("the child insert", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT coalesce(sfid, '') FROM `+b.Schema+`.invoice__c WHERE external_id__c = 'CHILD-1'`).Scan(&sfid)
		return err == nil && sfid != "", fmt.Sprint(logStates(b))
	})
	rec := b.Org.Record("Invoice__c", sfid)
	var parentExt any
	for id, acc := range b.Org.Records("Account") {
		if id == rec["Account__c"] {
			parentExt = acc["External_Id__c"]
		}
	}
	if parentExt != "ACC-0001" {
		t.Fatalf("child's parent = %v", rec["Account__c"])
	}
}

func TestMergedWritesFoldChangesPerRecord(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Connections.SetWriteAlgorithm(b.Ctx, enginetest.Admin, b.Conn.ID, connection.Merged); err != nil {
		t.Fatal(err)
	}
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('M-1', 1)`)
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = 2 WHERE external_id__c = 'M-1'`)
	b.Exec(`UPDATE $schema.invoice__c SET status__c = 'Sent' WHERE external_id__c = 'M-1'`)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('GONE-1', 1)`)
	b.Exec(`DELETE FROM $schema.invoice__c WHERE external_id__c = 'GONE-1'`)
	calls := b.Org.APICalls()["composite"]
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the merged write", 10*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["SUCCESS"] == 1 && s["IGNORED"] == 1, fmt.Sprint(s)
	})
	// 3 changes to M-1 fold into 1 write; GONE-1's insert is skipped (its row is gone) and its
	// delete was captured as IGNORE (it never reached Salesforce).
	if s := logStates(b); s["MERGED"] != 2 || s["IGNORE"] != 1 {
		t.Fatalf("states %v", s)
	}
	if got := b.Org.APICalls()["composite"] - calls; got != 1 {
		t.Fatalf("%d collection calls, want 1", got)
	}
	var found int
	for _, rec := range b.Org.Records("Invoice__c") {
		switch rec["External_Id__c"] {
		case "M-1":
			if rec["Amount__c"] != 2.0 || rec["Status__c"] != "Sent" {
				t.Fatalf("merged record %v", rec)
			}
			found++
		case "GONE-1":
			t.Fatal("a record created and deleted before sending must never reach Salesforce")
		}
	}
	if found != 1 {
		t.Fatal("M-1 missing")
	}
}

func TestOrderedWritesKeepEachRecordsOrderAndUseFewCalls(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) SELECT 'O-' || g, g FROM generate_series(1, 450) g`)
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = amount__c * 10 WHERE external_id__c = 'O-7'`)
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = amount__c + 1 WHERE external_id__c = 'O-7'`)
	calls := b.Org.APICalls()["composite"]
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("452 writes", 15*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["SUCCESS"] == 452, fmt.Sprint(s)
	})
	for _, rec := range b.Org.Records("Invoice__c") {
		if rec["External_Id__c"] == "O-7" && rec["Amount__c"] != 71.0 {
			t.Fatalf("O-7 = %v: updates applied out of order", rec["Amount__c"])
		}
	}
	// 450 inserts in 3 calls, then the two updates of O-7 in two more (a record never appears twice in
	// one call), and one /composite call of the pre-check queries of the inserts' external ids.
	if got := b.Org.APICalls()["composite"] - calls; got != 6 {
		t.Fatalf("%d composite calls, want 6", got)
	}
}

func TestReadOnlyChangesAreCapturedButNeverSent(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 2})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Lead", mapping.ReadOnly, "LastName", "Company")
	b.MappingState(m.ID, mapping.DataSynced)
	before := b.Org.Count("Lead")
	mark := b.Signals().WriterRound.Mark()
	b.Exec(`INSERT INTO $schema.lead (lastname, company) VALUES ('Local', 'Only')`)
	// Two rounds of the writer after the insert: it looked, and sent nothing.
	enginetest.Rounds(t, b.Signals().WriterRound, "two rounds of the writer", mark, 2, b.Conn.ID)
	if s := logStates(b); s["READONLY"] != 1 || b.Org.Count("Lead") != before {
		t.Fatalf("read-only capture %v, org %d → %d", s, before, b.Org.Count("Lead"))
	}
}

func TestBothSidesChangingDoNotEchoForever(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	m := readWriteInvoices(b, true)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('ECHO-1', 1)`)
	var sfid string
	b.Eventually("insert", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT coalesce(sfid, '') FROM `+b.Schema+`.invoice__c WHERE external_id__c = 'ECHO-1'`).Scan(&sfid)
		return err == nil && sfid != "", ""
	})
	_ = b.Org.UpdateAsUser("Invoice__c", sfid, map[string]any{"Amount__c": 50})
	b.Eventually("the Salesforce edit to arrive", 10*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "sfid = $1 AND amount__c = 50", sfid) == 1, ""
	})
	// Several polls later the trigger log still holds only the one insert: nothing echoed.
	enginetest.Rounds(t, b.Signals().PollDone, "three more polls", b.Signals().PollDone.Mark(), 3, m.ID)
	if n := b.Count("_trigger_log", ""); n != 1 {
		t.Fatalf("%d trigger log rows; pgforce's own writes must not be captured", n)
	}
}

func TestRowDeletedWhileItsInsertIsInFlightIsDeletedInSalesforceToo(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	_ = b.Org.InjectFault(sforg.Fault{Path: "/composite/sobjects/Invoice__c/External_Id__c$", Latency: 700 * time.Millisecond, Count: 1})
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('FLIGHT-1', 1)`)
	b.Eventually("the insert to be in flight", 5*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["PENDING"] == 1, fmt.Sprint(s)
	})
	b.Exec(`DELETE FROM $schema.invoice__c WHERE external_id__c = 'FLIGHT-1'`)
	b.Eventually("Salesforce to lose the record again", 10*time.Second, func() (bool, string) {
		for _, rec := range b.Org.Records("Invoice__c") {
			if rec["External_Id__c"] == "FLIGHT-1" {
				return false, fmt.Sprint(logStates(b))
			}
		}
		return true, ""
	})
}

func TestProcessedWritesMoveToTheArchiveAndExpire(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{NoStart: true})
	b.Options.ArchiveAfter, b.Options.ArchiveEvery = time.Millisecond, 100*time.Millisecond
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	readWriteInvoices(b, true)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('ARCH-1', 1)`)
	b.Eventually("the write to be archived", 15*time.Second, func() (bool, string) {
		return b.Count("_trigger_log_archive", "state = 'SUCCESS'") == 1 && b.Count("_trigger_log", "") == 0, fmt.Sprint(logStates(b))
	})
	b.Exec(`ALTER TABLE $schema._trigger_log_archive DISABLE TRIGGER USER`)
	b.Exec(`UPDATE $schema._trigger_log_archive SET created_at = now() - interval '40 days'`)
	b.Eventually("the old archive row to be purged (31-day retention)", 15*time.Second, func() (bool, string) {
		return b.Count("_trigger_log_archive", "") == 0, ""
	})
}

func TestInsertsWrittenWhilePollingRunsAreNeverReadBackAsSecondRows(t *testing.T) {
	t.Parallel()
	// Polling all the time: a poll lands between a create in Salesforce and the sfid's recording.
	b := enginetest.New(t, enginetest.Options{Seed: 1, PollInterval: 5 * time.Millisecond})
	cfg := mapping.NewConfig("Amount__c", "Status__c")
	cfg.Access = mapping.ReadWrite
	b.ConnState(connection.Idle)
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Invoice__c", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	before := b.Count("invoice__c", "")
	const rounds, per = 30, 50
	for i := range rounds {
		b.Exec(fmt.Sprintf(`INSERT INTO $schema.invoice__c (amount__c, status__c) SELECT g, 'Draft' FROM generate_series(%d, %d) g`, i*per, i*per+per-1))
		b.Eventually("the round written", 20*time.Second, func() (bool, string) {
			s := logStates(b)
			return s["NEW"]+s["PENDING"] == 0, fmt.Sprint(s)
		})
	}
	if s := logStates(b); s["FAILED"] != 0 || s["SUCCESS"] != rounds*per {
		t.Fatalf("trigger log: %v", s)
	}
	if got, want := b.Count("invoice__c", ""), before+rounds*per; got != want {
		t.Fatalf("%d rows in Postgres, want %d: writes read back as new rows", got, want)
	}
	if got := b.Org.Count("Invoice__c"); got != before+rounds*per {
		t.Fatalf("%d records in Salesforce, want %d: writes sent twice", got, before+rounds*per)
	}
	if n := b.Count("invoice__c", "sfid IS NULL"); n != 0 {
		t.Fatalf("%d rows never got their sfid", n)
	}
}

func TestUpdatesQueuedBehindTheirInsertsFindTheSfidInLaterBatches(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	readWriteInvoices(b, false)
	seeded := b.Org.Records("Invoice__c")
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Paused)
	// 2,500 inserts then an update of each: more than one claimed batch, so most updates are sent
	// in a later batch than their row's insert, captured when the row had no sfid yet.
	b.Exec(`INSERT INTO $schema.invoice__c (amount__c, status__c) SELECT g, 'Draft' FROM generate_series(1, 2500) g`)
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = amount__c + 0.5 WHERE sfid IS NULL`)
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("every change written", 60*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["NEW"]+s["PENDING"] == 0, fmt.Sprint(s)
	})
	if s := logStates(b); s["FAILED"] != 0 || s["SUCCESS"] != 5000 {
		t.Fatalf("trigger log: %v", s)
	}
	var updated int
	for id, rec := range b.Org.Records("Invoice__c") {
		if a, ok := rec["Amount__c"].(float64); ok && seeded[id] == nil && a != float64(int(a)) {
			updated++
		}
	}
	if updated != 2500 {
		t.Fatalf("%d of 2500 updates reached Salesforce", updated)
	}
}

// While API calls are plentiful, a large backlog goes through collections, ten calls in flight (a
// Bulk job would save a few calls and take seconds in Salesforce's queue).
func TestLargeBacklogsUseCollectionsWhileCallsArePlentiful(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	readWriteInvoices(b, true)
	b.ConnState(connection.Idle)
	before := b.Org.APICalls()
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) SELECT 'COLL-' || g, g, 'Draft' FROM generate_series(1, 1500) g`)
	b.Eventually("the inserts", 60*time.Second, func() (bool, string) {
		return b.Count("invoice__c", "external_id__c LIKE 'COLL-%' AND sfid IS NOT NULL AND _hc_lastop = 'INSERTED'") == 1500, fmt.Sprint(logStates(b))
	})
	if after := b.Org.APICalls(); after["bulk"] != before["bulk"] || after["composite"]-before["composite"] < 8 {
		t.Fatalf("1,500 inserts with plentiful calls: %v → %v, want collections", before, after)
	}
}

// When calls are scarce (the org has used more than half its daily allowance), a large backlog of
// upserts, updates and deletes goes through Bulk API 2.0 ingest jobs (a few calls per thousands of
// records), each record's result matched back to its row.
func TestLargeBacklogsUseBulkIngestJobsWhenCallsAreScarce(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	_, max := b.Org.APIUsage()
	b.Org.SetAPIUsage(max * 3 / 4)
	readWriteInvoices(b, true)
	pause := func() {
		b.T.Helper()
		b.ConnState(connection.Idle)
		if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
			t.Fatal(err)
		}
	}
	drain := func(what string) {
		b.T.Helper()
		if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
			t.Fatal(err)
		}
		b.Eventually(what, 60*time.Second, func() (bool, string) {
			s := logStates(b)
			return s["NEW"]+s["PENDING"] == 0, fmt.Sprint(s)
		})
		if s := logStates(b); s["FAILED"] != 0 {
			t.Fatalf("%s: %v", what, s)
		}
	}
	const n = 1500
	pause()
	b.Exec(fmt.Sprintf(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) SELECT 'BULK-' || g, g, 'Draft' FROM generate_series(1, %d) g`, n))
	before := b.Org.APICalls()
	drain("the inserts")
	if b.Org.APICalls()["bulk"] == before["bulk"] || b.Org.APICalls()["composite"]-before["composite"] > 2 {
		t.Fatalf("inserts with an external id went through collections: %v → %v", before, b.Org.APICalls())
	}
	if got := b.Count("invoice__c", "external_id__c LIKE 'BULK-%' AND sfid IS NOT NULL AND _hc_lastop = 'INSERTED'"); got != n {
		t.Fatalf("%d of %d rows got their sfid from the job's results", got, n)
	}
	pause()
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = amount__c + 0.5, status__c = 'Sent' WHERE external_id__c LIKE 'BULK-%'`)
	b.Exec(`DELETE FROM $schema.invoice__c WHERE external_id__c LIKE 'BULK-%' AND amount__c > 1200.5`) // 300 deletes: collections
	before = b.Org.APICalls()
	drain("the updates and deletes")
	if after := b.Org.APICalls(); after["bulk"] == before["bulk"] || after["composite"]-before["composite"] > 3 {
		t.Fatalf("1,200 updates went through collections: %v → %v", before, after)
	}
	sent, deleted := 0, 0
	seen := map[string]bool{}
	for _, rec := range b.Org.Records("Invoice__c") {
		ext, _ := rec["External_Id__c"].(string)
		if !strings.HasPrefix(ext, "BULK-") {
			continue
		}
		seen[ext] = true
		if rec["Status__c"] == "Sent" && rec["Amount__c"].(float64) != float64(int(rec["Amount__c"].(float64))) {
			sent++
		}
	}
	for i := 1201; i <= n; i++ {
		if !seen[fmt.Sprintf("BULK-%d", i)] {
			deleted++
		}
	}
	if sent != 1200 || deleted != 300 {
		t.Fatalf("%d of 1200 updates and %d of 300 deletes reached Salesforce", sent, deleted)
	}
}
