package engine_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/pubsub"
	"pgforce/sync/salesforce/sforg"
)

// newPubSubBench polls rarely, so only change events can make changes arrive quickly; the org
// serves its Pub/Sub API.
func newPubSubBench(t *testing.T, configure func(*engine.Options)) *bench {
	b := newBench(t, benchOpts{seed: 6, noStart: true, pubsub: true})
	b.opts.PollInterval = time.Hour
	if configure != nil {
		configure(&b.opts)
	}
	b.e = engine.New(b.opts)
	t.Cleanup(b.e.Stop)
	if err := b.e.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.connState(connection.Idle)
	return b
}

// acceleratedAccounts maps Account in accelerated mode and waits until it streams over transport.
func (b *bench) acceleratedAccounts(transport string) mapping.Mapping {
	b.t.Helper()
	cfg := mapping.NewConfig("Name", "Industry")
	cfg.SFNotifyEnabled = true
	m, err := b.e.CreateMapping(b.ctx, admin, b.conn.ID, "Account", cfg)
	if err != nil {
		b.t.Fatal(err)
	}
	b.mappingState(m.ID, mapping.DataSynced)
	b.eventually("the mapping to stream over "+transport, 10*time.Second, func() (bool, string) {
		m, _ = b.e.Mapping(b.ctx, m.ID)
		return m.StreamTransport == transport, m.StreamTransport
	})
	return m
}

// arrives creates an Account in Salesforce and waits for its row.
func (b *bench) arrives(name string, within time.Duration) string {
	b.t.Helper()
	id, err := b.org.CreateAsUser("Account", map[string]any{"Name": name})
	if err != nil {
		b.t.Fatal(err)
	}
	b.eventually(name+" in Postgres", within, func() (bool, string) { return b.count("account", "sfid = $1", id) == 1, "" })
	return id
}

// history is a mapping's recorded events, newest first, as text.
func (b *bench) history(m mapping.Mapping) string {
	b.t.Helper()
	evs, err := mapping.Events(b.ctx, b.pool, m.ConnectionID, m.ID, time.Time{}, 100)
	if err != nil {
		b.t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "%s %s: %s\n", e.Level, e.Kind, e.Message)
	}
	return sb.String()
}

func (b *bench) historyHas(m mapping.Mapping, what string) {
	b.t.Helper()
	b.eventually("history naming "+what, 10*time.Second, func() (bool, string) {
		h := b.history(m)
		return strings.Contains(h, what), h
	})
}

func TestAcceleratedMappingStreamsOverPubSubAndStoresItsReplayID(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	for i := range 5 {
		start := time.Now()
		b.arrives(fmt.Sprintf("Over Pub/Sub %d", i), 5*time.Second)
		if took := time.Since(start); took > time.Second {
			t.Errorf("change %d took %v over Pub/Sub", i, took)
		}
	}
	b.eventually("the Pub/Sub replay id stored with the data", 5*time.Second, func() (bool, string) {
		m, _ := b.e.Mapping(b.ctx, m.ID)
		n, ok := pubsub.ReplayNumber(m.PubSubReplayID)
		return ok && n > 0, fmt.Sprint(m.PubSubReplayID)
	})
	// The stream is dropped: the engine resubscribes after its stored replay id and catches up.
	b.pubsub.DropSubscriptions()
	b.arrives("After the drop", 10*time.Second)
}

func TestPubSubReplayIDSalesforceNoLongerHasIsRecordedAndCaughtUpByPolling(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	b.arrives("Before", 5*time.Second)
	b.eventually("a stored Pub/Sub replay id", 5*time.Second, func() (bool, string) {
		m, _ := b.e.Mapping(b.ctx, m.ID)
		return m.PubSubReplayID != nil, ""
	})
	b.e.Stop()
	// While pgforce is down, changes happen and the replay window moves past the stored id.
	missed, _ := b.org.CreateAsUser("Account", map[string]any{"Name": "While down"})
	b.org.ForgetEventsBefore(1 << 40)
	b.e = engine.New(b.opts)
	t.Cleanup(b.e.Stop)
	if err := b.e.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	b.historyHas(m, "no longer has the change events")
	b.eventually("the change made while down", 10*time.Second, func() (bool, string) { return b.count("account", "sfid = $1", missed) == 1, "" })
	b.arrives("After, streamed from the newest event", 5*time.Second)
}

func TestPubSubUnreadableEventIsRecordedAndItsChangeArrivesAnyway(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	b.pubsub.CorruptNextEvents(1)
	b.arrives("Garbled on the wire", 5*time.Second)
	b.historyHas(m, "Could not read change event")
	b.arrives("Fine again", 5*time.Second)
}

func TestPubSubSchemaChangeMidStreamIsRecordedAndStreamingGoesOn(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	b.arrives("Old schema", 5*time.Second)
	if err := b.org.AddField("Account", sforg.FieldDef{Name: "Tier__c", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true, Custom: true}); err != nil {
		t.Fatal(err)
	}
	b.arrives("New schema", 5*time.Second)
	b.historyHas(m, "changed (fields were added or removed in Salesforce)")
}

func TestPubSubExpiredTokenIsRefreshedAndARevokedOneNeedsReauthorization(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	b.webServerFlow() // a refresh token to refresh with
	b.connState(connection.Idle)
	b.acceleratedAccounts("pubsub")
	b.org.ExpireTokens()
	b.arrives("After the token expired", 10*time.Second)
	b.org.RevokeRefreshTokens()
	b.org.ExpireTokens()
	b.pubsub.DropSubscriptions() // the stream resubscribes, and the session is refused for good
	b.connState(connection.NeedAuthentication)
}

func TestStreamTransportSettingPicksCometDAndIsAudited(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, nil)
	m := b.acceleratedAccounts("pubsub")
	if err := b.e.SetStreamTransport(b.ctx, admin, b.conn.ID, "smoke-signals"); err == nil {
		t.Fatal("an unknown transport was accepted")
	}
	if err := b.e.SetStreamTransport(b.ctx, admin, b.conn.ID, "cometd"); err != nil {
		t.Fatal(err)
	}
	b.eventually("the switch to CometD", 10*time.Second, func() (bool, string) {
		m, _ = b.e.Mapping(b.ctx, m.ID)
		return m.StreamTransport == "cometd", m.StreamTransport
	})
	b.arrives("Over CometD", 5*time.Second)
	var n int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM audit_log WHERE action = 'connection.stream_transport'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d audit entries for the transport (%v), want 1", n, err)
	}
}

func TestAutoFallsBackToCometDWhenThePubSubAPIIsUnreachable(t *testing.T) {
	t.Parallel()
	b := newPubSubBench(t, func(o *engine.Options) {
		orgs := o.Orgs.(engine.SalesforceOrgs)
		orgs.PubSub = func(connection.Connection) *engine.PubSubEndpoint {
			return &engine.PubSubEndpoint{Addr: "127.0.0.1:1"} // nothing listens there
		}
		o.Orgs = orgs
	})
	m := b.acceleratedAccounts("cometd")
	b.historyHas(m, "Pub/Sub API is not available")
	b.arrives("Over CometD instead", 5*time.Second)
}
