// Package bayeux implements the subset of the Bayeux/CometD protocol Salesforce's Streaming API uses
// (long polling, handshake/connect/subscribe/unsubscribe/disconnect, replay ids): a server for the
// simulated org and a client for the sync engine's Change Data Capture subscriptions.
//
// The server behaves as the CometD server Salesforce runs: a /meta/connect is held (long-polled)
// only when it is alone in its request, is not the first one after the handshake and its advice does
// not ask for timeout 0 (faye batches its first /meta/connect, advice.timeout 0, with
// /meta/subscribe and expects both answered at once); a newer /meta/connect releases the one held;
// a subscription that queues replayed events releases the held connect; a client that does not
// reconnect within ClientTimeout of a reply is forgotten (403::Unknown client, advice handshake).
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
	// ChannelExists reports whether a channel may be subscribed to. It is called without the
	// server's lock held, so it may take locks of its own.
	ChannelExists func(channel string) bool
	// LongPollTimeout is how long /meta/connect waits for events (Salesforce: 110 s); a client's
	// advice may ask for less, never for more.
	LongPollTimeout time.Duration
	// ClientTimeout forgets a client that does not reconnect within it of a reply (Salesforce: 40 s).
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
	id   string
	subs map[string]int64 // channel → last replay id delivered
	// connected: a /meta/connect was answered since the handshake; the first one is answered at once
	// (CometD does, so the client learns the advice before it long-polls).
	connected bool
	polling   int       // /meta/connect requests in flight
	connGen   int       // bumped by every /meta/connect: a newer one releases a held one
	lastSeen  time.Time // last message or reply; the ClientTimeout counts from it while no connect is held
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
// long polls. The delivered data is {"schema":..,"payload":payload,"event":{"replayId":N}}.
func (s *Server) Publish(channels []string, schema string, payload json.RawMessage) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	data, _ := json.Marshal(struct {
		Schema  string           `json:"schema"`
		Payload json.RawMessage  `json:"payload"`
		Event   map[string]int64 `json:"event"`
	}{schema, payload, map[string]int64{"replayId": id}})
	s.events = append(s.events, event{id: id, channels: channels, data: data, payload: payload, at: s.opts.Now()})
	s.trim()
	s.wakeAll()
	return id
}

// wakeAll releases every held connect to look for events again; call with s.mu held.
func (s *Server) wakeAll() {
	close(s.wake)
	s.wake = make(chan struct{})
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
		s.oldest = min(replayID, s.next)
	}
}

// Newest is the replay id of the latest event published (0 before the first).
func (s *Server) Newest() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// SavedLog is the replay log as Save keeps it: where numbering continues, the oldest replay id still
// replayable and the newest retained events.
type SavedLog struct {
	Next, Oldest int64
	Events       []SavedEvent
}

// SavedEvent is one retained event.
type SavedEvent struct {
	ID       int64
	Channels []string
	Data     []byte
	Payload  []byte
	At       time.Time
}

// Save returns the log's position and its newest keep events, so a restarted server goes on numbering
// where it stopped (a subscriber's stored replay id stays meaningful) and replays what it kept.
func (s *Server) Save(keep int) SavedLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := SavedLog{Next: s.next, Oldest: s.oldest}
	from := max(0, len(s.events)-keep)
	for _, e := range s.events[from:] {
		l.Events = append(l.Events, SavedEvent{ID: e.id, Channels: e.channels, Data: e.data, Payload: e.payload, At: e.at})
	}
	if from > 0 {
		l.Oldest = s.events[from].id
	}
	return l
}

// Restore replaces the log with a saved one. Events not kept leave the replay window: subscribing
// from before them is refused as outside the window, not answered with silence.
func (s *Server) Restore(l SavedLog) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l.Next < 1 {
		return
	}
	s.next, s.oldest, s.events = l.Next, max(l.Oldest, 1), nil
	for _, e := range l.Events {
		if e.ID >= s.oldest && e.ID < s.next {
			s.events = append(s.events, event{id: e.ID, channels: e.Channels, data: e.Data, payload: e.Payload, at: e.At})
		}
	}
	if len(s.events) > 0 {
		s.oldest = s.events[0].id
	} else {
		s.oldest = s.next
	}
	s.trim()
}

// DropClients forgets every client: their next connect gets 403::Unknown client.
func (s *Server) DropClients() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.clients = map[string]*serverClient{}
	s.wakeAll()
}

// Close releases held long polls; it is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		s.wakeAll()
	}
}

func newClientID() string {
	b := make([]byte, 13)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func boolp(b bool) *bool { return &b }

// ServeHTTP handles one Bayeux request: a JSON array of messages, answered in order.
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
		if m.Channel == "/meta/connect" {
			// Only a connect alone in its request may be held: a batch is answered at once, so the
			// replies to the other messages are not delayed by a long poll (CometD does the same).
			out = append(out, s.connect(r, m, len(msgs) == 1)...)
			continue
		}
		out = append(out, s.handle(r, m))
	}
	if r.Context().Err() != nil {
		return // the client went away during a long poll
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

func (s *Server) handle(r *http.Request, m Message) Message {
	reply := Message{Channel: m.Channel, ID: m.ID, ClientID: m.ClientID}
	switch m.Channel {
	case "/meta/handshake":
		if s.opts.Authenticate != nil {
			if err := s.opts.Authenticate(r); err != nil {
				reply.Successful = boolp(false)
				reply.Error = "403::Handshake denied"
				reply.Ext = map[string]any{"sfdc": map[string]string{"failureReason": "401::Authentication invalid"}, "replay": true, "payload.format": true}
				reply.Advice = map[string]any{"reconnect": "none"}
				return reply
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
		return reply
	case "/meta/subscribe":
		return s.subscribe(m, reply)
	case "/meta/unsubscribe":
		s.mu.Lock()
		c := s.client(m.ClientID)
		if c != nil {
			delete(c.subs, m.Subscription)
		}
		s.mu.Unlock()
		reply.Subscription = m.Subscription
		reply.Successful = boolp(c != nil)
		if c == nil {
			unknownClient(&reply)
		}
		return reply
	case "/meta/disconnect":
		s.mu.Lock()
		delete(s.clients, m.ClientID)
		s.wakeAll() // a connect it holds answers now
		s.mu.Unlock()
		reply.Successful = boolp(true)
		return reply
	}
	reply.Successful, reply.Error = boolp(false), "400::Unknown channel "+m.Channel
	return reply
}

func unknownClient(reply *Message) {
	reply.Successful, reply.Error = boolp(false), "403::Unknown client"
	reply.Advice = map[string]any{"reconnect": "handshake", "interval": 0}
}

// client returns a known client, forgetting it first when it let ClientTimeout pass without a
// connect; call with s.mu held.
func (s *Server) client(id string) *serverClient {
	c := s.clients[id]
	if c == nil {
		return nil
	}
	if c.polling == 0 && s.opts.Now().Sub(c.lastSeen) > s.opts.ClientTimeout {
		delete(s.clients, id)
		return nil
	}
	c.lastSeen = s.opts.Now()
	return c
}

func (s *Server) subscribe(m Message, reply Message) Message {
	reply.Subscription = m.Subscription
	// Asked before taking the lock: the org answers it under its own lock.
	exists := m.Subscription != "" && s.opts.ChannelExists(m.Subscription)
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.client(m.ClientID)
	switch {
	case c == nil:
		reply.Successful, reply.Error = boolp(false), "403::Client has not completed handshake"
		reply.Advice = map[string]any{"reconnect": "handshake", "interval": 0}
		return reply
	case m.Subscription == "":
		reply.Successful, reply.Error = boolp(false), "400::Channel name not specified"
		return reply
	case !strings.HasPrefix(m.Subscription, "/"):
		reply.Successful, reply.Error = boolp(false), "400::Channel subscriptions must start with a leading '/'"
		return reply
	case !exists:
		reply.Successful, reply.Error = boolp(false), fmt.Sprintf("400::The channel you requested to subscribe to does not exist {%s}", m.Subscription)
		return reply
	}
	from := int64(-1)
	if ext, ok := m.Ext["replay"].(map[string]any); ok {
		if v, ok := ext[m.Subscription].(float64); ok {
			from = int64(v)
		}
	}
	newest := s.next - 1
	switch {
	case from == -1:
		c.subs[m.Subscription] = newest
	case from == -2:
		c.subs[m.Subscription] = s.oldest - 1
	case from >= s.oldest-1 && from <= newest:
		// Replay after an id inside the window; an id past the newest event names nothing (the org
		// was restored, say, and numbers from lower ids again), so it is refused like a forgotten one.
		c.subs[m.Subscription] = from
	default:
		reply.Successful = boolp(false)
		reply.Error = fmt.Sprintf("400::The replayId {%d} you provided was invalid. Please provide a valid ID, -2 to replay all events, or -1 to replay only new events.", from)
		return reply
	}
	reply.Successful = boolp(true)
	s.wakeAll() // a held connect delivers the replayed events at once
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

// adviceTimeout reads the timeout a client's /meta/connect asks for, in milliseconds.
func adviceTimeout(m Message) (time.Duration, bool) {
	v, ok := m.Advice["timeout"].(float64)
	if !ok || v < 0 {
		return 0, false
	}
	return time.Duration(v) * time.Millisecond, true
}

func (s *Server) connect(r *http.Request, m Message, canHold bool) []Message {
	reply := Message{Channel: m.Channel, ID: m.ID, ClientID: m.ClientID}
	if m.ConnectionType != "" && m.ConnectionType != "long-polling" {
		reply.Successful, reply.Error = boolp(false), "400::Invalid connection type "+m.ConnectionType
		return []Message{reply}
	}
	s.mu.Lock()
	c := s.client(m.ClientID)
	if c == nil {
		s.mu.Unlock()
		unknownClient(&reply)
		return []Message{reply}
	}
	hold := s.opts.LongPollTimeout
	if t, ok := adviceTimeout(m); ok && t < hold {
		hold = t // the client's advice: timeout 0 means "answer at once"
	}
	if !c.connected || !canHold {
		hold = 0
	}
	c.connected = true
	c.connGen++
	gen := c.connGen
	c.polling++
	s.wakeAll() // a connect held for this client answers now: this one takes over
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		c.polling--
		c.lastSeen = s.opts.Now()
		s.mu.Unlock()
	}()

	deadline := time.NewTimer(hold)
	defer deadline.Stop()
	timedOut := false
	for {
		s.mu.Lock()
		if s.clients[c.id] != c { // dropped or disconnected meanwhile
			s.mu.Unlock()
			unknownClient(&reply)
			return []Message{reply}
		}
		events := s.pending(c)
		wake, closed, superseded := s.wake, s.closed, c.connGen != gen
		s.mu.Unlock()
		if len(events) > 0 || closed || superseded || timedOut || hold == 0 {
			reply.Successful = boolp(true)
			reply.Advice = map[string]any{"interval": 0, "timeout": s.opts.LongPollTimeout.Milliseconds(), "reconnect": "retry"}
			return append(events, reply)
		}
		select {
		case <-wake:
		case <-deadline.C:
			timedOut = true
		case <-r.Context().Done():
			return nil
		}
	}
}

// reap forgets clients silent for longer than ClientTimeout (and not in a long poll); call with s.mu held.
func (s *Server) reap() {
	now := s.opts.Now()
	for id, c := range s.clients {
		if c.polling == 0 && now.Sub(c.lastSeen) > s.opts.ClientTimeout {
			delete(s.clients, id)
		}
	}
}

// IsChangeEventChannel reports whether a channel names Change Data Capture events.
func IsChangeEventChannel(ch string) bool {
	return ch == "/data/ChangeEvents" || (strings.HasPrefix(ch, "/data/") && strings.HasSuffix(ch, "ChangeEvent"))
}
