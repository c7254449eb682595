package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/report"
)

// A failed write stops counting once a later write of its row succeeds: the row reached Salesforce.
func TestAFailedWriteIsResolvedByALaterSuccessfulWriteOfItsRow(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	m := readWriteInvoices(b, true)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('FIX-1', 1), ('OTHER-1', 1)`)
	b.Eventually("the inserts", 10*time.Second, func() (bool, string) {
		return logStates(b)["SUCCESS"] == 2, fmt.Sprint(logStates(b))
	})
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = -5 WHERE external_id__c IN ('FIX-1', 'OTHER-1')`) // a validation rule refuses
	b.Eventually("the refused updates", 10*time.Second, func() (bool, string) {
		return logStates(b)["FAILED"] == 2, fmt.Sprint(logStates(b))
	})
	failed := func() int64 {
		counts, err := report.New(b.Pool).Counts(b.Ctx, b.Schema, []string{m.Table})
		if err != nil {
			t.Fatal(err)
		}
		return counts[m.Table].Failed
	}
	if n := failed(); n != 2 {
		t.Fatalf("failed writes counted: %d", n)
	}
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = 5 WHERE external_id__c = 'FIX-1'`)
	b.Eventually("the fixed row's write", 10*time.Second, func() (bool, string) {
		return logStates(b)["SUCCESS"] == 3, fmt.Sprint(logStates(b))
	})
	if n := failed(); n != 1 {
		t.Fatalf("failed writes counted after FIX-1 was written: %d, want 1 (OTHER-1's)", n)
	}
	var lastop string
	_ = b.Pool.QueryRow(b.Ctx, `SELECT _hc_lastop FROM `+b.Schema+`.invoice__c WHERE external_id__c = 'FIX-1'`).Scan(&lastop)
	if lastop != "UPDATED" {
		t.Fatalf("FIX-1 _hc_lastop %q", lastop)
	}
}

// A record Salesforce cannot lock is sent again with backoff, saying so, and written once it can be;
// one that stays locked becomes FAILED after maxRecordAttempts.
func TestTransientRecordRefusalsAreRetriedWithBackoffBeforeFailing(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('LOCK-1', 1), ('LOCK-2', 1)`)
	b.Eventually("the inserts", 10*time.Second, func() (bool, string) {
		return logStates(b)["SUCCESS"] == 2, fmt.Sprint(logStates(b))
	})
	sfid := func(ext string) string {
		var id string
		_ = b.Pool.QueryRow(b.Ctx, `SELECT sfid FROM `+b.Schema+`.invoice__c WHERE external_id__c = $1`, ext).Scan(&id)
		return id
	}
	b.Org.LockRecord(sfid("LOCK-1"), 1)
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = 2 WHERE external_id__c = 'LOCK-1'`)
	var msg string
	b.Eventually("the refusal to be noted on the waiting change", 10*time.Second, func() (bool, string) {
		_ = b.Pool.QueryRow(b.Ctx, `SELECT COALESCE(sf_message, '') FROM `+b.Schema+`._trigger_log WHERE state IN ('NEW', 'SUCCESS') AND action = 'UPDATE'`).Scan(&msg)
		return strings.Contains(msg, "UNABLE_TO_LOCK_ROW") || logStates(b)["SUCCESS"] == 3, msg
	})
	b.Eventually("the retried write", 15*time.Second, func() (bool, string) {
		rec := b.Org.Record("Invoice__c", sfid("LOCK-1"))
		return rec["Amount__c"] == 2.0 && logStates(b)["SUCCESS"] == 3, fmt.Sprint(logStates(b))
	})

	b.Org.LockRecord(sfid("LOCK-2"), 100)
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = 3 WHERE external_id__c = 'LOCK-2'`)
	b.Eventually("the locked record's write to fail after its attempts", 60*time.Second, func() (bool, string) {
		return logStates(b)["FAILED"] == 1, fmt.Sprint(logStates(b))
	})
	_ = b.Pool.QueryRow(b.Ctx, `SELECT sf_message FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED'`).Scan(&msg)
	if !strings.Contains(msg, "UNABLE_TO_LOCK_ROW") || !strings.Contains(msg, "after 4 attempts") {
		t.Fatalf("sf_message %q", msg)
	}
}

// Save and resend: the row of a refused insert is fixed and sent again in one step.
func TestAFailedInsertIsFixedAndResentInOneStep(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("FirstName", "LastName", "Email")
	cfg.Access = mapping.ReadWrite
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Contact", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	b.Exec(`INSERT INTO $schema.contact (firstname, lastname, email) VALUES ('Ada', '', 'ada@example.com')`)
	var logID int64
	var msg string
	b.Eventually("the refused insert", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT id, sf_message FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED'`).Scan(&logID, &msg)
		return err == nil, fmt.Sprint(logStates(b))
	})
	if !strings.Contains(msg, "REQUIRED_FIELD_MISSING") {
		t.Fatalf("sf_message %s", msg)
	}
	if err := b.Admin.Writes.FixAndRetry(b.Ctx, enginetest.Admin, b.Conn.ID, logID, map[string]string{"Id": "x"}); !failure.Is(err, failure.Invalid) {
		t.Fatalf("fixing a system field: %v", err)
	}
	if err := b.Admin.Writes.FixAndRetry(b.Ctx, enginetest.Admin, b.Conn.ID, logID, map[string]string{"LastName": "Lovelace"}); err != nil {
		t.Fatal(err)
	}
	var sfid string
	b.Eventually("the fixed row in Salesforce", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT sfid FROM `+b.Schema+`.contact WHERE lastname = 'Lovelace' AND sfid IS NOT NULL AND _hc_lastop = 'INSERTED'`).Scan(&sfid)
		return err == nil, fmt.Sprint(logStates(b))
	})
	if rec := b.Org.Record("Contact", sfid); rec["LastName"] != "Lovelace" || rec["FirstName"] != "Ada" {
		t.Fatalf("record %v", rec)
	}
	if s := logStates(b); s["FAILED"] != 0 || s["REQUEUED"] != 1 {
		t.Fatalf("states %v", s)
	}
}
