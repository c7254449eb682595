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

// The polls of a connection's mappings that are due together share one API call (a /composite
// request of their queries), where Heroku Connect makes one query per mapping per interval; a
// mapping with more changes than a page reads the rest with queryMore, and every change arrives.
func TestPollsOfAConnectionShareOneCallAndPageOnlyWithChanges(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Org: sforg.Options{QueryPageSize: 5}, PollInterval: 400 * time.Millisecond})
	b.ConnState(connection.Idle)
	objects := []string{"Account", "Contact", "Lead", "Opportunity"}
	fields := map[string][]string{"Account": {"Name"}, "Contact": {"LastName"}, "Lead": {"LastName", "Company"}, "Opportunity": {"Name", "StageName", "CloseDate"}}
	var ms []mapping.Mapping
	for _, o := range objects {
		m := b.CreateMapping(o, mapping.ReadOnly, fields[o]...)
		ms = append(ms, m)
	}
	for _, m := range ms {
		b.MappingState(m.ID, mapping.DataSynced)
	}
	sig := b.Signals().PollDone
	// After a first round (which also compares counts), the idle polls.
	for _, m := range ms {
		enginetest.Rounds(t, sig, "a first poll", sig.Mark(), 1, m.ID)
	}
	before, mark := b.Org.APICalls(), sig.Mark()
	for _, m := range ms {
		enginetest.Rounds(t, sig, "three idle polls", mark, 3, m.ID)
	}
	polls := sig.Mark() - mark
	calls := total(b.Org.APICalls()) - total(before)
	if calls*2 > polls {
		t.Fatalf("%d polls of %d mappings made %d API calls (%v → %v): batched, they make about one per round", polls, len(ms), calls, before, b.Org.APICalls())
	}

	// Twelve new contacts (more than a page of five) and one account arrive; only the contacts page on.
	more := b.Org.APICalls()["queryMore"]
	for i := range 12 {
		if _, err := b.Org.CreateAsUser("Contact", map[string]any{"LastName": fmt.Sprintf("Batched %02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Batched account"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("every change to arrive", 20*time.Second, func() (bool, string) {
		c, a := b.Count("contact", "lastname LIKE 'Batched %'"), b.Count("account", "name = 'Batched account'")
		return c == 12 && a == 1, fmt.Sprintf("%d contacts, %d accounts", c, a)
	})
	if got := b.Org.APICalls()["queryMore"] - more; got < 2 {
		t.Fatalf("%d queryMore calls: the contacts' poll reads its 12 records 5 to a page", got)
	}
}

func total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

// While an accelerated mapping's change events stream, its regular poll becomes a rare safety poll
// (every change event makes it poll at once); polling mappings keep their interval.
func TestAStreamingMappingPollsOnlyRarelyWhileAPollingOneKeepsItsInterval(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 6, PollInterval: 300 * time.Millisecond})
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Name", "Industry")
	cfg.SFNotifyEnabled = true
	streaming, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	polling := b.CreateMapping("Contact", mapping.ReadOnly, "LastName")
	b.MappingState(streaming.ID, mapping.DataSynced)
	b.MappingState(polling.ID, mapping.DataSynced)
	// A change that arrives quickly came by the stream: the subscription is up.
	if _, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Warm-up"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the first streamed change", 20*time.Second, func() (bool, string) {
		return b.Count("account", "name = 'Warm-up'") == 1, ""
	})
	sig := b.Signals().PollDone
	enginetest.Rounds(t, sig, "a poll of the streamed change", 0, 1, streaming.ID)
	mark := sig.Mark()
	enginetest.Rounds(t, sig, "eight polls of the polling mapping", mark, 8, polling.ID)
	n := 0
	for _, id := range sig.Since(mark) {
		if id == streaming.ID {
			n++
		}
	}
	if n > 1 {
		t.Fatalf("the streaming mapping polled %d times while the polling one polled 8 times at 300 ms", n)
	}
}
