package engine_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
)

// Salesforce faults, each injected on every kind of request while both directions have work: the
// engine retries (or refreshes its session, or waits out the limit) and ends with both sides equal,
// nothing failed and nothing written twice.
func TestSalesforceFaultsAreRiddenOutWithoutLossOrDuplicates(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name  string
		fault sforg.Fault
		// reauth: the session cannot be refreshed (a password-flow connection has no refresh token),
		// so the connection waits in NEED_AUTHENTICATION until an admin authorizes it again.
		reauth bool
	}{
		{"500 UNKNOWN_EXCEPTION", sforg.Fault{Status: 500, Code: "UNKNOWN_EXCEPTION", Message: "An unexpected error occurred", Count: 2}, false},
		{"503 SERVER_UNAVAILABLE", sforg.Fault{Status: 503, Code: "SERVER_UNAVAILABLE", Message: "Server unavailable", Count: 2}, false},
		{"UNABLE_TO_LOCK_ROW", sforg.Fault{Status: 400, Code: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record", Count: 2}, false},
		{"REQUEST_LIMIT_EXCEEDED", sforg.Fault{Status: 403, Code: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded.", Count: 2}, false},
		{"INVALID_SESSION_ID", sforg.Fault{Status: 401, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid", Count: 1}, true},
		{"dropped connections", sforg.Fault{Drop: true, Count: 2}, false},
		{"slow answers", sforg.Fault{Latency: 1500 * time.Millisecond, Count: 3}, false},
	}
	for _, tc := range faults {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := enginetest.New(t, enginetest.Options{Seed: 1})
			m := readWriteInvoices(b, true)
			before := b.Org.Count("Invoice__c")
			// The same fault on the writes' path and on the polls' path.
			paths := []string{"/composite/", "/query"}
			if tc.reauth {
				paths = paths[:1] // one expired session, not one per re-authorization
			}
			for _, path := range paths {
				f := tc.fault
				f.Path = path
				if err := b.Org.InjectFault(f); err != nil {
					t.Fatal(err)
				}
			}
			// Work in both directions while the fault lasts.
			sfID, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": "FAULT-SF", "Amount__c": 5})
			if err != nil {
				t.Fatal(err)
			}
			b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) SELECT 'FAULT-PG-' || g, g, 'Draft' FROM generate_series(1, 300) g`)
			if tc.reauth {
				b.ConnState(connection.NeedAuthentication)
				if _, err := b.Admin.Connections.AuthorizeWithPassword(b.Ctx, enginetest.Admin, b.Conn.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
					t.Fatal(err)
				}
			}
			b.Eventually("both directions to arrive", 60*time.Second, func() (bool, string) {
				s := logStates(b)
				got := b.Count("invoice__c", "sfid = $1", sfID)
				return got == 1 && s["NEW"]+s["PENDING"] == 0, fmt.Sprintf("salesforce record in pg: %d, log %v", got, s)
			})
			if s := logStates(b); s["FAILED"] != 0 {
				t.Fatalf("changes failed under %s: %v", tc.name, s)
			}
			seen := map[string]int{}
			for _, rec := range b.Org.Records("Invoice__c") {
				if ext, _ := rec["External_Id__c"].(string); strings.HasPrefix(ext, "FAULT-PG-") {
					seen[ext]++
				}
			}
			if len(seen) != 300 || b.Org.Count("Invoice__c") != before+301 {
				t.Fatalf("%d of 300 rows reached Salesforce; %d records, want %d", len(seen), b.Org.Count("Invoice__c"), before+301)
			}
			b.MappingState(m.ID, mapping.DataSynced)
			b.ConnState(connection.Idle)
		})
	}
}

// Postgres terminating pgforce's sessions (a failover, an admin's pg_terminate_backend) in the middle
// of polling and writing: pgforce reconnects and nothing is lost or written twice.
func TestTerminatedDatabaseSessionsAreReconnectedWithoutLoss(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	m := readWriteInvoices(b, true)
	before := b.Org.Count("Invoice__c")
	var app string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT current_setting('application_name')`).Scan(&app); err != nil {
		t.Fatal(err)
	}
	// The test's own statements go through sessions that are not terminated.
	side, err := store.Open(b.Ctx, store.Options{URL: storetest.URL(), Schema: app, AppName: "side of " + app})
	if err != nil {
		t.Fatal(err)
	}
	defer side.Close()
	query := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := side.QueryRow(b.Ctx, strings.ReplaceAll(sql, "$schema", b.Schema), args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	var sfIDs []string
	terminated := 0
	for round := range 3 {
		id, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": fmt.Sprintf("PGKILL-SF-%d", round), "Amount__c": round})
		if err != nil {
			t.Fatal(err)
		}
		sfIDs = append(sfIDs, id)
		query(fmt.Sprintf(`WITH i AS (INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) SELECT 'PGKILL-%d-' || g, g, 'Draft' FROM generate_series(1, 200) g RETURNING 1) SELECT count(*) FROM i`, round))
		terminated += query(`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app)
	}
	b.Eventually("both directions to arrive", 60*time.Second, func() (bool, string) {
		got := query(`SELECT count(*) FROM $schema.invoice__c WHERE sfid = ANY($1)`, sfIDs)
		waiting := query(`SELECT count(*) FROM $schema._trigger_log WHERE state IN ('NEW', 'PENDING')`)
		return got == len(sfIDs) && waiting == 0, fmt.Sprintf("salesforce records in pg: %d, waiting writes %d", got, waiting)
	})
	if failed, ok := query(`SELECT count(*) FROM $schema._trigger_log WHERE state = 'FAILED'`), query(`SELECT count(*) FROM $schema._trigger_log WHERE state = 'SUCCESS'`); failed != 0 || ok != 600 {
		t.Fatalf("trigger log after the terminations: %d failed, %d written", failed, ok)
	}
	if got := b.Org.Count("Invoice__c"); got != before+603 {
		t.Fatalf("%d records in Salesforce, want %d (nothing twice)", got, before+603)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	b.ConnState(connection.Idle)
	t.Logf("%d database sessions terminated", terminated)
}

// syncLog is a log the test can wait on.
type syncLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// The database goes away (a restart, a network cut) while both sides change: pgforce notices,
// reconnects by itself when it is back, records the outage as DB_UNAVAILABLE in the connection's
// history, and catches up with nothing lost or written twice.
func TestDatabaseOutageIsRecordedAndRecoveredAutomatically(t *testing.T) {
	t.Parallel()
	logs := &syncLog{}
	b := enginetest.New(t, enginetest.Options{Seed: 1, ViaProxy: true, LogTo: logs})
	m := readWriteInvoices(b, true)
	before := b.Org.Count("Invoice__c")
	b.Proxy.Down()
	// Both sides keep changing; the application reaches the database directly.
	sfID, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": "OUTAGE-SF", "Amount__c": 1})
	if err != nil {
		t.Fatal(err)
	}
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c, status__c) SELECT 'OUTAGE-PG-' || g, g, 'Draft' FROM generate_series(1, 50) g`)
	b.Eventually("pgforce to notice the outage", 30*time.Second, func() (bool, string) {
		return logs.has("the database is unreachable"), ""
	})
	b.Proxy.Up()
	b.Eventually("both directions to catch up", 60*time.Second, func() (bool, string) {
		s := logStates(b)
		got := b.Count("invoice__c", "sfid = $1", sfID)
		return got == 1 && s["NEW"]+s["PENDING"] == 0, fmt.Sprintf("salesforce record in pg: %d, log %v", got, s)
	})
	if s := logStates(b); s["FAILED"] != 0 || s["SUCCESS"] != 50 {
		t.Fatalf("trigger log: %v", s)
	}
	if got := b.Org.Count("Invoice__c"); got != before+51 {
		t.Fatalf("%d records in Salesforce, want %d", got, before+51)
	}
	var reason string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT message FROM events WHERE connection_id = $1 AND to_state = 'DB_UNAVAILABLE'`, b.Conn.ID).Scan(&reason); err != nil || !strings.Contains(reason, "could not be reached") {
		t.Fatalf("the outage in the connection's history: %q %v", reason, err)
	}
	b.ConnState(connection.Idle)
	b.MappingState(m.ID, mapping.DataSynced)
}

// Errors Postgres raises while pgforce applies Salesforce changes to one table: a statement timeout
// is retried until it passes; a lasting error (a full disk) stops that mapping only, with the
// database's message, and the connection's other mappings keep syncing.
func TestTableErrorsStayWithTheirMapping(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	b.ConnState(connection.Idle)
	leads := b.CreateMapping("Lead", mapping.ReadOnly, "LastName", "Company")
	contacts := b.CreateMapping("Contact", mapping.ReadOnly, "LastName")
	accounts := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	for _, id := range []int64{leads.ID, contacts.ID, accounts.ID} {
		b.MappingState(id, mapping.DataSynced)
	}
	// Lead: the next two writes time out. Contact: every write hits a full disk.
	// (A sequence counts the timeouts: it survives the rollback each one causes.)
	b.Exec(`CREATE SEQUENCE $schema.timeouts;
		CREATE FUNCTION $schema.time_out() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('` + b.Schema + `.timeouts') <= 2 THEN
				RAISE EXCEPTION 'canceling statement due to statement timeout' USING ERRCODE = '57014';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER time_out BEFORE INSERT OR UPDATE ON $schema.lead FOR EACH ROW EXECUTE FUNCTION $schema.time_out();
		CREATE FUNCTION $schema.disk_full() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = '53100'; END $$;
		CREATE TRIGGER disk_full BEFORE INSERT OR UPDATE ON $schema.contact FOR EACH ROW EXECUTE FUNCTION $schema.disk_full();`)
	lead, _ := b.Org.CreateAsUser("Lead", map[string]any{"LastName": "Timeout", "Company": "Slow Co"})
	_, _ = b.Org.CreateAsUser("Contact", map[string]any{"LastName": "Full"})
	account, _ := b.Org.CreateAsUser("Account", map[string]any{"Name": "Unaffected"})
	b.Eventually("the Contact mapping to stop with the database's message", 20*time.Second, func() (bool, string) {
		m, err := b.Admin.Mappings.Get(b.Ctx, contacts.ID)
		return err == nil && m.State.Severity() == "bad" && strings.Contains(m.StateReason, "No space left"), string(m.State) + " " + m.StateReason
	})
	b.Eventually("the other mappings to keep syncing", 30*time.Second, func() (bool, string) {
		return b.Count("lead", "sfid = $1", lead) == 1 && b.Count("account", "sfid = $1", account) == 1, ""
	})
	for _, id := range []int64{leads.ID, accounts.ID} {
		b.MappingState(id, mapping.DataSynced)
	}
	if c, _ := b.Admin.Connections.Get(b.Ctx, b.Conn.ID); c.State == connection.SystemError {
		t.Fatalf("one table's error stopped the whole connection: %s", c.StateReason)
	}
}
