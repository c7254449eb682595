package sforg

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"pgforce/sync/salesforce/pubsub"
	"pgforce/sync/salesforce/pubsub/eventbus"
	"pgforce/sync/testsignal"
)

// pubsubEnv is an org with its Pub/Sub API and a signed-in client of it.
type pubsubEnv struct {
	org    *Org
	srv    *PubSubServer
	api    *api
	client *pubsub.Client
	token  func() string
}

func newPubSubEnv(t *testing.T, opts PubSubOptions) *pubsubEnv {
	t.Helper()
	org, a := login(t, Options{ChangeDataCapture: []string{"Account"}}) // a new org selects no object for CDC
	srv := NewPubSubServer(org, opts)
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	env := &pubsubEnv{org: org, srv: srv, api: a}
	var mu sync.Mutex
	tok := a.token
	env.token = func() string { mu.Lock(); defer mu.Unlock(); return tok }
	c, err := pubsub.Dial(pubsub.Options{Addr: srv.Addr(), TLS: srv.ClientTLS(),
		Credentials: func(context.Context) (pubsub.Credentials, error) {
			return pubsub.Credentials{AccessToken: env.token(), InstanceURL: a.base, TenantID: org.OrgID()}, nil
		},
		Refresh: func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			tok = env.mintToken(t)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	env.client = c
	return env
}

// mintToken signs in again with the password flow.
func (e *pubsubEnv) mintToken(t *testing.T) string {
	t.Helper()
	res, body := e.api.form("/services/oauth2/token", map[string][]string{"grant_type": {"password"}, "client_id": {DemoClientID},
		"client_secret": {DemoClientSecret}, "username": {DemoUsername}, "password": {DemoPassword}})
	if res.StatusCode != 200 {
		t.Fatalf("login: %d %s", res.StatusCode, body)
	}
	return decodeJSON[map[string]string](t, body)["access_token"]
}

// collect subscribes in the background and hands over events as they arrive.
func (e *pubsubEnv) collect(t *testing.T, sub pubsub.Subscription) (events <-chan pubsub.Event, done <-chan error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan pubsub.Event, 100)
	errc := make(chan error, 1)
	go func() {
		errc <- e.client.Subscribe(ctx, sub, func(_ context.Context, ev pubsub.Event) error { ch <- ev; return nil })
	}()
	t.Cleanup(func() { cancel(); <-errc })
	return ch, errc
}

func next(t *testing.T, events <-chan pubsub.Event) pubsub.Event {
	t.Helper()
	select {
	case ev := <-events:
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return pubsub.Event{}
}

// subscribed waits until the server holds the subscription, so that events made next are new to it.
func (e *pubsubEnv) subscribed(t *testing.T, topic string) {
	t.Helper()
	testsignal.Eventually(t, "the subscription to reach the server", 10*time.Second, func() (bool, string) {
		return e.srv.Subscribers(topic) > 0, "no subscriber"
	})
}

func TestPubSubDeliversCreateAndUpdateWithTheChangedFieldsNamed(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	events, _ := e.collect(t, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.Latest()})
	e.subscribed(t, "/data/AccountChangeEvent")
	id, err := e.org.CreateAsUser("Account", map[string]any{"Name": "Acme", "BillingCity": "Lyon", "NumberOfEmployees": 12})
	if err != nil {
		t.Fatal(err)
	}
	created := next(t, events)
	if created.Err != nil {
		t.Fatal(created.Err)
	}
	ch := created.Change
	if ch == nil || ch.ChangeType != "CREATE" || ch.EntityName != "Account" || !slices.Equal(ch.RecordIDs, []string{id}) {
		t.Fatalf("create event header = %+v", ch)
	}
	if created.Payload["Name"] != "Acme" || created.Payload["NumberOfEmployees"] != 12 {
		t.Fatalf("create payload = %v", created.Payload)
	}
	if addr, _ := created.Payload["BillingAddress"].(map[string]any); addr["City"] != "Lyon" {
		t.Fatalf("the address parts should be nested in BillingAddress: %v", created.Payload["BillingAddress"])
	}
	if _, ok := created.Payload["CreatedDate"].(int64); !ok {
		t.Fatalf("datetimes travel as epoch milliseconds, got %T", created.Payload["CreatedDate"])
	}
	if err := e.org.UpdateAsUser("Account", id, map[string]any{"Phone": "555-0100", "BillingCity": nil}); err != nil {
		t.Fatal(err)
	}
	updated := next(t, events)
	if updated.Err != nil || updated.Change.ChangeType != "UPDATE" {
		t.Fatalf("update event = %+v, %v", updated.Change, updated.Err)
	}
	if !slices.Contains(updated.Change.ChangedFields, "Phone") || !slices.Contains(updated.Change.ChangedFields, "BillingAddress.City") {
		t.Fatalf("changedFields = %v, want Phone and BillingAddress.City", updated.Change.ChangedFields)
	}
	if !slices.Equal(updated.Change.NulledFields, []string{"BillingAddress.City"}) {
		t.Fatalf("nulledFields = %v", updated.Change.NulledFields)
	}
	if updated.Payload["Name"] != nil {
		t.Fatalf("unchanged fields are null on Pub/Sub, Name = %v", updated.Payload["Name"])
	}
	// The replay ids are the CometD log's.
	n, _ := pubsub.ReplayNumber(updated.ReplayID)
	if _, newest := e.org.bus.Window(); n != newest {
		t.Fatalf("replay id %d, the event log's newest is %d", n, newest)
	}
}

func TestPubSubReplaysFromTheEarliestAndFromAStoredReplayID(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	var ids []string
	for _, name := range []string{"A", "B", "C"} {
		id, err := e.org.CreateAsUser("Account", map[string]any{"Name": name})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	events, _ := e.collect(t, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.Earliest()})
	var second []byte
	for i, want := range ids {
		ev := next(t, events)
		if ev.Err != nil || ev.Change.RecordIDs[0] != want {
			t.Fatalf("earliest replay event %d = %+v, %v; want record %s", i, ev.Change, ev.Err, want)
		}
		if i == 1 {
			second = ev.ReplayID
		}
	}
	after, _ := e.collect(t, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.After(second)})
	if ev := next(t, after); ev.Change.RecordIDs[0] != ids[2] {
		t.Fatalf("replay after the second event gave %v, want %s", ev.Change.RecordIDs, ids[2])
	}
}

func TestPubSubRefusesUnknownTopicsBadTokensAndReplayIDsOutsideTheWindow(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	ctx := context.Background()
	noop := func(context.Context, pubsub.Event) error { return nil }
	err := e.client.Subscribe(ctx, pubsub.Subscription{Topic: "/data/NoSuchChangeEvent"}, noop)
	if !errors.Is(err, pubsub.ErrUnknownTopic) || !strings.Contains(err.Error(), pubsub.CodeTopicNotFound) {
		t.Fatalf("unknown topic: %v", err)
	}
	if _, err := e.client.Topic(ctx, "/data/NoSuchChangeEvent"); !errors.Is(err, pubsub.ErrUnknownTopic) && !errors.Is(err, pubsub.ErrRefused) {
		t.Fatalf("GetTopic of an unknown topic: %v", err)
	}
	err = e.client.Subscribe(ctx, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.After(pubsub.ReplayIDOf(999_999))}, noop)
	if !errors.Is(err, pubsub.ErrReplayInvalid) {
		t.Fatalf("replay id past the newest: %v", err)
	}
	err = e.client.Subscribe(ctx, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.After([]byte("junk"))}, noop)
	if !errors.Is(err, pubsub.ErrReplayInvalid) {
		t.Fatalf("a replay id that is not 8 bytes: %v", err)
	}

	bad, err := pubsub.Dial(pubsub.Options{Addr: e.srv.Addr(), TLS: e.srv.ClientTLS(), Credentials: func(context.Context) (pubsub.Credentials, error) {
		return pubsub.Credentials{AccessToken: "00D000000000001!revoked", InstanceURL: e.api.base, TenantID: e.org.OrgID()}, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Subscribe(ctx, pubsub.Subscription{Topic: "/data/AccountChangeEvent"}, noop); !errors.Is(err, pubsub.ErrAuth) || !strings.Contains(err.Error(), pubsub.CodeAuth) {
		t.Fatalf("bad token: %v", err)
	}
	if _, err := bad.Topic(ctx, "/data/AccountChangeEvent"); !errors.Is(err, pubsub.ErrAuth) {
		t.Fatalf("GetTopic with a bad token: %v", err)
	}
}

func TestPubSubClientRefreshesAnExpiredTokenAndResumesWithoutLosingEvents(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	events, _ := e.collect(t, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.Latest()})
	e.subscribed(t, "/data/AccountChangeEvent")
	first, _ := e.org.CreateAsUser("Account", map[string]any{"Name": "before"})
	if ev := next(t, events); ev.Change.RecordIDs[0] != first {
		t.Fatal("first event missing")
	}
	e.org.ExpireTokens()
	second, _ := e.org.CreateAsUser("Account", map[string]any{"Name": "after expiry"})
	if ev := next(t, events); ev.Err != nil || ev.Change.RecordIDs[0] != second {
		t.Fatalf("after the token expired: %+v, %v", ev.Change, ev.Err)
	}
}

func TestPubSubHonoursNumRequested(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	conn, err := grpc.NewClient(e.srv.Addr(), grpc.WithTransportCredentials(credentials.NewTLS(e.srv.ClientTLS())))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := range 5 {
		if _, err := e.org.CreateAsUser("Account", map[string]any{"Name": string(rune('a' + i))}); err != nil {
			t.Fatal(err)
		}
	}
	ctx := metadata.AppendToOutgoingContext(context.Background(), "accesstoken", e.token(), "instanceurl", e.api.base, "tenantid", e.org.OrgID())
	stream, err := eventbus.NewPubSubClient(conn).Subscribe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&eventbus.FetchRequest{TopicName: "/data/AccountChangeEvent", ReplayPreset: eventbus.ReplayPreset_EARLIEST, NumRequested: 2}); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < 2 {
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		got += len(resp.Events)
		if got == 2 && resp.PendingNumRequested != 0 {
			t.Fatalf("pending_num_requested = %d after the 2 asked for", resp.PendingNumRequested)
		}
	}
	if got != 2 {
		t.Fatalf("asked for 2 events, got %d", got)
	}
	// Nothing more comes until the client asks: the next message answers the next request.
	if err := stream.Send(&eventbus.FetchRequest{NumRequested: 10}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Events) != 3 {
		t.Fatalf("the next batch has %d events, want the remaining 3", len(resp.Events))
	}
	if n, _ := pubsub.ReplayNumber(resp.LatestReplayId); n != 5+e.firstReplay(t)-1 {
		t.Fatalf("latest_replay_id %d", n)
	}
}

// firstReplay is the replay id of the org's first event.
func (e *pubsubEnv) firstReplay(t *testing.T) int64 {
	oldest, _ := e.org.bus.Window()
	return oldest
}

func TestPubSubSendsKeepalivesWithTheLatestReplayID(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{Keepalive: 50 * time.Millisecond})
	_, _ = e.org.CreateAsUser("Account", map[string]any{"Name": "x"})
	_, newest := e.org.bus.Window()
	keepalives := make(chan []byte, 10)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		_ = e.client.Subscribe(ctx, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.Latest(),
			OnKeepalive: func(latest []byte) { keepalives <- latest }}, func(context.Context, pubsub.Event) error { return nil })
	}()
	select {
	case latest := <-keepalives:
		if n, _ := pubsub.ReplayNumber(latest); n != newest {
			t.Fatalf("keepalive latest replay id %d, want %d", n, newest)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no keepalive")
	}
}

func TestPubSubCorruptPayloadIsReportedOnTheEventAndTheStreamGoesOn(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	events, _ := e.collect(t, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.Latest()})
	e.subscribed(t, "/data/AccountChangeEvent")
	e.srv.CorruptNextEvents(1)
	_, _ = e.org.CreateAsUser("Account", map[string]any{"Name": "garbled"})
	good, _ := e.org.CreateAsUser("Account", map[string]any{"Name": "fine"})
	bad := next(t, events)
	if bad.Err == nil || bad.Change != nil || len(bad.ReplayID) != 8 {
		t.Fatalf("corrupt event = %+v", bad)
	}
	if ev := next(t, events); ev.Err != nil || ev.Change.RecordIDs[0] != good {
		t.Fatalf("the event after the corrupt one: %+v, %v", ev.Change, ev.Err)
	}
}

func TestPubSubSchemaChangeMidStreamFetchesTheNewSchema(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	events, _ := e.collect(t, pubsub.Subscription{Topic: "/data/AccountChangeEvent", Replay: pubsub.Latest()})
	e.subscribed(t, "/data/AccountChangeEvent")
	_, _ = e.org.CreateAsUser("Account", map[string]any{"Name": "before"})
	before := next(t, events)
	if err := e.org.AddField("Account", FieldDef{Name: "Tier__c", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true, Custom: true}); err != nil {
		t.Fatal(err)
	}
	_, _ = e.org.CreateAsUser("Account", map[string]any{"Name": "after", "Tier__c": "Gold"})
	after := next(t, events)
	if after.Err != nil || !after.SchemaChanged || after.SchemaID == before.SchemaID {
		t.Fatalf("event after the field was added: schema %s (was %s), changed=%v, err %v", after.SchemaID, before.SchemaID, after.SchemaChanged, after.Err)
	}
	if after.Payload["Tier__c"] != "Gold" {
		t.Fatalf("new field = %v", after.Payload["Tier__c"])
	}
	// The old schema id still resolves: events already delivered name it.
	if _, err := e.client.Schema(context.Background(), before.SchemaID); err != nil {
		t.Fatal(err)
	}
}

func TestPubSubGetTopicNamesTheCurrentSchema(t *testing.T) {
	e := newPubSubEnv(t, PubSubOptions{})
	info, err := e.client.Topic(context.Background(), "/data/AccountChangeEvent")
	if err != nil {
		t.Fatal(err)
	}
	if !info.CanSubscribe || info.CanPublish || info.TenantGuid != e.org.OrgID() || info.SchemaId == "" {
		t.Fatalf("topic info = %+v", info)
	}
	s, err := e.client.Schema(context.Background(), info.SchemaId)
	if err != nil {
		t.Fatal(err)
	}
	if s.FullName() != "com.sforce.eventbus.AccountChangeEvent" || s.Fields()[0].Name() != "ChangeEventHeader" {
		t.Fatalf("schema %s, first field %s", s.FullName(), s.Fields()[0].Name())
	}
}
