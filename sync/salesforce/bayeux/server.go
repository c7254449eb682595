// Package bayeux implements the subset of the Bayeux/CometD protocol Salesforce's Streaming API uses
// (long polling, handshake/connect/subscribe/unsubscribe/disconnect, replay ids): a server for the
// simulated org and a client for the sync engine's Change Data Capture subscriptions.
package bayeux

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Message is one Bayeux message.
type Message struct {
	Channel                  string          `json:"channel"`
	ID                       string          `json:"id,omitempty"`
	ClientID                 string          `json:"clientId,omitempty"`
	Subscription             string          `json:"subscription,omitempty"`
	Successful               *bool           `json:"successful,omitempty"`
	Error                    string          `json:"error,omitempty"`
	Advice                   map[string]any  `json:"advice,omitempty"`
	Ext                      map[string]any  `json:"ext,omitempty"`
	Data                     json.RawMessage `json:"data,omitempty"`
	Version                  string          `json:"version,omitempty"`
	MinimumVersion           string          `json:"minimumVersion,omitempty"`
	SupportedConnectionTypes []string        `json:"supportedConnectionTypes,omitempty"`
	ConnectionType           string          `json:"connectionType,omitempty"`
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Authenticate checks a request's Authorization header; an error denies the handshake.
	Authenticate func(r *http.Request) error
	// ChannelExists reports whether a channel may be subscribed to.
	ChannelExists func(channel string) bool
	// LongPollTimeout is how long /meta/connect waits for events (Salesforce: 110 s).
	LongPollTimeout time.Duration
	// ClientTimeout forgets a client that does not reconnect (Salesforce: 40 s).
	ClientTimeout time.Duration
	// Retention is the replay window (72 h for Change Data Capture).
	Retention time.Duration
	// MaxEvents caps the replay log; older events leave the window.
	MaxEvents int
	Now       func() time.Time
}

type event struct {
	id       int64
	channels []string
	data     json.RawMessage
	payload  json.RawMessage // data's payload alone, for the log's other readers (log.go)
	at       time.Time
}

type serverClient struct {
	id       string
	subs     map[string]int64 // channel → last replay id delivered
	lastSeen time.Time
	busy     bool
}

// Server is a Bayeux long-polling server with a replay log.
type Server struct {
	opts ServerOptions

	mu      sync.Mutex
	clients map[string]*serverClient
	events  []event // ascending ids
	next    int64
	oldest  int64 // lowest replay id still in the window (events before it are gone)
	wake    chan struct{}
	closed  bool
}

// NewServer returns a server.
func NewServer(opts ServerOptions) *Server {
	if opts.LongPollTimeout <= 0 {
		opts.LongPollTimeout = 110 * time.Second
	}
	if opts.ClientTimeout <= 0 {
		opts.ClientTimeout = 40 * time.Second
	}
	if opts.Retention <= 0 {
		opts.Retention = 72 * time.Hour
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 1_000_000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.ChannelExists == nil {
		opts.ChannelExists = func(string) bool { return true }
	}
	return &Server{opts: opts, clients: map[string]*serverClient{}, wake: make(chan struct{}), next: 1, oldest: 1}
}

// Publish appends an event to the replay log of the channels (one replay id for all) and wakes
// long polls. The delivered data is {"schema":..,"event":{"replayId":N},"payload":payload}.
func (s *Server) Publish(channels []string, schema string, payload json.RawMessage) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	data, _ := json.Marshal(map[string]any{"schema": schema, "event": map[string]int64{"replayId": id}, "payload": payload})
	s.events = append(s.events, event{id: id, channels: channels, data: data, payload: payload, at: s.opts.Now()})
	s.trim()
	close(s.wake)
	s.wake = make(chan struct{})
	return id
}

// trim drops events past the retention or the cap.
func (s *Server) trim() {
	cut := 0
	now := s.opts.Now()
	for cut < len(s.events) && (len(s.events)-cut > s.opts.MaxEvents || now.Sub(s.events[cut].at) > s.opts.Retention) {
		cut++
	}
	if cut > 0 {
		s.oldest = s.events[cut-1].id + 1
		s.events = append([]event(nil), s.events[cut:]...)
	}
}

// ForgetBefore drops events before replayID from the replay window (replay-window loss).
func (s *Server) ForgetBefore(replayID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.events) > 0 && s.events[0].id < replayID {
		s.events = s.events[1:]
	}
	if replayID > s.oldest {
		s.oldest = replayID
	}
}

// DropClients forgets every client: their next connect gets 403::Unknown client.
func (s *Server) DropClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients = map[string]*serverClient{}
	close(s.wake)
	s.wake = make(chan struct{})
}

// Close releases held long polls; it is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.wake)
		s.wake = make(chan struct{})
	}
}

func newClientID() string {
	b := make([]byte, 13)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func boolp(b bool) *bool { return &b }

// ServeHTTP handles one Bayeux request: a JSON array of messages.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "Bayeux needs POST", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 32769))
	if err != nil {
		http.Error(w, "cannot read body", http.StatusBadRequest)
		return
	}
	if len(body) > 32768 {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	var msgs []Message
	if err := json.Unmarshal(body, &msgs); err != nil {
		var one Message
		if err2 := json.Unmarshal(body, &one); err2 != nil {
			writeMessages(w, []Message{{Channel: "/meta/unknown", Successful: boolp(false), Error: "400::Malformed JSON"}})
			return
		}
		msgs = []Message{one}
	}
	http.SetCookie(w, &http.Cookie{Name: "BAYEUX_BROWSER", Value: newClientID()[:12], Path: "/"})
	http.SetCookie(w, &http.Cookie{Name: "sfdc-stream", Value: "!" + newClientID()[:16], Path: "/"})
	var out []Message
	for _, m := range msgs {
		out = append(out, s.handle(r, m)...)
	}
	writeMessages(w, out)
}

func writeMessages(w http.ResponseWriter, msgs []Message) {
	if msgs == nil {
		msgs = []Message{}
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_ = json.NewEncoder(w).Encode(msgs)
}

func (s *Server) handle(r *http.Request, m Message) []Message {
	reply := Message{Channel: m.Channel, ID: m.ID, ClientID: m.ClientID}
	switch m.Channel {
	case "/meta/handshake":
		if s.opts.Authenticate != nil {
			if err := s.opts.Authenticate(r); err != nil {
				reply.Successful = boolp(false)
				reply.Error = "403::Handshake denied"
				reply.Ext = map[string]any{"sfdc": map[string]string{"failureReason": "401::Authentication invalid"}, "replay": true, "payload.format": true}
				reply.Advice = map[string]any{"reconnect": "none"}
				return []Message{reply}
			}
		}
		c := &serverClient{id: newClientID(), subs: map[string]int64{}, lastSeen: s.opts.Now()}
		s.mu.Lock()
		s.reap()
		s.clients[c.id] = c
		s.mu.Unlock()
		reply.ClientID, reply.Successful, reply.Version, reply.MinimumVersion = c.id, boolp(true), "1.0", "1.0"
		reply.SupportedConnectionTypes = []string{"long-polling"}
		reply.Ext = map[string]any{"replay": true, "payload.format": true}
		return []Message{reply}
	case "/meta/subscribe":
		return []Message{s.subscribe(r, m, reply)}
	case "/meta/unsubscribe":
		s.mu.Lock()
		c := s.clients[m.ClientID]
		if c != nil {
			delete(c.subs, m.Subscription)
		}
		s.mu.Unlock()
		reply.Subscription = m.Subscription
		reply.Successful = boolp(c != nil)
		if c == nil {
			reply.Error = "403::Unknown client"
		}
		return []Message{reply}
	case "/meta/disconnect":
		s.mu.Lock()
		delete(s.clients, m.ClientID)
		s.mu.Unlock()
		reply.Successful = boolp(true)
		return []Message{reply}
	case "/meta/connect":
		if m.ConnectionType != "" && m.ConnectionType != "long-polling" {
			reply.Successful, reply.Error = boolp(false), "400::Invalid connection type"
			return []Message{reply}
		}
		return s.connect(r, m, reply)
	}
	reply.Successful, reply.Error = boolp(false), "400::Unknown channel "+m.Channel
	return []Message{reply}
}

func (s *Server) subscribe(r *http.Request, m Message, reply Message) Message {
	reply.Subscription = m.Subscription
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.clients[m.ClientID]
	switch {
	case c == nil:
		reply.Successful, reply.Error = boolp(false), "403::Client has not completed handshake"
		reply.Advice = map[string]any{"reconnect": "handshake", "interval": 0}
		return reply
	case !s.opts.ChannelExists(m.Subscription):
		reply.Successful, reply.Error = boolp(false), fmt.Sprintf("400::The channel you requested to subscribe to does not exist {%s}", m.Subscription)
		return reply
	}
	from := int64(-1)
	if ext, ok := m.Ext["replay"].(map[string]any); ok {
		if v, ok := ext[m.Subscription].(float64); ok {
			from = int64(v)
		}
	}
	switch {
	case from == -1:
		c.subs[m.Subscription] = s.next - 1
	case from == -2:
		c.subs[m.Subscription] = s.oldest - 1
	case from >= s.oldest-1 && from < s.next+1_000_000:
		c.subs[m.Subscription] = from
	default:
		reply.Successful = boolp(false)
		reply.Error = fmt.Sprintf("400::The replayId {%d} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", from)
		return reply
	}
	c.lastSeen = s.opts.Now()
	reply.Successful = boolp(true)
	return reply
}

// pending returns the events a client has not seen, in order, and advances its positions.
func (s *Server) pending(c *serverClient) []Message {
	var out []Message
	for _, e := range s.events {
		for _, ch := range e.channels {
			last, ok := c.subs[ch]
			if ok && e.id > last {
				out = append(out, Message{Channel: ch, Data: e.data})
				c.subs[ch] = e.id
			}
		}
	}
	return out
}

func (s *Server) connect(r *http.Request, m Message, reply Message) []Message {
	deadline := time.NewTimer(s.opts.LongPollTimeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		c := s.clients[m.ClientID]
		if c == nil {
			s.mu.Unlock()
			reply.Successful, reply.Error = boolp(false), "403::Unknown client"
			reply.Advice = map[string]any{"reconnect": "handshake", "interval": 0}
			return []Message{reply}
		}
		c.lastSeen = s.opts.Now()
		events := s.pending(c)
		wake, closed := s.wake, s.closed
		s.mu.Unlock()
		if len(events) > 0 || closed {
			reply.Successful = boolp(true)
			reply.Advice = map[string]any{"interval": 0, "timeout": s.opts.LongPollTimeout.Milliseconds(), "reconnect": "retry"}
			return append(events, reply)
		}
		select {
		case <-wake:
		case <-deadline.C:
			reply.Successful = boolp(true)
			reply.Advice = map[string]any{"interval": 0, "timeout": s.opts.LongPollTimeout.Milliseconds(), "reconnect": "retry"}
			return []Message{reply}
		case <-r.Context().Done():
			return nil
		}
	}
}

// reap forgets clients silent for longer than ClientTimeout (and not in a long poll).
func (s *Server) reap() {
	now := s.opts.Now()
	for id, c := range s.clients {
		if now.Sub(c.lastSeen) > s.opts.ClientTimeout+s.opts.LongPollTimeout {
			delete(s.clients, id)
		}
	}
}

// IsChangeEventChannel reports whether a channel names Change Data Capture events.
func IsChangeEventChannel(ch string) bool {
	return ch == "/data/ChangeEvents" || (strings.HasPrefix(ch, "/data/") && strings.HasSuffix(ch, "ChangeEvent"))
}
