package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
	"pgforce/sync/salesforce/sforg"
)

// sfidOf waits until the row of table matching where has its sfid and returns it; a write that
// fails instead stops the test at once.
func sfidOf(b *enginetest.Harness, table, where string) string {
	b.T.Helper()
	var sfid string
	b.Eventually("the row of "+table+" to reach Salesforce", 10*time.Second, func() (bool, string) {
		s := logStates(b)
		if s["FAILED"] > 0 {
			var msg string
			_ = b.Pool.QueryRow(b.Ctx, `SELECT sf_message FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED' LIMIT 1`).Scan(&msg)
			b.T.Fatalf("the write failed: %s", msg)
		}
		err := b.Pool.QueryRow(b.Ctx, `SELECT coalesce(sfid, '') FROM `+b.Schema+`.`+table+` WHERE `+where).Scan(&sfid)
		return err == nil && sfid != "", fmt.Sprint(s)
	})
	return sfid
}

// pausedBatch pauses the connection, runs the statements (so their changes are written in one batch)
// and resumes.
func pausedBatch(b *enginetest.Harness, statements ...string) { pausedBatchWith(b, "", statements...) }

// pausedBatchWith is pausedBatch writing with the algorithm given (when not empty).
func pausedBatchWith(b *enginetest.Harness, algo connection.WriteAlgorithm, statements ...string) {
	b.T.Helper()
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		b.T.Fatal(err)
	}
	b.ConnState(connection.Paused)
	if algo != "" {
		if err := b.Admin.Connections.SetWriteAlgorithm(b.Ctx, enginetest.Admin, b.Conn.ID, algo); err != nil {
			b.T.Fatal(err)
		}
	}
	for _, s := range statements {
		b.Exec(s)
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		b.T.Fatal(err)
	}
}

// mapNewObject adds a custom object with one text field to the org and maps it, synced.
func mapNewObject(b *enginetest.Harness, object, field string, access mapping.Access) mapping.Mapping {
	b.T.Helper()
	if err := b.Org.AddObject(object, strings.TrimSuffix(object, "__c"), sforg.FieldDef{Name: field, Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true}); err != nil {
		b.T.Fatal(err)
	}
	b.ConnState(connection.Idle)
	m := b.CreateMapping(object, access, field)
	b.MappingState(m.ID, mapping.DataSynced)
	return m
}

func accountIDByExternalID(b *enginetest.Harness, ext string) string {
	b.T.Helper()
	for id, acc := range b.Org.Records("Account") {
		if acc["External_Id__c"] == ext {
			return id
		}
	}
	b.T.Fatalf("no Account %s", ext)
	return ""
}

func TestAnObjectDeletedInSalesforceOrphansOnlyItsMappingAndOtherWritesGoOn(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	gadgets := mapNewObject(b, "Gadget__c", "Color__c", mapping.ReadWrite)
	readWriteInvoices(b, false)
	b.Org.RemoveObject("Gadget__c")
	b.Exec(`INSERT INTO $schema.gadget__c (color__c) VALUES ('red')`)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('AFTER-ORPHAN', 1)`)
	sfidOf(b, "invoice__c", "external_id__c = 'AFTER-ORPHAN'")
	b.MappingState(gadgets.ID, mapping.BadConfig)
	m, err := b.Admin.Mappings.Get(b.Ctx, gadgets.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.OrphanedAt == nil {
		t.Fatalf("the mapping of the deleted object is not orphaned: %s %s", m.State, m.StateReason)
	}
	// Later writes of other tables go on; the orphan's change waits for the mapping's removal.
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('LATER', 2)`)
	sfidOf(b, "invoice__c", "external_id__c = 'LATER'")
	if c, _ := b.Admin.Connections.Get(b.Ctx, b.Conn.ID); c.State == connection.SystemError {
		t.Fatalf("the connection stopped: %s", c.StateReason)
	}
	if n := b.Count("_trigger_log", "table_name = 'gadget__c' AND state = 'NEW'"); n != 1 {
		t.Fatalf("the orphan's change: %d NEW rows, want 1 (%v)", n, logStates(b))
	}
	// A pause and resume recovers although the orphan's change still waits.
	pausedBatch(b)
	b.ConnState(connection.Idle)
}

func TestAPolledObjectDeletedInSalesforceOrphansItsMapping(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	gizmos := mapNewObject(b, "Gizmo__c", "Size__c", mapping.ReadOnly)
	b.Org.RemoveObject("Gizmo__c")
	b.MappingState(gizmos.ID, mapping.BadConfig) // at its next poll, not at the next schema check hours later
	m, err := b.Admin.Mappings.Get(b.Ctx, gizmos.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.OrphanedAt == nil || !strings.Contains(m.StateReason, "Gizmo__c no longer exists") {
		t.Fatalf("the mapping is not orphaned with its reason: %s %q", m.State, m.StateReason)
	}
}

func TestAChildInsertedByItsParentsExternalIDKeepsItsParentWhenTheLookupIsMappedToo(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1}) // demo Accounts have External_Id__c ACC-0001...
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadWrite, "LastName", "AccountId", "Account.External_Id__c")
	b.MappingState(m.ID, mapping.DataSynced)
	b.Exec(`INSERT INTO $schema.contact (lastname, account__external_id__c) VALUES ('Child', 'ACC-0001')`)
	sfid := sfidOf(b, "contact", "lastname = 'Child'")
	parent := accountIDByExternalID(b, "ACC-0001")
	if got := b.Org.Record("Contact", sfid)["AccountId"]; got != parent {
		t.Fatalf("the contact's AccountId = %v, want %s", got, parent)
	}
	// The polls that read the contact back keep the parent's external id and fill the lookup.
	b.Eventually("the lookup id read back", 10*time.Second, func() (bool, string) {
		var acc, ext string
		_ = b.Pool.QueryRow(b.Ctx, `SELECT coalesce(accountid, ''), coalesce(account__external_id__c, '') FROM `+b.Schema+`.contact WHERE sfid = $1`, sfid).Scan(&acc, &ext)
		return acc == parent && ext == "ACC-0001", acc + " " + ext
	})
}

func TestTheSimulatedOrgRefusesALookupIDBesideItsRelationship(t *testing.T) {
	t.Parallel()
	org := sforg.New(sforg.Options{Seed: 1})
	_, err := org.CreateAsUser("Contact", map[string]any{"LastName": "Both", "AccountId": nil, "Account": map[string]any{"External_Id__c": "ACC-0001"}})
	if err == nil {
		t.Fatal("Salesforce refuses a record naming both Account and AccountId (INVALID_FIELD)")
	}
}

func TestUpsertMappingsCreateInsertsWithoutAnExternalIDBesideThoseWithOne(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	pausedBatch(b, `INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('WITH-EXT', 1)`,
		`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES (NULL, 2)`)
	sfidOf(b, "invoice__c", "external_id__c = 'WITH-EXT'")
	sfidOf(b, "invoice__c", "external_id__c IS NULL AND amount__c = 2")
}

func TestAnUpsertLeavesSalesforceValuesOfColumnsTheRowNeverSet(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Paused)
	// Salesforce has the record already; Postgres inserts a row with the same external id that sets
	// only the amount.
	id, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": "SHARED-1", "Amount__c": 1, "Status__c": "Sent"})
	if err != nil {
		t.Fatal(err)
	}
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('SHARED-1', 7)`)
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the upsert", 10*time.Second, func() (bool, string) {
		rec := b.Org.Record("Invoice__c", id)
		return rec["Amount__c"] == 7.0, fmt.Sprint(rec["Amount__c"], logStates(b))
	})
	if rec := b.Org.Record("Invoice__c", id); rec["Status__c"] != "Sent" {
		t.Fatalf("the upsert overwrote Status__c with %v", rec["Status__c"])
	}
}

func TestIdleReadWriteMappingsDescribeNothingAndBusyOnesDescribeOnce(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	sig := b.Signals().WriterRound
	describes := func() int { return b.Org.APICalls()["describe"] }
	before, mark := describes(), sig.Mark()
	enginetest.Rounds(t, sig, "writer rounds", mark, 20, b.Conn.ID)
	if got := describes() - before; got != 0 {
		t.Fatalf("20 idle writer rounds made %d describe calls, want 0", got)
	}
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('BUSY-1', 1)`)
	sfidOf(b, "invoice__c", "external_id__c = 'BUSY-1'")
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('BUSY-2', 2)`)
	sfidOf(b, "invoice__c", "external_id__c = 'BUSY-2'")
	if got := describes() - before; got != 1 {
		t.Fatalf("two writes within minutes made %d describe calls, want 1", got)
	}
}

func lastOp(b *enginetest.Harness, table, where string) string {
	b.T.Helper()
	var op string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT coalesce(_hc_lastop, '') FROM `+b.Schema+`.`+table+` WHERE `+where).Scan(&op); err != nil {
		b.T.Fatal(err)
	}
	return op
}

func TestLastOpIsTheLastOperationOfABatch(t *testing.T) {
	t.Parallel()
	for _, algo := range []connection.WriteAlgorithm{connection.Ordered, connection.Merged} {
		t.Run(string(algo), func(t *testing.T) {
			t.Parallel()
			// No poll reads the record back (its echo would make the row SYNCED) while the test looks.
			b := enginetest.New(t, enginetest.Options{PollInterval: time.Hour})
			readWriteInvoices(b, true)
			pausedBatchWith(b, algo, `INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('LAST-1', 1)`,
				`UPDATE $schema.invoice__c SET amount__c = 2 WHERE external_id__c = 'LAST-1'`,
				`UPDATE $schema.invoice__c SET status__c = 'Sent' WHERE external_id__c = 'LAST-1'`)
			sfidOf(b, "invoice__c", "external_id__c = 'LAST-1'")
			b.Eventually("the batch to be recorded", 10*time.Second, func() (bool, string) {
				s := logStates(b)
				return s["NEW"] == 0 && s["PENDING"] == 0, fmt.Sprint(s)
			})
			if op := lastOp(b, "invoice__c", "external_id__c = 'LAST-1'"); op != "UPDATED" {
				t.Fatalf("_hc_lastop after an insert and two updates = %q, want UPDATED (%v)", op, logStates(b))
			}
		})
	}
}

func TestAMergedUpdateAndDeleteIsLoggedAsTheDeleteItWas(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	readWriteInvoices(b, true)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('UD-1', 1)`)
	sfid := sfidOf(b, "invoice__c", "external_id__c = 'UD-1'")
	pausedBatchWith(b, connection.Merged, `UPDATE $schema.invoice__c SET amount__c = 2 WHERE external_id__c = 'UD-1'`,
		`DELETE FROM $schema.invoice__c WHERE external_id__c = 'UD-1'`)
	b.Eventually("the record deleted in Salesforce", 10*time.Second, func() (bool, string) {
		return b.Org.Record("Invoice__c", sfid) == nil, fmt.Sprint(logStates(b))
	})
	b.Eventually("the batch to be recorded", 10*time.Second, func() (bool, string) {
		s := logStates(b)
		return s["NEW"] == 0 && s["PENDING"] == 0, fmt.Sprint(s)
	})
	got := map[string]string{}
	rows, err := b.Pool.Query(b.Ctx, `SELECT action, state, coalesce(sf_message, '') FROM `+b.Schema+`._trigger_log WHERE action IN ('UPDATE', 'DELETE')`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var action, state, msg string
		_ = rows.Scan(&action, &state, &msg)
		got[action] = state
	}
	if got["DELETE"] != "SUCCESS" || got["UPDATE"] != "MERGED" {
		t.Fatalf("the log says %v: the delete was written and the update merged into it", got)
	}
}

func TestFailedWritesOfADeletedMappingDoNotCountAgainstANewMappingOfTheTable(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	m := readWriteInvoices(b, true)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('NEG-1', -5)`) // refused by a validation rule
	b.Eventually("the write to fail", 10*time.Second, func() (bool, string) { s := logStates(b); return s["FAILED"] == 1, fmt.Sprint(s) })
	if err := b.Admin.Mappings.Delete(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	readWriteInvoices(b, true)
	counts, err := report.New(b.Pool).Counts(b.Ctx, b.Schema, []string{"invoice__c"})
	if err != nil {
		t.Fatal(err)
	}
	if n := counts["invoice__c"].Failed; n != 0 {
		t.Fatalf("the new mapping shows %d failed writes of the deleted one", n)
	}
	if s := logStates(b); s["IGNORED"] != 1 {
		t.Fatalf("the deleted mapping's failure is kept, dismissed: %v", s)
	}
}
