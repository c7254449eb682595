package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

func TestCreateMappingLoadsThenPollsChangesAndDeletes(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{seed: 7})
	b.connState(connection.Idle)
	m := b.createMapping("Account", mapping.ReadOnly, "Name", "Industry", "NumberOfEmployees", "CreatedDate", "External_Id__c")
	b.mappingState(m.ID, mapping.DataSynced)
	if got, want := b.count("account", ""), b.org.Count("Account"); got != want || got == 0 {
		t.Fatalf("loaded %d rows, org has %d", got, want)
	}
	if n := b.count("account", "_hc_lastop = 'SYNCED' AND sfid IS NOT NULL AND systemmodstamp IS NOT NULL"); n != b.org.Count("Account") {
		t.Fatalf("every loaded row is SYNCED with sfid and systemmodstamp: %d", n)
	}

	// A change in Salesforce reaches Postgres at the next poll.
	var id string
	for k := range b.org.Records("Account") {
		id = k
		break
	}
	if err := b.org.UpdateAsUser("Account", id, map[string]any{"Name": "Renamed in Salesforce", "NumberOfEmployees": 42}); err != nil {
		t.Fatal(err)
	}
	newID, err := b.org.CreateAsUser("Account", map[string]any{"Name": "Brand New"})
	if err != nil {
		t.Fatal(err)
	}
	b.eventually("the edit and the insert to arrive", 10*time.Second, func() (bool, string) {
		n := b.count("account", "(sfid = $1 AND name = 'Renamed in Salesforce' AND numberofemployees = 42) OR (sfid = $2 AND name = 'Brand New')", id, newID)
		return n == 2, fmt.Sprint(n)
	})
	// A delete in Salesforce removes the row.
	if err := b.org.DeleteAsUser("Account", newID); err != nil {
		t.Fatal(err)
	}
	b.eventually("the delete to arrive", 10*time.Second, func() (bool, string) {
		n := b.count("account", "sfid = $1", newID)
		return n == 0, fmt.Sprint(n)
	})
	// Nothing of this was captured for Salesforce: no echo.
	if n := b.count("_trigger_log", ""); n != 0 {
		t.Fatalf("%d trigger log rows from pgforce's own writes", n)
	}
}

func TestReadWriteMappingSendsInsertsUpdatesAndDeletes(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{})
	b.connState(connection.Idle)
	m := b.createMapping("Contact", mapping.ReadWrite, "LastName", "FirstName", "Email")
	b.mappingState(m.ID, mapping.DataSynced)

	b.exec(`INSERT INTO $schema.contact (lastname, firstname, email) VALUES ('Lovelace', 'Ada', 'ada@example.com')`)
	var sfid string
	b.eventually("the insert to reach Salesforce and its sfid to come back", 10*time.Second, func() (bool, string) {
		var lastop string
		err := b.pool.QueryRow(b.ctx, `SELECT coalesce(sfid, ''), coalesce(_hc_lastop, '') FROM `+b.schema+`.contact WHERE lastname = 'Lovelace'`).Scan(&sfid, &lastop)
		return err == nil && sfid != "" && lastop == "INSERTED", lastop
	})
	if rec := b.org.Record("Contact", sfid); rec == nil || rec["Email"] != "ada@example.com" {
		t.Fatalf("Salesforce record %v", rec)
	}
	b.exec(`UPDATE $schema.contact SET email = 'countess@example.com' WHERE sfid = $1`, sfid)
	b.eventually("the update", 10*time.Second, func() (bool, string) {
		rec := b.org.Record("Contact", sfid)
		return rec != nil && rec["Email"] == "countess@example.com", fmt.Sprint(rec["Email"])
	})
	b.exec(`DELETE FROM $schema.contact WHERE sfid = $1`, sfid)
	b.eventually("the delete", 10*time.Second, func() (bool, string) { return b.org.Record("Contact", sfid) == nil, "" })
	b.eventually("every change SUCCESS", 10*time.Second, func() (bool, string) {
		n := b.count("_trigger_log", "state = 'SUCCESS'")
		return n == 3, fmt.Sprint(n)
	})
}
