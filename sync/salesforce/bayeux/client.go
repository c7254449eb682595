package bayeux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors Run returns (or reports through OnSubscribeError) for the caller to act on.
var (
	// ErrAuth: the server refused the credentials (refresh the token, or re-authorize).
	ErrAuth = errors.New("bayeux: authentication refused")
	// ErrReplayUnavailable: a replay id is outside the server's window; fall back to polling.
	ErrReplayUnavailable = errors.New("bayeux: replay id no longer available")
	// ErrNoChannel: the channel does not exist (for Change Data Capture: the entity is not selected).
	ErrNoChannel = errors.New("bayeux: no such channel")
	// ErrNoReconnect: the server advised reconnect "none" for a reason other than credentials.
	ErrNoReconnect = errors.New("bayeux: server advised not to reconnect")
)

// SubscribeError is a subscription the server refused; it wraps ErrReplayUnavailable, ErrNoChannel
// or neither.
type SubscribeError struct {
	Channel, Reason string
	err             error
}

func (e *SubscribeError) Error() string {
	return fmt.Sprintf("bayeux: subscribe %s: %s", e.Channel, e.Reason)
}

func (e *SubscribeError) Unwrap() error { return e.err }

// Event is one delivered event.
type Event struct {
	Channel  string
	ReplayID int64
	Data     json.RawMessage // the whole "data" member
}

// ClientOptions configure a Client.
type ClientOptions struct {
	URL        string // e.g. https://instance/cometd/62.0
	HTTPClient *http.Client
	Token      func(ctx context.Context) (string, error)
	Backoff    func(attempt int) time.Duration
	// OnSubscribeError, when set, is told about each subscription refused because its channel does not
	// exist or its replay id is not available, and the session goes on with the other channels (the
	// refused one is dropped); other refusals, or all when it is nil, end Run with the error.
	OnSubscribeError func(err *SubscribeError)
	// OnSubscribed, when set, is told about each acknowledged subscription.
	OnSubscribed func(channel string)
}

// Client subscribes to channels and delivers their events in order.
type Client struct {
	opts ClientOptions
	mu   sync.Mutex
	subs map[string]int64 // channel → replay id to resume after
	gen  int              // bumped when subscriptions change during Run
}

// NewClient returns a client. It keeps the server's cookies (Salesforce expects BAYEUX_BROWSER back).
func NewClient(opts ClientOptions) *Client {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 3 * time.Minute}
	}
	if opts.HTTPClient.Jar == nil {
		hc := *opts.HTTPClient
		hc.Jar, _ = cookiejar.New(nil)
		opts.HTTPClient = &hc
	}
	if opts.Backoff == nil {
		opts.Backoff = func(n int) time.Duration {
			d := time.Second << min(n, 5)
			if d > 30*time.Second {
				d = 30 * time.Second
			}
			return d/2 + time.Duration(rand.Int64N(int64(d/2)))
		}
	}
	return &Client{opts: opts, subs: map[string]int64{}}
}

// Subscribe registers a channel, replaying after replayFrom (-1 new only, -2 all retained).
func (c *Client) Subscribe(channel string, replayFrom int64) {
	c.mu.Lock()
	c.subs[channel] = replayFrom
	c.gen++
	c.mu.Unlock()
}

// Unsubscribe removes a channel.
func (c *Client) Unsubscribe(channel string) {
	c.mu.Lock()
	delete(c.subs, channel)
	c.gen++
	c.mu.Unlock()
}

// post sends messages; timeout > 0 bounds the request (a long poll's advice plus a margin).
func (c *Client) post(ctx context.Context, token string, msgs []Message, timeout time.Duration) ([]Message, error) {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	body, _ := json.Marshal(msgs)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "OAuth "+token)
	res, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
		return nil, fmt.Errorf("%w: HTTP %d", ErrAuth, res.StatusCode)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bayeux: HTTP %d", res.StatusCode)
	}
	var out []Message
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("bayeux: decode reply: %w", err)
	}
	return out, nil
}

// errRehandshake asks the session loop to handshake again.
var errRehandshake = errors.New("bayeux: re-handshake")

type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

// Run handshakes, subscribes and long-polls until ctx ends, calling handle for each event in order.
// A connect lost to the network is retried with the same client id (the server keeps its events
// for a while); the client handshakes again when the server forgets it (403::Unknown client, or
// advice reconnect "handshake") and resubscribes after the last delivered replay ids. It follows
// the server's advice: interval between connects, timeout of the long poll (a connect that takes
// much longer is abandoned as a dead connection), reconnect retry/handshake/none. It returns
// ErrAuth or ErrNoReconnect (wrapped), a *SubscribeError when OnSubscribeError is nil, or handle's error.
func (c *Client) Run(ctx context.Context, handle func(context.Context, Event) error) error {
	failures := 0
	for {
		err := c.session(ctx, handle, &failures)
		var he *handlerError
		var se *SubscribeError
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errRehandshake):
			continue
		case errors.As(err, &he):
			return he.err
		case errors.Is(err, ErrAuth), errors.Is(err, ErrNoReconnect), errors.As(err, &se):
			return err
		}
		failures++
		if !c.sleep(ctx, c.opts.Backoff(failures)) {
			return ctx.Err()
		}
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// advice is what the server last advised.
type advice struct {
	interval, timeout time.Duration
	reconnect         string
}

func (a *advice) update(m map[string]any) {
	if v, ok := m["interval"].(float64); ok && v >= 0 {
		a.interval = time.Duration(v) * time.Millisecond
	}
	if v, ok := m["timeout"].(float64); ok && v >= 0 {
		a.timeout = time.Duration(v) * time.Millisecond
	}
	if v, ok := m["reconnect"].(string); ok {
		a.reconnect = v
	}
}

// connectTimeout bounds one long poll: the advised hold time and a margin for the network (faye
// allows 1.2 × the timeout); before any advice, the HTTP client's own timeout applies.
func (a *advice) connectTimeout() time.Duration {
	if a.timeout <= 0 {
		return 0
	}
	return a.timeout + a.timeout/5 + 5*time.Second
}

func failed(m Message) bool { return m.Successful != nil && !*m.Successful }

// refusal turns an unsuccessful reply into the error the session acts on.
func refusal(what string, m Message) error {
	reason := m.Error
	if sf, ok := m.Ext["sfdc"].(map[string]any); ok {
		if fr, ok := sf["failureReason"].(string); ok && fr != "" {
			reason += " (" + fr + ")"
		}
	}
	rec, _ := m.Advice["reconnect"].(string)
	switch {
	case rec == "none" && (strings.Contains(reason, "401") || what == "handshake"):
		return fmt.Errorf("%w: %s: %s", ErrAuth, what, reason)
	case rec == "none":
		return fmt.Errorf("%w: %s: %s", ErrNoReconnect, what, reason)
	case rec == "handshake", strings.HasPrefix(m.Error, "403::"), strings.HasPrefix(m.Error, "401::"):
		return errRehandshake
	}
	return fmt.Errorf("bayeux: %s: %s", what, reason)
}

func (c *Client) session(ctx context.Context, handle func(context.Context, Event) error, failures *int) error {
	token, err := c.opts.Token(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	var adv advice
	replies, err := c.post(ctx, token, []Message{{Channel: "/meta/handshake", Version: "1.0", MinimumVersion: "1.0",
		SupportedConnectionTypes: []string{"long-polling"}, ID: "1", Ext: map[string]any{"replay": true}}}, 0)
	if err != nil {
		return err
	}
	if len(replies) == 0 {
		return errors.New("bayeux: empty handshake reply")
	}
	hs := replies[0]
	adv.update(hs.Advice)
	if hs.Successful == nil || !*hs.Successful {
		if err := refusal("handshake", hs); !errors.Is(err, errRehandshake) {
			return err
		}
		return errors.New("bayeux: handshake refused: " + hs.Error) // retried with backoff
	}
	clientID := hs.ClientID
	subscribed := map[string]bool{}
	gen := -1
	id := 2
	nextID := func() string { id++; return strconv.Itoa(id) }
	for {
		if err := c.syncSubscriptions(ctx, token, clientID, subscribed, &gen, nextID); err != nil {
			return err
		}
		msgs, err := c.post(ctx, token, []Message{{Channel: "/meta/connect", ClientID: clientID, ConnectionType: "long-polling", ID: nextID()}}, adv.connectTimeout())
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrAuth) {
				return err
			}
			// A dropped or dead connection: connect again with the same client id after a pause; if
			// the server forgot the client meanwhile, it says so and the session handshakes again.
			*failures++
			if !c.sleep(ctx, c.opts.Backoff(*failures)) {
				return ctx.Err()
			}
			continue
		}
		*failures = 0
		for _, m := range msgs {
			if m.Channel == "/meta/connect" {
				adv.update(m.Advice)
				if failed(m) {
					return refusal("connect", m)
				}
				continue
			}
			if strings.HasPrefix(m.Channel, "/meta/") {
				continue
			}
			var env struct {
				Event struct {
					ReplayID int64 `json:"replayId"`
				} `json:"event"`
			}
			_ = json.Unmarshal(m.Data, &env)
			if err := handle(ctx, Event{Channel: m.Channel, ReplayID: env.Event.ReplayID, Data: m.Data}); err != nil {
				return &handlerError{err}
			}
			c.mu.Lock()
			if _, ok := c.subs[m.Channel]; ok && env.Event.ReplayID > 0 {
				c.subs[m.Channel] = env.Event.ReplayID // resume after the last delivered event
			}
			c.mu.Unlock()
		}
		switch adv.reconnect {
		case "none":
			return fmt.Errorf("%w: after connect", ErrNoReconnect)
		case "handshake":
			return errRehandshake
		}
		if !c.sleep(ctx, adv.interval) {
			return ctx.Err()
		}
	}
}

// syncSubscriptions subscribes the channels added since the last look and unsubscribes removed ones.
func (c *Client) syncSubscriptions(ctx context.Context, token, clientID string, subscribed map[string]bool, gen *int, nextID func() string) error {
	c.mu.Lock()
	if c.gen == *gen {
		c.mu.Unlock()
		return nil
	}
	*gen = c.gen
	want := map[string]int64{}
	for ch, replay := range c.subs {
		want[ch] = replay
	}
	c.mu.Unlock()
	for ch := range subscribed {
		if _, ok := want[ch]; !ok {
			if _, err := c.post(ctx, token, []Message{{Channel: "/meta/unsubscribe", ClientID: clientID, Subscription: ch, ID: nextID()}}, 0); err != nil {
				return err
			}
			delete(subscribed, ch)
		}
	}
	for ch, replay := range want {
		if subscribed[ch] {
			continue
		}
		r, err := c.post(ctx, token, []Message{{Channel: "/meta/subscribe", ClientID: clientID, Subscription: ch, ID: nextID(),
			Ext: map[string]any{"replay": map[string]int64{ch: replay}}}}, 0)
		if err != nil {
			return err
		}
		if len(r) > 0 && !failed(r[0]) {
			subscribed[ch] = true
			if c.opts.OnSubscribed != nil {
				c.opts.OnSubscribed(ch)
			}
			continue
		}
		msg := "no reply"
		if len(r) > 0 {
			msg = r[0].Error
			if err := refusal("subscribe "+ch, r[0]); errors.Is(err, errRehandshake) || errors.Is(err, ErrAuth) {
				return err
			}
		}
		se := &SubscribeError{Channel: ch, Reason: msg}
		switch {
		case strings.Contains(msg, "replayId"):
			se.err = ErrReplayUnavailable
		case strings.Contains(msg, "does not exist"):
			se.err = ErrNoChannel
		}
		if c.opts.OnSubscribeError == nil || se.err == nil {
			return se // a refusal of another kind ends the session: tried again after a backoff
		}
		c.mu.Lock()
		if c.subs[ch] == replay {
			delete(c.subs, ch)
		}
		c.mu.Unlock()
		c.opts.OnSubscribeError(se)
	}
	return nil
}

// ChangeEventHeader is Change Data Capture's header.
type ChangeEventHeader struct {
	EntityName      string   `json:"entityName"`
	RecordIDs       []string `json:"recordIds"`
	ChangeType      string   `json:"changeType"`
	ChangeOrigin    string   `json:"changeOrigin"`
	TransactionKey  string   `json:"transactionKey"`
	SequenceNumber  int      `json:"sequenceNumber"`
	CommitTimestamp int64    `json:"commitTimestamp"`
	CommitNumber    int64    `json:"commitNumber"`
	CommitUser      string   `json:"commitUser"`
	ChangedFields   []string `json:"changedFields"`
	DiffFields      []string `json:"diffFields"`
	NulledFields    []string `json:"nulledFields"`
}

// ChangeEvent is a decoded CDC event.
type ChangeEvent struct {
	ReplayID int64
	Header   ChangeEventHeader
	Fields   map[string]json.RawMessage
}

// DecodeChangeEvent decodes an event's data member.
func DecodeChangeEvent(data json.RawMessage) (ChangeEvent, error) {
	var env struct {
		Event struct {
			ReplayID int64 `json:"replayId"`
		} `json:"event"`
		Payload map[string]json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		return ChangeEvent{}, fmt.Errorf("bayeux: decode change event: %w", err)
	}
	ce := ChangeEvent{ReplayID: env.Event.ReplayID, Fields: env.Payload}
	if h, ok := env.Payload["ChangeEventHeader"]; ok {
		if err := json.Unmarshal(h, &ce.Header); err != nil {
			return ce, fmt.Errorf("bayeux: decode ChangeEventHeader: %w", err)
		}
		delete(ce.Fields, "ChangeEventHeader")
	}
	return ce, nil
}
