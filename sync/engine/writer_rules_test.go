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
func pausedBatch(b *enginetest.Harness, statements ...string) {
	b.T.Helper()
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		b.T.Fatal(err)
	}
	b.ConnState(connection.Paused)
	for _, s := range statements {
		b.Exec(s)
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		b.T.Fatal(err)
	}
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
	if err := b.Org.AddObject("Gadget__c", "Gadget", sforg.FieldDef{Name: "Color__c", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true}); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Idle)
	gadgets := b.CreateMapping("Gadget__c", mapping.ReadWrite, "Color__c")
	b.MappingState(gadgets.ID, mapping.DataSynced)
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
