package engine_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/pubsub"
)

// transport is how Salesforce's changes reach Postgres in a conflict test: polled every 300 ms, or
// announced by change events over CometD or the Pub/Sub API (the mapping is accelerated and polls
// hourly, so an event is what brings a change).
type transport string

const (
	polled   transport = "polled"
	byCometD transport = "cometd"
	byPubSub transport = "pubsub"
)

// transports are the ways every conflict case runs.
var transports = []transport{polled, byCometD, byPubSub}

// transportsFor are the transports a case runs over in a write mode: polled and over CometD always;
// over the Pub/Sub API only in the case's one setting that stands for the others (pubsub), in
// ordered mode. A Pub/Sub event asks for the same poll as a CometD one, and the write mode is the
// writer's, so the package's tests stay fast.
func transportsFor(algo connection.WriteAlgorithm, pubsub bool) []transport {
	if pubsub && algo == connection.Ordered {
		return transports
	}
	return []transport{polled, byCometD}
}

func (tr transport) streams() bool { return tr != polled }

// newTransportHarness is the harness for a transport: with streaming, polls come hourly, Invoice__c
// publishes change events and, over Pub/Sub, the org serves its Pub/Sub API.
func newTransportHarness(t *testing.T, tr transport) *enginetest.Harness {
	t.Helper()
	o := enginetest.Options{}
	if tr.streams() {
		o.PollInterval, o.PubSub = time.Hour, tr == byPubSub
	}
	b := enginetest.New(t, o)
	if tr.streams() {
		if err := b.Org.SelectForCDC("Invoice__c"); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// storedReplay is the replay id of the newest change event the mapping's polls stored, over tr.
func storedReplay(b *enginetest.Harness, id int64, tr transport) int64 {
	b.T.Helper()
	m, err := b.Admin.Mappings.Get(b.Ctx, id)
	if err != nil {
		b.T.Fatal(err)
	}
	switch tr {
	case byCometD:
		if m.ReplayID != nil {
			return *m.ReplayID
		}
	case byPubSub:
		if n, ok := pubsub.ReplayNumber(m.PubSubReplayID); ok {
			return n
		}
	}
	return 0
}

// awaitStreaming waits until Invoice__c's change events stream over tr and the mapping stored the
// replay id of one: from then on a resubscription replays what it missed, so every change made in
// Salesforce arrives by event. Until then an unrelated invoice is created in Salesforce each second.
func awaitStreaming(b *enginetest.Harness, m mapping.Mapping, tr transport) {
	b.T.Helper()
	b.Eventually("the mapping to stream over "+string(tr), 20*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.StreamTransport == string(tr), m.StreamTransport
	})
	if tr == byPubSub {
		b.Eventually("the org to serve the subscription", 20*time.Second, func() (bool, string) {
			return b.PubSub.Subscribers(salesforce.ChannelFor("Invoice__c")) > 0, "not yet"
		})
	}
	var created time.Time
	n := 0
	b.Eventually("a change event's replay id stored", 30*time.Second, func() (bool, string) {
		if storedReplay(b, m.ID, tr) > 0 {
			return true, ""
		}
		if time.Since(created) > time.Second {
			n++
			if _, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": fmt.Sprint("WARM-", n), "Amount__c": 0}); err != nil {
				b.T.Fatal(err)
			}
			created = time.Now()
		}
		return false, "none stored"
	})
}

// heldChanges holds the captured changes waiting in the trigger log back from the writer (it claims
// with SKIP LOCKED) until release: with streaming, the connection resumes and Salesforce's change
// arrives by event while the Postgres change is captured and not yet sent.
type heldChanges struct {
	b  *enginetest.Harness
	tx pgx.Tx
}

func holdCaptured(b *enginetest.Harness) *heldChanges {
	b.T.Helper()
	tx, err := b.Pool.Begin(b.Ctx)
	if err != nil {
		b.T.Fatal(err)
	}
	h := &heldChanges{b: b, tx: tx}
	b.T.Cleanup(h.release)
	var n int
	if err := tx.QueryRow(b.Ctx, `WITH held AS (SELECT id FROM `+b.Schema+`._trigger_log WHERE state = 'NEW' FOR UPDATE) SELECT count(*) FROM held`).Scan(&n); err != nil {
		b.T.Fatal(err)
	}
	if n == 0 {
		b.T.Fatal("no captured change to hold")
	}
	return h
}

func (h *heldChanges) release() {
	if h.tx != nil {
		_ = h.tx.Rollback(context.WithoutCancel(h.b.Ctx))
		h.tx = nil
	}
}

// streamedIn waits until the change event of Salesforce's latest change was received (a poll stored
// its replay id) and then until arrived holds (the poll it asked for applied the change).
func streamedIn(b *enginetest.Harness, m mapping.Mapping, tr transport, arrived func() (bool, string)) {
	b.T.Helper()
	newest := b.Org.NewestReplayID()
	b.Eventually(fmt.Sprintf("change event %d received", newest), 20*time.Second, func() (bool, string) {
		got := storedReplay(b, m.ID, tr)
		return got >= newest, fmt.Sprint("stored ", got)
	})
	if arrived != nil {
		b.Eventually("Salesforce's change applied in Postgres", 10*time.Second, arrived)
	}
}

// cycles waits for n more polls of the mapping: polled, n rounds of the poll loop; streaming, polls
// come on events, so an unrelated invoice is created in Salesforce before each.
func cycles(b *enginetest.Harness, m mapping.Mapping, tr transport, n int) {
	b.T.Helper()
	for i := range n {
		mark := b.Signals().PollDone.Mark()
		if tr.streams() {
			if _, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": fmt.Sprintf("NOISE-%d-%d", time.Now().UnixNano(), i), "Amount__c": 0}); err != nil {
				b.T.Fatal(err)
			}
		}
		enginetest.Rounds(b.T, b.Signals().PollDone, fmt.Sprintf("poll %d of %d", i+1, n), mark, 1, m.ID)
	}
}
