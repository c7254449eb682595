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
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce/pubsub"
	"pgforce/sync/salesforce/sforg"
)

// pubsubBench is the harness with the org's Pub/Sub API served.
type pubsubBench struct{ *enginetest.Harness }

// newPubSubBench polls hourly, so only change events make changes arrive within a test's deadline
// (generous: a loaded machine is slow, and how fast is the benchmark's to measure); the org serves its
// Pub/Sub API.
func newPubSubBench(t *testing.T, configure func(*engine.Options)) *pubsubBench {
	b := &pubsubBench{enginetest.New(t, enginetest.Options{Seed: 6, NoStart: true, PubSub: true, Org: sforg.Options{RedirectURIs: []string{dashboardCallback}}})}
	b.Options.PollInterval = time.Hour
	if configure != nil {
		configure(&b.Options)
	}
	b.restart()
	b.ConnState(connection.Idle)
	return b
}

// restart runs a new engine (the harness's or the one before it stopped).
func (b *pubsubBench) restart() {
	b.Engine.Stop()
	b.Engine = engine.New(b.Options)
	b.T.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		b.T.Fatal(err)
	}
}

// acceleratedAccounts maps Account in accelerated mode and waits until it streams over transport.
func (b *pubsubBench) acceleratedAccounts(transport string) mapping.Mapping {
	b.T.Helper()
	cfg := mapping.NewConfig("Name", "Industry")
	cfg.SFNotifyEnabled = true
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	b.Eventually("the mapping to stream over "+transport, 10*time.Second, func() (bool, string) {
		m, _ = b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.StreamTransport == transport, m.StreamTransport
	})
	if transport == "pubsub" {
		// The transport is recorded when the session is accepted, a moment before the org serves the
		// subscription; a change made in between arrives by the next poll, not the stream.
		b.Eventually("the org to serve the subscription", 20*time.Second, func() (bool, string) {
			return b.PubSub.Subscribers("/data/AccountChangeEvent") > 0, "not yet"
		})
	}
	return m
}

// arrives creates an Account in Salesforce and waits for its row.
func (b *pubsubBench) arrives(name string, within time.Duration) string {
	b.T.Helper()
	id, err := b.Org.CreateAsUser("Account", map[string]any{"Name": name})
	if err != nil {
		b.T.Fatal(err)
	}
	b.Eventually(name+" in Postgres", within, func() (bool, string) { return b.Count("account", "sfid = $1", id) == 1, "" })
	return id
}

// history is a mapping's recorded events, newest first, as text.
func (b *pubsubBench) history(m mapping.Mapping) string {
	b.T.Helper()
	evs, err := mapping.Events(b.Ctx, b.Pool, m.ConnectionID, m.ID, time.Time{}, 100)
	if err != nil {
		b.T.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "%s %s: %s\n", e.Level, e.Kind, e.Message)
	}
	return sb.String()
}

func (b *pubsubBench) historyHas(m mapping.Mapping, what string) {
	b.T.Helper()
	b.Eventually("history naming "+what, 10*time.Second, func() (bool, string) {
		h := b.history(m)
		return strings.Contains(h, what), h
	})
}

func TestAcceleratedMappingStreamsOverPubSubAndStoresItsReplayID(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	for i := range 5 {
		b.arrives(fmt.Sprintf("Over Pub/Sub %d", i), 20*time.Second) // polled hourly: only the stream brings it
	}
	b.Eventually("the Pub/Sub replay id stored with the data", 5*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		n, ok := pubsub.ReplayNumber(m.PubSubReplayID)
		return ok && n > 0, fmt.Sprint(m.PubSubReplayID)
	})
	// The stream is dropped: the engine resubscribes after its stored replay id and catches up.
	b.PubSub.DropSubscriptions()
	b.arrives("After the drop", 20*time.Second)
}

func TestPubSubReplayIDSalesforceNoLongerHasIsRecordedAndCaughtUpByPolling(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	b.arrives("Before", 20*time.Second)
	b.Eventually("a stored Pub/Sub replay id", 5*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.PubSubReplayID != nil, ""
	})
	b.Engine.Stop()
	// While pgforce is down, changes happen and the replay window moves past the stored id.
	missed, _ := b.Org.CreateAsUser("Account", map[string]any{"Name": "While down"})
	b.Org.ForgetEventsBefore(1 << 40)
	b.restart()
	b.historyHas(m, "no longer has the change events")
	b.Eventually("the change made while down", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", missed) == 1, "" })
	b.arrives("After, streamed from the newest event", 20*time.Second)
}

func TestPubSubUnreadableEventIsRecordedAndItsChangeArrivesAnyway(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	b.PubSub.CorruptNextEvents(1)
	b.arrives("Garbled on the wire", 20*time.Second)
	b.historyHas(m, "Could not read change event")
	b.arrives("Fine again", 20*time.Second)
}

func TestPubSubSchemaChangeMidStreamIsRecordedAndStreamingGoesOn(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	b.arrives("Old schema", 20*time.Second)
	if err := b.Org.AddField("Account", sforg.FieldDef{Name: "Tier__c", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true, Custom: true}); err != nil {
		t.Fatal(err)
	}
	b.arrives("New schema", 20*time.Second)
	b.historyHas(m, "changed (fields were added or removed in Salesforce)")
}

func TestPubSubExpiredTokenIsRefreshedAndARevokedOneNeedsReauthorization(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	b.WebServerFlow(dashboardCallback) // a refresh token to refresh with
	b.ConnState(connection.Idle)
	b.acceleratedAccounts("pubsub")
	b.Org.ExpireTokens()
	b.arrives("After the token expired", 20*time.Second)
	b.Org.RevokeRefreshTokens()
	b.Org.ExpireTokens()
	b.PubSub.DropSubscriptions() // the stream resubscribes, and the session is refused for good
	b.ConnState(connection.NeedAuthentication)
}

func TestStreamTransportSettingPicksCometDAndIsAudited(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	if err := b.Admin.Connections.SetStreamTransport(b.Ctx, enginetest.Admin, b.Conn.ID, "smoke-signals"); err == nil {
		t.Fatal("an unknown transport was accepted")
	}
	if err := b.Admin.Connections.SetStreamTransport(b.Ctx, enginetest.Admin, b.Conn.ID, "cometd"); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the switch to CometD", 10*time.Second, func() (bool, string) {
		m, _ = b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.StreamTransport == "cometd", m.StreamTransport
	})
	b.arrives("Over CometD", 20*time.Second)
	var n int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM audit_log WHERE action = 'connection.stream_transport'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d audit entries for the transport (%v), want 1", n, err)
	}
}

func TestAutoFallsBackToCometDWhenThePubSubAPIIsUnreachable(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, func(o *engine.Options) {
		orgs := o.Orgs.(orgclient.SalesforceOrgs)
		orgs.PubSub = func(connection.Connection) *orgclient.PubSubEndpoint {
			return &orgclient.PubSubEndpoint{Addr: "127.0.0.1:1"} // nothing listens there
		}
		o.Orgs = orgs
	})
	m := b.acceleratedAccounts("cometd")
	b.historyHas(m, "Pub/Sub API is not available")
	b.arrives("Over CometD instead", 20*time.Second)
}

// Over the Pub/Sub API too, a gap event makes the engine read the named records by id (a change made
// in Salesforce's database keeps SystemModstamp, so no poll finds it).
func TestGapEventsOverPubSubAreReadByID(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	old, err := b.Org.CreateCommittedLate("Account", map[string]any{"Name": "Archived", "Industry": "Energy"}, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.acceleratedAccounts("pubsub")
	b.arrives("streaming over Pub/Sub", 20*time.Second)
	if _, err := b.Org.Gap(sforg.GapChange{Object: "Account", Type: "UPDATE", IDs: []string{old}, Fields: map[string]any{"Industry": "Banking"}}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the change named by the gap event", 10*time.Second, func() (bool, string) {
		return b.Count("account", "sfid = $1 AND industry = 'Banking'", old) == 1, ""
	})
}

// Over the Pub/Sub API as over CometD, an object the org publishes no change events for (its topic
// refused) is polled, said on its page and in its history, and streams once selected.
func TestAnObjectWithoutChangeEventsFallsBackToPollingOverPubSub(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	b.Org.DeselectForCDC("Lead")
	cfg := mapping.NewConfig("LastName", "Company")
	cfg.SFNotifyEnabled = true
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Lead", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	b.Eventually("the fallback on the page", 20*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return strings.Contains(m.StreamNote, "Salesforce publishes no change events for Lead") && strings.Contains(m.StreamNote, "Pub/Sub API refused the topic /data/LeadChangeEvent"), m.StreamNote
	})
	if err := b.Org.SelectForCDC("Lead"); err != nil {
		t.Fatal(err)
	}
	b.Eventually("Lead streaming again", 30*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.StreamNote == "", m.StreamNote
	})
	if h := b.history(m); !strings.Contains(h, "Not streaming") || !strings.Contains(h, "Streaming Lead's changes again.") {
		t.Fatalf("history: %s", h)
	}
	id, _ := b.Org.CreateAsUser("Lead", map[string]any{"LastName": "Streamed", "Company": "C"})
	b.Eventually("the streamed lead", 10*time.Second, func() (bool, string) { return b.Count("lead", "sfid = $1", id) == 1, "" })
}
