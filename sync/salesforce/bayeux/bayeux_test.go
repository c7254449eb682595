package bayeux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func newPair(t *testing.T, opts ServerOptions) (*Server, *httptest.Server, *Client) {
	t.Helper()
	if opts.LongPollTimeout == 0 {
		opts.LongPollTimeout = 300 * time.Millisecond
	}
	s := NewServer(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(func() { s.Close(); hs.Close() })
	c := NewClient(ClientOptions{URL: hs.URL + "/cometd/62.0", Token: func(context.Context) (string, error) { return "tok", nil },
		Backoff: func(int) time.Duration { return 10 * time.Millisecond }})
	return s, hs, c
}

func payload(n int) json.RawMessage { return json.RawMessage(fmt.Sprintf(`{"n":%d}`, n)) }

// collect runs the client until want events arrived.
func collect(t *testing.T, c *Client, want int, during func()) ([]Event, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []Event
	started := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- c.Run(ctx, func(_ context.Context, e Event) error {
			got = append(got, e)
			if len(got) == want {
				cancel()
			}
			return nil
		})
	}()
	_ = started
	if during != nil {
		during()
	}
	err := <-errc
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return got, err
}

func TestEventsArriveInOrderWithReplayIDs(t *testing.T) {
	t.Parallel()
	s, _, c := newPair(t, ServerOptions{})
	s.Publish([]string{"/data/AccountChangeEvent", "/data/ChangeEvents"}, "s1", payload(0)) // before subscribing
	c.Subscribe("/data/AccountChangeEvent", -2)
	got, err := collect(t, c, 4, func() {
		for i := 1; i <= 3; i++ {
			s.Publish([]string{"/data/AccountChangeEvent"}, "s1", payload(i))
		}
	})
	if err != nil || len(got) != 4 {
		t.Fatalf("got %d events, err %v", len(got), err)
	}
	for i, e := range got {
		if e.ReplayID != int64(i+1) || e.Channel != "/data/AccountChangeEvent" || !strings.Contains(string(e.Data), fmt.Sprintf(`"payload":{"n":%d}`, i)) {
			t.Fatalf("event %d = %+v %s", i, e, e.Data)
		}
	}
}

func TestReconnectAfterUnknownClientResumesWithoutGapOrDuplicate(t *testing.T) {
	t.Parallel()
	s, _, c := newPair(t, ServerOptions{})
	c.Subscribe("/data/ChangeEvents", -2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []Event
	third := make(chan struct{})
	errc := make(chan error, 1)
	go func() {
		errc <- c.Run(ctx, func(_ context.Context, e Event) error {
			got = append(got, e)
			if len(got) == 3 {
				close(third)
			}
			if len(got) == 6 {
				cancel()
			}
			return nil
		})
	}()
	for i := 0; i < 3; i++ {
		s.Publish([]string{"/data/ChangeEvents"}, "s", payload(i))
	}
	<-third
	// The server forgets the client; events published during the outage must still arrive, once.
	s.DropClients()
	for i := 3; i < 6; i++ {
		s.Publish([]string{"/data/ChangeEvents"}, "s", payload(i))
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	for i, e := range got {
		if e.ReplayID != int64(i+1) {
			t.Fatalf("duplicate or gap at %d: %+v", i, got)
		}
	}
	if len(got) != 6 {
		t.Fatalf("%d events", len(got))
	}
}

func TestReplayOutsideTheWindowAndAuthFailuresAreReported(t *testing.T) {
	t.Parallel()
	s, hs, c := newPair(t, ServerOptions{ChannelExists: IsChangeEventChannel})
	for i := 0; i < 5; i++ {
		s.Publish([]string{"/data/LeadChangeEvent"}, "s", payload(i))
	}
	s.ForgetBefore(4)
	c.Subscribe("/data/LeadChangeEvent", 1)
	_, err := collect(t, c, 1, nil)
	if !errors.Is(err, ErrReplayUnavailable) || !strings.Contains(err.Error(), "The replayId {1} you provided was invalid") {
		t.Fatalf("replay outside window: %v", err)
	}
	denied := NewServer(ServerOptions{Authenticate: func(*http.Request) error { return errors.New("no") }})
	dhs := httptest.NewServer(denied)
	defer dhs.Close()
	dc := NewClient(ClientOptions{URL: dhs.URL, Token: func(context.Context) (string, error) { return "bad", nil }})
	dc.Subscribe("/data/ChangeEvents", -1)
	if _, err := collect(t, dc, 1, nil); !errors.Is(err, ErrAuth) || !strings.Contains(err.Error(), "403::Handshake denied") {
		t.Fatalf("auth: %v", err)
	}
	// Raw wire checks: unknown channel, connect without handshake, oversized and malformed bodies.
	post := func(body string) (int, string) {
		res, err := http.Post(hs.URL, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b bytes.Buffer
		_, _ = b.ReadFrom(res.Body)
		return res.StatusCode, b.String()
	}
	_, hsReply := post(`[{"channel":"/meta/handshake","version":"1.0","supportedConnectionTypes":["long-polling"]}]`)
	var hsMsgs []Message
	_ = json.Unmarshal([]byte(hsReply), &hsMsgs)
	id := hsMsgs[0].ClientID
	if _, body := post(`[{"channel":"/meta/subscribe","clientId":"` + id + `","subscription":"/topic/Nope"}]`); !strings.Contains(body, "400::The channel you requested to subscribe to does not exist {/topic/Nope}") {
		t.Fatalf("unknown channel: %s", body)
	}
	if _, body := post(`[{"channel":"/meta/connect","clientId":"nobody","connectionType":"long-polling"}]`); !strings.Contains(body, `"error":"403::Unknown client"`) || !strings.Contains(body, `"reconnect":"handshake"`) {
		t.Fatalf("unknown client: %s", body)
	}
	if code, _ := post(`[` + strings.Repeat(" ", 40000) + `]`); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized body: %d", code)
	}
	if code, body := post(`{not json`); code != 200 || !strings.Contains(body, "Malformed JSON") {
		t.Fatalf("malformed: %d %s", code, body)
	}
	if _, body := post(`[{"channel":"/meta/connect","clientId":"` + id + `","connectionType":"websocket"}]`); !strings.Contains(body, "400::Invalid connection type") {
		t.Fatalf("connection type: %s", body)
	}
}

func TestLongPollReturnsEmptyAtTimeoutAndPublishWakesItAtOnce(t *testing.T) {
	t.Parallel()
	s, hs, _ := newPair(t, ServerOptions{LongPollTimeout: 200 * time.Millisecond})
	c := NewClient(ClientOptions{URL: hs.URL, Token: func(context.Context) (string, error) { return "t", nil }})
	c.Subscribe("/data/ChangeEvents", -1)
	_, err := collect(t, c, 1, func() {
		time.Sleep(350 * time.Millisecond) // waiting out a long poll is the behaviour under test
		s.Publish([]string{"/data/ChangeEvents"}, "s", payload(1))
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDecodeChangeEvent(t *testing.T) {
	data := json.RawMessage(`{"schema":"x","event":{"replayId":7},"payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":["001"],"changeType":"UPDATE","changedFields":["Name"],"commitTimestamp":1700000000000,"transactionKey":"k","sequenceNumber":1},"Name":"Acme"}}`)
	ce, err := DecodeChangeEvent(data)
	if err != nil || ce.ReplayID != 7 || ce.Header.EntityName != "Account" || ce.Header.ChangeType != "UPDATE" || string(ce.Fields["Name"]) != `"Acme"` {
		t.Fatalf("%+v %v", ce, err)
	}
}

func FuzzServerMessages(f *testing.F) {
	for _, s := range []string{`[{"channel":"/meta/handshake"}]`, `[{"channel":"/meta/subscribe","clientId":"x","subscription":"/data/ChangeEvents","ext":{"replay":{"/data/ChangeEvents":-2}}}]`,
		`[{"channel":"/meta/connect","clientId":"x"}]`, `{}`, `[]`, `[{"channel":"/meta/unsubscribe"}]`} {
		f.Add(s)
	}
	srv := NewServer(ServerOptions{LongPollTimeout: time.Millisecond})
	f.Fuzz(func(t *testing.T, body string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, "/cometd/62.0", strings.NewReader(body))
		srv.ServeHTTP(rec, req)
		if rec.Code != 200 && rec.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d", rec.Code)
		}
		if rec.Code == 200 && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("reply is not JSON: %q", rec.Body.String())
		}
	})
}
