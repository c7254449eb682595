package engine_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// A polling mapping's changes arrive within its interval (and a second for the poll itself) while
// another mapping of the same connection pages through a data load at every poll, its query slow to
// answer as Salesforce's is for many changes: one mapping's work never holds up another's poll (a
// /composite call that carried both would answer the contacts' query only with the slow one).
func TestAPollingMappingKeepsItsIntervalWhileAnotherOfItsConnectionPagesThroughManyChanges(t *testing.T) {
	t.Parallel()
	interval := 3 * time.Second
	// A minute's overlap, as in production: every poll of the busy mapping re-reads its data load.
	b := enginetest.New(t, enginetest.Options{Org: sforg.Options{QueryPageSize: 200}, PollInterval: interval, Overlap: time.Minute})
	b.ConnState(connection.Idle)
	busy := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	polled := b.CreateMapping("Contact", mapping.ReadOnly, "LastName")
	b.MappingState(busy.ID, mapping.DataSynced)
	b.MappingState(polled.ID, mapping.DataSynced)
	// The database stamps each contact's row as its poll commits (a deferred trigger runs at commit).
	b.Exec(`CREATE TABLE $schema.arrivals (lastname text PRIMARY KEY, at timestamptz NOT NULL);
		CREATE FUNCTION $schema.arrived() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN INSERT INTO $schema.arrivals VALUES (NEW.lastname, clock_timestamp()) ON CONFLICT DO NOTHING; RETURN NULL; END $$;
		CREATE CONSTRAINT TRIGGER arrived AFTER INSERT ON $schema.contact DEFERRABLE INITIALLY DEFERRED
		FOR EACH ROW EXECUTE FUNCTION $schema.arrived()`)

	// A data load of 1,000 accounts, five pages, whose poll query Salesforce answers in 2 s: every
	// Account poll takes most of the interval.
	if err := b.Org.InjectFault(sforg.Fault{SOQL: `FROM Account WHERE \(SystemModstamp >`, Latency: 2 * time.Second, Count: -1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Org.Generate("Account", 1000, 1); err != nil {
		t.Fatal(err)
	}
	paging := b.Org.APICalls()["queryMore"]
	b.Eventually("the Account polls to page through the data load", 30*time.Second, func() (bool, string) {
		n := b.Org.APICalls()["queryMore"] - paging
		return n >= 4, fmt.Sprintf("%d queryMore calls", n)
	})

	// Contacts created in Salesforce every 100 ms over three intervals, at every point of the cycle.
	paging = b.Org.APICalls()["queryMore"]
	const samples = 90
	created := make([]time.Time, samples)
	pace := time.NewTicker(3 * interval / samples) // the pace of the changes, not a wait for the engine
	defer pace.Stop()
	for i := range samples {
		if _, err := b.Org.CreateAsUser("Contact", map[string]any{"LastName": fmt.Sprintf("Sample %02d", i)}); err != nil {
			t.Fatal(err)
		}
		created[i] = time.Now() // from when the record is in Salesforce
		<-pace.C
	}
	b.Eventually("every contact to arrive", 30*time.Second, func() (bool, string) {
		n := b.Count("arrivals", "")
		return n == samples, fmt.Sprintf("%d of %d", n, samples)
	})
	if n := b.Org.APICalls()["queryMore"] - paging; n < 8 {
		t.Fatalf("the Account polls read %d pages while the contacts arrived: the busy mapping did not page throughout", n)
	}

	rows, err := b.Pool.Query(b.Ctx, `SELECT lastname, at FROM `+b.Schema+`.arrivals`)
	if err != nil {
		t.Fatal(err)
	}
	arrived := map[string]time.Time{}
	for rows.Next() {
		var name string
		var at time.Time
		if err := rows.Scan(&name, &at); err != nil {
			t.Fatal(err)
		}
		arrived[name] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var latencies []time.Duration
	for i, at := range created {
		latencies = append(latencies, arrived[fmt.Sprintf("Sample %02d", i)].Sub(at))
	}
	worst := slices.Max(latencies)
	t.Logf("Salesforce → Postgres latency of %d contacts polled every %v beside a paging mapping: median %v, worst %v",
		samples, interval, median(latencies).Round(time.Millisecond), worst.Round(time.Millisecond))
	if worst > interval+time.Second {
		t.Fatalf("a contact took %v to arrive, polled every %v beside a mapping paging through a data load: want at most %v",
			worst.Round(time.Millisecond), interval, interval+time.Second)
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// A poll whose connection is paused while its records download applies none of them (the poll
// checks the connection's state in the transaction of its rows); Resume polls again and they arrive.
func TestAPollWhoseConnectionIsPausedWhileItsRecordsDownloadAppliesNothing(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadOnly, "LastName")
	b.MappingState(m.ID, mapping.DataSynced)
	// After a first poll and its count check (the next in 10 minutes), a poll's query is the next call.
	enginetest.Rounds(t, b.Signals().PollDone, "a first poll", 0, 1, m.ID)
	enginetest.Rounds(t, b.Signals().WorkerRound, "the end of the first poll's round", b.Signals().WorkerRound.Mark(), 1, m.ID)
	if err := b.Org.InjectFault(sforg.Fault{Method: "GET", Path: "/query", Latency: time.Second}); err != nil {
		t.Fatal(err)
	}
	id, err := b.Org.CreateAsUser("Contact", map[string]any{"LastName": "Answered after the pause"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("a poll's query to be under way", 10*time.Second, func() (bool, string) {
		return len(b.Org.Faults()) == 0, "the slow query is not asked yet"
	})
	rounds := b.Signals().WorkerRound.Mark()
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	enginetest.Rounds(t, b.Signals().WorkerRound, "the round of the poll under way", rounds, 1, m.ID)
	if n := b.Count("contact", "sfid = $1", id); n != 0 {
		t.Fatal("the poll under way when the connection was paused applied what Salesforce answered after the pause")
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the contact to arrive after Resume", 10*time.Second, func() (bool, string) {
		return b.Count("contact", "sfid = $1", id) == 1, ""
	})
}

// A poll paging through many changed records stops asking for pages once its connection is paused:
// PAUSED means pgforce makes no more calls for it (it would apply none of those records anyway).
func TestAPollStopsPagingWhenItsConnectionIsPaused(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadOnly, "LastName")
	b.MappingState(m.ID, mapping.DataSynced)
	enginetest.Rounds(t, b.Signals().PollDone, "a first poll", 0, 1, m.ID)
	// 20,000 changes: a first page and nine queryMore calls of 2,000, each slow.
	if err := b.Org.InjectFault(sforg.Fault{Method: "GET", Path: "/query/", Latency: 300 * time.Millisecond, Count: -1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Org.Generate("Contact", 20000, 11); err != nil {
		t.Fatal(err)
	}
	before := b.Org.APICalls()["queryMore"]
	b.Eventually("the poll to page", 20*time.Second, func() (bool, string) {
		return b.Org.APICalls()["queryMore"] > before, "no queryMore yet"
	})
	rounds := b.Signals().WorkerRound.Mark()
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Paused)
	atPause := b.Org.APICalls()["queryMore"]
	enginetest.Rounds(t, b.Signals().WorkerRound, "the round of the poll under way", rounds, 1, m.ID)
	// The page in flight and the one read ahead of it may still be answered; no more are asked.
	if after := b.Org.APICalls()["queryMore"]; after-atPause > 2 {
		t.Fatalf("%d queryMore calls after the connection was PAUSED (of %d pages left)", after-atPause, 9-(atPause-before))
	}
	if n := b.Count("contact", ""); n >= 20000 {
		t.Fatalf("the paused poll applied its records (%d rows)", n)
	}
}
