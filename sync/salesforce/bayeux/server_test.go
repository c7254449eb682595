package bayeux

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"pgforce/sync/testsignal"
)

// wire talks raw Bayeux to a server, as a third-party client would.
type wire struct {
	t   *testing.T
	s   *Server
	url string
}

// newWire serves a server whose long polls would outlast any test: whatever answers does so because
// the protocol says it must answer at once, not because a poll timed out.
func newWire(t *testing.T, opts ServerOptions) *wire {
	t.Helper()
	if opts.LongPollTimeout == 0 {
		opts.LongPollTimeout = 10 * time.Minute
	}
	s := NewServer(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); hs.Close() })
	return &wire{t: t, s: s, url: hs.URL + "/cometd/62.0"}
}

// post sends one request; it must be answered within the deadline (far below the long poll).
func (w *wire) post(msgs ...map[string]any) []Message {
	w.t.Helper()
	out, err := w.postErr(msgs...)
	if err != nil {
		w.t.Fatal(err)
	}
	return out
}

func (w *wire) postErr(msgs ...map[string]any) ([]Message, error) {
	body, _ := json.Marshal(msgs)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, w.url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("no answer to %s: %w", body, err)
	}
	defer res.Body.Close()
	var out []Message
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}

func (w *wire) handshake() string {
	w.t.Helper()
	r := w.post(map[string]any{"channel": "/meta/handshake", "version": "1.0", "supportedConnectionTypes": []string{"long-polling"}, "ext": map[string]any{"replay": true}})
	if len(r) != 1 || r[0].ClientID == "" || !*r[0].Successful {
		w.t.Fatalf("handshake: %+v", r)
	}
	return r[0].ClientID
}

func connectMsg(id string, advice map[string]any) map[string]any {
	m := map[string]any{"channel": "/meta/connect", "clientId": id, "connectionType": "long-polling"}
	if advice != nil {
		m["advice"] = advice
	}
	return m
}

func subscribeMsg(id, ch string, replay *int64) map[string]any {
	m := map[string]any{"channel": "/meta/subscribe", "clientId": id, "subscription": ch}
	if replay != nil {
		m["ext"] = map[string]any{"replay": map[string]int64{ch: *replay}}
	}
	return m
}

func replayFrom(n int64) *int64 { return &n }

// holding waits until the server holds a connect of the client (no sleeping: it watches the server).
func (w *wire) holding(id string) {
	w.t.Helper()
	testsignal.Eventually(w.t, "the server to hold the connect", 20*time.Second, func() (bool, string) {
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		c := w.s.clients[id]
		return c != nil && c.polling > 0, "not held"
	})
}

// heldConnect sends a connect that the server holds, answering on the returned channel.
func (w *wire) heldConnect(id string) <-chan []Message {
	w.t.Helper()
	ch := make(chan []Message, 1)
	go func() {
		r, err := w.postErr(connectMsg(id, nil))
		if err != nil {
			w.t.Error(err)
		}
		ch <- r
	}()
	w.holding(id)
	return ch
}

func replyOn(t *testing.T, msgs []Message, channel string) Message {
	t.Helper()
	for _, m := range msgs {
		if m.Channel == channel {
			return m
		}
	}
	t.Fatalf("no %s reply in %+v", channel, msgs)
	return Message{}
}

func events(msgs []Message) []Message {
	var out []Message
	for _, m := range msgs {
		if !strings.HasPrefix(m.Channel, "/meta/") {
			out = append(out, m)
		}
	}
	return out
}

// faye (jsforce's streaming client) sends its first /meta/connect with advice timeout 0 in the same
// request as /meta/subscribe: both are answered at once, the subscription acknowledged.
func TestASubscribeBatchedWithAConnectIsAnsweredAtOnce(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{})
	id := w.handshake()
	r := w.post(subscribeMsg(id, "/data/AccountChangeEvent", nil), connectMsg(id, map[string]any{"timeout": 0}))
	if sub := replyOn(t, r, "/meta/subscribe"); !*sub.Successful || sub.Subscription != "/data/AccountChangeEvent" {
		t.Fatalf("subscribe: %+v", sub)
	}
	if c := replyOn(t, r, "/meta/connect"); !*c.Successful || c.Advice["reconnect"] != "retry" {
		t.Fatalf("connect: %+v", c)
	}
	// Even without the timeout advice a connect in a batch is not held: CometD holds only a connect
	// alone in its request. The first connect has been answered, so this one would otherwise wait.
	r = w.post(subscribeMsg(id, "/data/ContactChangeEvent", nil), connectMsg(id, nil))
	if !*replyOn(t, r, "/meta/subscribe").Successful || !*replyOn(t, r, "/meta/connect").Successful {
		t.Fatalf("second batch: %+v", r)
	}
}

func TestTheFirstConnectAfterAHandshakeIsAnsweredAtOnceAndTheNextIsHeld(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{})
	id := w.handshake()
	w.post(subscribeMsg(id, "/data/ChangeEvents", nil))
	first := w.post(connectMsg(id, nil))
	if c := replyOn(t, first, "/meta/connect"); !*c.Successful || c.Advice["timeout"] != float64(600000) {
		t.Fatalf("first connect: %+v", c)
	}
	held := w.heldConnect(id)
	w.s.Publish([]string{"/data/ChangeEvents"}, "s", payload(1))
	r := <-held
	if ev := events(r); len(ev) != 1 || ev[0].Channel != "/data/ChangeEvents" {
		t.Fatalf("the held connect should answer with the event: %+v", r)
	}
}

// A connect asking for less than the server's long poll (advice.timeout) gets less; 0 means at once.
func TestAConnectHonoursTheClientsTimeoutAdvice(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{})
	id := w.handshake()
	w.post(connectMsg(id, nil))
	for _, timeout := range []int{0, 50} {
		r := w.post(connectMsg(id, map[string]any{"timeout": timeout}))
		if c := replyOn(t, r, "/meta/connect"); !*c.Successful {
			t.Fatalf("timeout %d: %+v", timeout, c)
		}
	}
}

// A replay subscription made while the client's connect is held queues the retained events: the
// held connect delivers them at once rather than at the end of its long poll.
func TestAReplaySubscriptionReleasesTheHeldConnect(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{})
	for i := 1; i <= 3; i++ {
		w.s.Publish([]string{"/data/LeadChangeEvent"}, "s", payload(i))
	}
	id := w.handshake()
	w.post(connectMsg(id, nil))
	held := w.heldConnect(id)
	sub := w.post(subscribeMsg(id, "/data/LeadChangeEvent", replayFrom(-2)))
	if !*sub[0].Successful {
		t.Fatalf("subscribe: %+v", sub)
	}
	if ev := events(<-held); len(ev) != 3 {
		t.Fatalf("replayed %d events, want 3: %+v", len(ev), ev)
	}
}

func TestANewerConnectReleasesTheHeldOne(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{})
	id := w.handshake()
	w.post(connectMsg(id, nil))
	held := w.heldConnect(id)
	r := w.post(connectMsg(id, map[string]any{"timeout": 0}))
	if !*replyOn(t, r, "/meta/connect").Successful || !*replyOn(t, <-held, "/meta/connect").Successful {
		t.Fatal("both connects should be answered successfully")
	}
}

func TestUnknownClientsAreToldToHandshakeAgain(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{})
	for _, m := range []map[string]any{connectMsg("nobody", nil), {"channel": "/meta/unsubscribe", "clientId": "nobody", "subscription": "/data/ChangeEvents"}} {
		r := w.post(m)
		if r[0].Error != "403::Unknown client" || r[0].Advice["reconnect"] != "handshake" || *r[0].Successful {
			t.Fatalf("%v: %+v", m["channel"], r[0])
		}
	}
	if r := w.post(subscribeMsg("nobody", "/data/ChangeEvents", nil)); !strings.HasPrefix(r[0].Error, "403::") || r[0].Advice["reconnect"] != "handshake" {
		t.Fatalf("subscribe: %+v", r[0])
	}
	// A client dropped while its connect is held gets the same answer on that connect.
	id := w.handshake()
	w.post(connectMsg(id, nil))
	held := w.heldConnect(id)
	w.s.DropClients()
	if c := replyOn(t, <-held, "/meta/connect"); c.Error != "403::Unknown client" || c.Advice["reconnect"] != "handshake" {
		t.Fatalf("held connect of a dropped client: %+v", c)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A client that does not come back within ClientTimeout of its last reply is forgotten (Salesforce:
// reconnect within 40 s); one that does is kept however long it has been connected.
func TestTheServerForgetsClientsThatDoNotReconnectInTime(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w := newWire(t, ServerOptions{ClientTimeout: 40 * time.Second, Now: clock.Now})
	id := w.handshake()
	for range 5 {
		clock.add(39 * time.Second)
		if r := w.post(connectMsg(id, map[string]any{"timeout": 0})); !*r[0].Successful {
			t.Fatalf("a client reconnecting in time was forgotten: %+v", r[0])
		}
	}
	clock.add(41 * time.Second)
	if r := w.post(connectMsg(id, nil)); r[0].Error != "403::Unknown client" {
		t.Fatalf("a client silent for 41 s is still known: %+v", r[0])
	}
}

func TestReplayIDsSelectWhereASubscriptionStarts(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{})
	for i := 1; i <= 5; i++ {
		w.s.Publish([]string{"/data/ChangeEvents"}, "s", payload(i))
	}
	w.s.ForgetBefore(2) // replay id 1 left the window
	cases := []struct {
		replay *int64
		want   []int64 // replay ids delivered; nil: refused
	}{
		{nil, []int64{}},                      // no replay extension: new events only
		{replayFrom(-1), []int64{}},           // new events only
		{replayFrom(-2), []int64{2, 3, 4, 5}}, // everything retained
		{replayFrom(3), []int64{4, 5}},        // after 3
		{replayFrom(1), []int64{2, 3, 4, 5}},  // after the last forgotten one: nothing was lost
		{replayFrom(5), []int64{}},            // after the newest
		{replayFrom(0), nil},                  // before the window: events were lost
		{replayFrom(6), nil},                  // ahead of the newest: names no event (a restarted log)
		{replayFrom(-3), nil},
	}
	for _, tc := range cases {
		id := w.handshake()
		r := w.post(subscribeMsg(id, "/data/ChangeEvents", tc.replay), connectMsg(id, map[string]any{"timeout": 0}))
		sub := replyOn(t, r, "/meta/subscribe")
		if tc.want == nil {
			if *sub.Successful || !strings.Contains(sub.Error, "400::The replayId {") || !strings.Contains(sub.Error, "-2 to replay all events, or -1 to replay only new events") {
				t.Errorf("replay %d should be refused: %+v", *tc.replay, sub)
			}
			continue
		}
		got := []int64{}
		for _, e := range events(r) {
			got = append(got, replayIDOf(e.Data))
		}
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("replay %v: got %v, want %v", tc.replay, got, tc.want)
		}
	}
}

func replayIDOf(data json.RawMessage) int64 {
	var env struct {
		Event struct {
			ReplayID int64 `json:"replayId"`
		} `json:"event"`
	}
	_ = json.Unmarshal(data, &env)
	return env.Event.ReplayID
}

func TestSubscriptionsToMissingOrMalformedChannelsAreRefusedAsSalesforceDoes(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{ChannelExists: func(ch string) bool { return ch == "/data/ChangeEvents" }})
	id := w.handshake()
	for ch, want := range map[string]string{
		"/data/LeadChangeEvent": "400::The channel you requested to subscribe to does not exist {/data/LeadChangeEvent}",
		"":                      "400::Channel name not specified",
		"data/ChangeEvents":     "400::Channel subscriptions must start with a leading '/'",
	} {
		if r := w.post(subscribeMsg(id, ch, nil)); r[0].Error != want || *r[0].Successful {
			t.Errorf("%q: %+v", ch, r[0])
		}
	}
}

// A saved log goes on numbering where it stopped and replays what it kept; subscribing from before
// what it kept is refused, not answered with silence.
func TestASavedLogContinuesItsNumbering(t *testing.T) {
	t.Parallel()
	a := NewServer(ServerOptions{})
	for i := 1; i <= 5; i++ {
		a.Publish([]string{"/data/ChangeEvents"}, "s", payload(i))
	}
	saved := a.Save(3)
	w := newWire(t, ServerOptions{})
	w.s.Restore(saved)
	if n := w.s.Publish([]string{"/data/ChangeEvents"}, "s", payload(6)); n != 6 {
		t.Fatalf("the restored log numbered its next event %d, want 6", n)
	}
	id := w.handshake()
	r := w.post(subscribeMsg(id, "/data/ChangeEvents", replayFrom(3)), connectMsg(id, map[string]any{"timeout": 0}))
	if ev := events(r); len(ev) != 3 || replayIDOf(ev[0].Data) != 4 {
		t.Fatalf("replay after 3: %+v", ev)
	}
	id = w.handshake()
	if r := w.post(subscribeMsg(id, "/data/ChangeEvents", replayFrom(1))); *r[0].Successful {
		t.Fatalf("replay from an event the log did not keep: %+v", r[0])
	}
}

// With OnSubscribeError set, a missing channel or a lost replay id is reported and the others go
// on; any other refusal ends Run with it (the caller retries), instead of passing for "no events".
func TestOnlyMissingChannelsAndLostReplayIDsAreReportedPerChannel(t *testing.T) {
	t.Parallel()
	w := newWire(t, ServerOptions{ChannelExists: func(ch string) bool { return ch != "/data/NopeChangeEvent" }})
	var reported []string
	c := NewClient(ClientOptions{URL: w.url, Token: func(context.Context) (string, error) { return "t", nil },
		OnSubscribeError: func(err *SubscribeError) { reported = append(reported, err.Channel) }})
	c.Subscribe("/data/NopeChangeEvent", -1)
	c.Subscribe("data/ChangeEvents", -1) // refused for its form
	err := c.Run(context.Background(), func(context.Context, Event) error { return nil })
	var se *SubscribeError
	if !errors.As(err, &se) || se.Channel != "data/ChangeEvents" || errors.Is(err, ErrNoChannel) {
		t.Fatalf("Run ended with %v", err)
	}
	if len(reported) > 1 || (len(reported) == 1 && reported[0] != "/data/NopeChangeEvent") {
		t.Fatalf("reported %v", reported)
	}
}
