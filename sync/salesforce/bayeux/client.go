package bayeux

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Errors Run returns for the caller to act on.
var (
	// ErrAuth: the server refused the credentials (refresh the token, or re-authorize).
	ErrAuth = errors.New("bayeux: authentication refused")
	// ErrReplayUnavailable: a replay id is outside the server's window; fall back to polling.
	ErrReplayUnavailable = errors.New("bayeux: replay id no longer available")
)

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
}

// Client subscribes to channels and delivers their events in order.
type Client struct {
	opts ClientOptions
	mu   sync.Mutex
	subs map[string]int64 // channel → replay id to resume after
	gen  int              // bumped when subscriptions change during Run
}

// NewClient returns a client.
func NewClient(opts ClientOptions) *Client {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 3 * time.Minute}
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

func (c *Client) post(ctx context.Context, token string, msgs []Message) ([]Message, error) {
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

// Run handshakes, subscribes and long-polls until ctx ends, calling handle for each event in order.
// It re-handshakes on 403::Unknown client and resubscribes from the last delivered replay id;
// network failures are retried with backoff. It returns ErrAuth or ErrReplayUnavailable (wrapped)
// for the caller to act on, or handle's error.
func (c *Client) Run(ctx context.Context, handle func(context.Context, Event) error) error {
	failures := 0
	for {
		err := c.session(ctx, handle)
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, errRehandshake):
			failures = 0
			continue
		case errors.Is(err, ErrAuth), errors.Is(err, ErrReplayUnavailable), errors.As(err, new(*handlerError)):
			var he *handlerError
			if errors.As(err, &he) {
				return he.err
			}
			return err
		}
		failures++
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.opts.Backoff(failures)):
		}
	}
}

type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

func (c *Client) session(ctx context.Context, handle func(context.Context, Event) error) error {
	token, err := c.opts.Token(ctx)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	replies, err := c.post(ctx, token, []Message{{Channel: "/meta/handshake", Version: "1.0", MinimumVersion: "1.0", SupportedConnectionTypes: []string{"long-polling"}, ID: "1"}})
	if err != nil {
		return err
	}
	if len(replies) == 0 || replies[0].Successful == nil || !*replies[0].Successful {
		reason := ""
		if len(replies) > 0 {
			reason = replies[0].Error
		}
		return fmt.Errorf("%w: %s", ErrAuth, reason)
	}
	clientID := replies[0].ClientID
	subscribed := map[string]bool{}
	gen := -1
	for id := 2; ; id++ {
		c.mu.Lock()
		if c.gen != gen {
			gen = c.gen
			for ch, replay := range c.subs {
				if subscribed[ch] {
					continue
				}
				c.mu.Unlock()
				r, err := c.post(ctx, token, []Message{{Channel: "/meta/subscribe", ClientID: clientID, Subscription: ch, ID: strconv.Itoa(id),
					Ext: map[string]any{"replay": map[string]int64{ch: replay}}}})
				c.mu.Lock()
				if err != nil {
					c.mu.Unlock()
					return err
				}
				if len(r) == 0 || r[0].Successful == nil || !*r[0].Successful {
					c.mu.Unlock()
					msg := ""
					if len(r) > 0 {
						msg = r[0].Error
					}
					switch {
					case strings.Contains(msg, "replayId"):
						return fmt.Errorf("%w: channel %s: %s", ErrReplayUnavailable, ch, msg)
					case strings.HasPrefix(msg, "403::"):
						return errRehandshake
					}
					return fmt.Errorf("bayeux: subscribe %s: %s", ch, msg)
				}
				subscribed[ch] = true
			}
			for ch := range subscribed {
				if _, ok := c.subs[ch]; !ok {
					delete(subscribed, ch)
				}
			}
		}
		c.mu.Unlock()
		msgs, err := c.post(ctx, token, []Message{{Channel: "/meta/connect", ClientID: clientID, ConnectionType: "long-polling", ID: strconv.Itoa(id)}})
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Channel == "/meta/connect" {
				if m.Successful != nil && !*m.Successful {
					if strings.HasPrefix(m.Error, "403::") || m.Advice["reconnect"] == "handshake" {
						return errRehandshake
					}
					if m.Advice["reconnect"] == "none" {
						return fmt.Errorf("%w: %s", ErrAuth, m.Error)
					}
					return fmt.Errorf("bayeux: connect: %s", m.Error)
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
	}
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
