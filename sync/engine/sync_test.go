package engine_test

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

func TestCreateMappingLoadsThenPollsChangesAndDeletes(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 7})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name", "Industry", "NumberOfEmployees", "CreatedDate", "External_Id__c")
	b.MappingState(m.ID, mapping.DataSynced)
	if got, want := b.Count("account", ""), b.Org.Count("Account"); got != want || got == 0 {
		t.Fatalf("loaded %d rows, org has %d", got, want)
	}
	if n := b.Count("account", "_hc_lastop = 'SYNCED' AND sfid IS NOT NULL AND systemmodstamp IS NOT NULL"); n != b.Org.Count("Account") {
		t.Fatalf("every loaded row is SYNCED with sfid and systemmodstamp: %d", n)
	}

	// A change in Salesforce reaches Postgres at the next poll.
	var id string
	for k := range b.Org.Records("Account") {
		id = k
		break
	}
	if err := b.Org.UpdateAsUser("Account", id, map[string]any{"Name": "Renamed in Salesforce", "NumberOfEmployees": 42}); err != nil {
		t.Fatal(err)
	}
	newID, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Brand New"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the edit and the insert to arrive", 10*time.Second, func() (bool, string) {
		n := b.Count("account", "(sfid = $1 AND name = 'Renamed in Salesforce' AND numberofemployees = 42) OR (sfid = $2 AND name = 'Brand New')", id, newID)
		return n == 2, fmt.Sprint(n)
	})
	// A delete in Salesforce removes the row.
	if err := b.Org.DeleteAsUser("Account", newID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the delete to arrive", 10*time.Second, func() (bool, string) {
		n := b.Count("account", "sfid = $1", newID)
		return n == 0, fmt.Sprint(n)
	})
	// Nothing of this was captured for Salesforce: no echo.
	if n := b.Count("_trigger_log", ""); n != 0 {
		t.Fatalf("%d trigger log rows from pgforce's own writes", n)
	}
}

func TestReadWriteMappingSendsInsertsUpdatesAndDeletes(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadWrite, "LastName", "FirstName", "Email")
	b.MappingState(m.ID, mapping.DataSynced)

	b.Exec(`INSERT INTO $schema.contact (lastname, firstname, email) VALUES ('Lovelace', 'Ada', 'ada@example.com')`)
	var sfid string
	b.Eventually("the insert to reach Salesforce and its sfid to come back", 10*time.Second, func() (bool, string) {
		var lastop string
		err := b.Pool.QueryRow(b.Ctx, `SELECT coalesce(sfid, ''), coalesce(_hc_lastop, '') FROM `+b.Schema+`.contact WHERE lastname = 'Lovelace'`).Scan(&sfid, &lastop)
		return err == nil && sfid != "" && lastop == "INSERTED", lastop
	})
	if rec := b.Org.Record("Contact", sfid); rec == nil || rec["Email"] != "ada@example.com" {
		t.Fatalf("Salesforce record %v", rec)
	}
	b.Exec(`UPDATE $schema.contact SET email = 'countess@example.com' WHERE sfid = $1`, sfid)
	b.Eventually("the update", 10*time.Second, func() (bool, string) {
		rec := b.Org.Record("Contact", sfid)
		return rec != nil && rec["Email"] == "countess@example.com", fmt.Sprint(rec["Email"])
	})
	b.Exec(`DELETE FROM $schema.contact WHERE sfid = $1`, sfid)
	b.Eventually("the delete", 10*time.Second, func() (bool, string) { return b.Org.Record("Contact", sfid) == nil, "" })
	b.Eventually("every change SUCCESS", 10*time.Second, func() (bool, string) {
		n := b.Count("_trigger_log", "state = 'SUCCESS'")
		return n == 3, fmt.Sprint(n)
	})
}

// A burst of changes is re-read for one overlap window, not on every poll until newer changes come:
// a million-record data load in Salesforce must not cost a million records per poll forever.
func TestABurstOfChangesIsNotReadAgainOnEveryPoll(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	b := enginetest.New(t, enginetest.Options{Seed: 7, LogTo: logs, Debug: true, Overlap: 3 * time.Second}) // polls every 300 ms
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	var last string
	for i := range 30 {
		id, err := b.Org.CreateAsUser("Account", map[string]any{"Name": fmt.Sprintf("Burst %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		last = id
	}
	// One more change in a later second moves the high-water mark a little past the burst (SOQL
	// compares whole seconds): the burst is now inside the overlap window before the mark.
	burstEnd, _ := b.Org.Record("Account", last)["SystemModstamp"].(time.Time)
	for !time.Now().Truncate(time.Second).After(burstEnd) {
		time.Sleep(10 * time.Millisecond) // waiting for the clock to pass the burst's second
	}
	if _, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Tail"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the burst in Postgres", 10*time.Second, func() (bool, string) {
		n := b.Count("account", "name LIKE 'Burst %' OR name = 'Tail'")
		return n == 31, fmt.Sprint(n)
	})
	lastFetched := func() string {
		lines := strings.Split(logs.String(), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if strings.Contains(lines[i], "msg=polled") && strings.Contains(lines[i], "object=Account") {
				f := strings.Fields(lines[i][strings.Index(lines[i], "fetched="):])[0]
				return strings.TrimPrefix(f, "fetched=")
			}
		}
		return ""
	}
	b.Eventually("polls to stop reading the burst again once the window before the last poll is past it", 15*time.Second, func() (bool, string) {
		f := lastFetched()
		return f == "0" || f == "1", "last poll fetched " + f // at most the Tail, in the mark's second
	})
}

// A record that becomes visible late, stamped before the high-water mark (Salesforce stamps a
// transaction when it starts), is still read by the next poll when its stamp is within the overlap
// window before the previous poll.
func TestARecordCommittedLateWithAnEarlierStampIsStillPolled(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 7, Overlap: 30 * time.Second})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	if _, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "On time"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the first record in Postgres", 10*time.Second, func() (bool, string) { return b.Count("account", "name = 'On time'") == 1, "" })
	var mark time.Time
	if err := b.Pool.QueryRow(b.Ctx, `SELECT max(systemmodstamp) FROM `+b.Schema+`.account`).Scan(&mark); err != nil {
		t.Fatal(err)
	}
	b.Eventually("a poll after the first record", 10*time.Second, func() (bool, string) {
		got, err := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return err == nil && got.LastPollAt != nil && got.Watermark != nil && !got.Watermark.Before(mark), "waiting"
	})
	late, err := b.Org.CreateCommittedLate("Account", map[string]any{"Name": "Committed late"}, mark.Add(-5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the late record in Postgres", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", late) == 1, "" })
}

// Salesforce stamps SystemModstamp in whole seconds, and changes made within one second tie. Two
// edits of one record in the same second, and a record created in a second a poll already read,
// must both arrive; re-reading that second afterwards must change nothing (no poll counts the same
// records again and again).
func TestSameSecondChangesAcrossPollBoundariesAllArrive(t *testing.T) {
	t.Parallel()
	var clock atomic.Int64 // the org's clock, frozen within one second for the whole test
	second := time.Now().UTC().Truncate(time.Second)
	clock.Store(second.UnixNano())
	orgNow := func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	b := enginetest.New(t, enginetest.Options{Seed: 7, Overlap: 30 * time.Second, Org: sforg.Options{Now: orgNow}})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	var id string
	for k := range b.Org.Records("Account") {
		id = k
		break
	}
	pollAfter := func(what string) {
		t.Helper()
		start := time.Now()
		b.Eventually(what, 10*time.Second, func() (bool, string) {
			got, err := b.Admin.Mappings.Get(b.Ctx, m.ID)
			return err == nil && got.LastPollAt != nil && got.LastPollAt.After(start), "waiting for a poll"
		})
	}

	if err := b.Org.UpdateAsUser("Account", id, map[string]any{"Name": "First edit"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the first edit", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1 AND name = 'First edit'", id) == 1, "" })
	pollAfter("a poll that read the second the edit was stamped in")
	if stamp := b.Org.Record("Account", id)["SystemModstamp"].(time.Time); !stamp.Equal(second) || stamp.Nanosecond() != 0 {
		t.Fatalf("SystemModstamp %v, want the whole second %v", stamp, second)
	}

	// The same second again: a second edit and a new record, tied with what the last poll saw.
	if err := b.Org.UpdateAsUser("Account", id, map[string]any{"Name": "Second edit"}); err != nil {
		t.Fatal(err)
	}
	newcomer, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Tied newcomer"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the tied edit and record", 10*time.Second, func() (bool, string) {
		n := b.Count("account", "(sfid = $1 AND name = 'Second edit') OR (sfid = $2 AND name = 'Tied newcomer')", id, newcomer)
		return n == 2, fmt.Sprint(n)
	})

	// Later polls re-read the tied second (it is in the overlap window) but find nothing new.
	pollAfter("a poll after the tied changes arrived")
	events := func() int {
		var n int
		if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM events WHERE mapping_id = $1 AND kind = 'poll'`, m.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := events()
	pollAfter("another poll")
	pollAfter("and another")
	if after := events(); after != before {
		t.Fatalf("polls re-reading the tied second recorded %d more changes", after-before)
	}
}
