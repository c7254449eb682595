// Package pubsub is pgforce's client of Salesforce's Pub/Sub API: gRPC over HTTP/2 to
// api.pubsub.salesforce.com:7443 (the generated eventbus package), with Salesforce's session
// metadata (accesstoken, instanceurl, tenantid), Avro decoding (github.com/hamba/avro) with schemas
// fetched by GetSchema and cached by id, subscriptions with flow control (num_requested topped up as
// events are processed, so nothing is buffered beyond what was asked for), replay from the latest,
// the earliest or a stored event, keepalive supervision, and the documented errors classified once:
// an expired token is refreshed and the subscription resumed, a refused replay id or an unknown topic
// is reported for the caller to act on. It also encodes and decodes the bitmap fields of change events.
package pubsub

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"

	"pgforce/sync/salesforce/pubsub/eventbus"
)

// DefaultAddr is Salesforce's Pub/Sub API endpoint.
const DefaultAddr = "api.pubsub.salesforce.com:7443"

// Credentials are the session metadata Salesforce requires on every call.
type Credentials struct {
	AccessToken string
	InstanceURL string
	TenantID    string // the org id
}

// Options configure a Client.
type Options struct {
	Addr string      // host:port; default DefaultAddr
	TLS  *tls.Config // nil: the system's trusted roots
	// Credentials returns the current session; it is asked before every call, so a refreshed token is
	// used at once.
	Credentials func(ctx context.Context) (Credentials, error)
	// Refresh gets a new access token after Salesforce refused the current one; nil = no refresh.
	Refresh func(ctx context.Context) error
	// KeepaliveTimeout ends a subscription that heard nothing (no event, no keepalive) for this long:
	// Salesforce sends a keepalive within 270 s, so silence means a dead connection. Default 5 min.
	KeepaliveTimeout time.Duration
	Logger           *slog.Logger
}

// Client talks to one org's Pub/Sub API.
type Client struct {
	opts Options
	conn *grpc.ClientConn
	api  eventbus.PubSubClient

	mu      sync.Mutex
	schemas map[string]*avro.RecordSchema
}

// Dial returns a client; the connection is made on first use.
func Dial(opts Options) (*Client, error) {
	if opts.Credentials == nil {
		return nil, errors.New("pubsub: Credentials are required")
	}
	if opts.Addr == "" {
		opts.Addr = DefaultAddr
	}
	if opts.KeepaliveTimeout <= 0 {
		opts.KeepaliveTimeout = 5 * time.Minute
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	tlsCfg := opts.TLS
	if tlsCfg == nil {
		tlsCfg = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	conn, err := grpc.NewClient(opts.Addr, grpc.WithTransportCredentials(credentials.NewTLS(tlsCfg)),
		// Salesforce caps an event at 1 MB and a fetch at 100 events.
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(128<<20)))
	if err != nil {
		return nil, fmt.Errorf("pubsub: connect to %s: %w", opts.Addr, err)
	}
	return &Client{opts: opts, conn: conn, api: eventbus.NewPubSubClient(conn), schemas: map[string]*avro.RecordSchema{}}, nil
}

// Close releases the connection.
func (c *Client) Close() error { return c.conn.Close() }

// authed adds the session metadata to ctx.
func (c *Client) authed(ctx context.Context) (context.Context, error) {
	cr, err := c.opts.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	return metadata.AppendToOutgoingContext(ctx, "accesstoken", cr.AccessToken, "instanceurl", cr.InstanceURL, "tenantid", cr.TenantID), nil
}

// call runs a unary RPC, refreshing the token once when Salesforce refuses it.
func call[T any](ctx context.Context, c *Client, what string, rpc func(ctx context.Context, opt grpc.CallOption) (T, error)) (T, error) {
	var zero T
	for refreshed := false; ; refreshed = true {
		actx, err := c.authed(ctx)
		if err != nil {
			return zero, err
		}
		var trailer metadata.MD
		out, err := rpc(actx, grpc.Trailer(&trailer))
		if err == nil {
			return out, nil
		}
		err = classify(err, what, trailer)
		if errors.Is(err, ErrAuth) && c.opts.Refresh != nil && !refreshed {
			if rerr := c.opts.Refresh(ctx); rerr != nil {
				return zero, rerr
			}
			continue
		}
		return zero, err
	}
}

// Topic describes a topic (GetTopic): whether it exists and may be subscribed to, and its current schema.
func (c *Client) Topic(ctx context.Context, name string) (*eventbus.TopicInfo, error) {
	return call(ctx, c, "GetTopic "+name, func(ctx context.Context, opt grpc.CallOption) (*eventbus.TopicInfo, error) {
		return c.api.GetTopic(ctx, &eventbus.TopicRequest{TopicName: name}, opt)
	})
}

// Schema returns the Avro schema with the given id, asking Salesforce (GetSchema) only the first time.
func (c *Client) Schema(ctx context.Context, id string) (*avro.RecordSchema, error) {
	c.mu.Lock()
	s, ok := c.schemas[id]
	c.mu.Unlock()
	if ok {
		return s, nil
	}
	info, err := call(ctx, c, "GetSchema "+id, func(ctx context.Context, opt grpc.CallOption) (*eventbus.SchemaInfo, error) {
		return c.api.GetSchema(ctx, &eventbus.SchemaRequest{SchemaId: id}, opt)
	})
	if err != nil {
		return nil, err
	}
	s, err = ParseSchema(info.GetSchemaJson())
	if err != nil {
		return nil, fmt.Errorf("pubsub: schema %s: %w", id, err)
	}
	c.mu.Lock()
	c.schemas[id] = s
	c.mu.Unlock()
	return s, nil
}

// ParseSchema parses an event schema. Each schema gets its own name cache: two versions of one
// object's schema share record names (AccountChangeEvent, Address), and the library's global cache
// would hand the first version's types to the second.
func ParseSchema(schemaJSON string) (*avro.RecordSchema, error) {
	s, err := avro.ParseWithCache(schemaJSON, "", &avro.SchemaCache{})
	if err != nil {
		return nil, err
	}
	rec, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, fmt.Errorf("an event schema must be an Avro record, not %s", s.Type())
	}
	return rec, nil
}

// Replay says where a subscription starts.
type Replay struct {
	Preset eventbus.ReplayPreset
	ID     []byte // for CUSTOM: start after this event
}

// Latest starts at the tip of the stream (new events only).
func Latest() Replay { return Replay{Preset: eventbus.ReplayPreset_LATEST} }

// Earliest starts at the oldest retained event.
func Earliest() Replay { return Replay{Preset: eventbus.ReplayPreset_EARLIEST} }

// After starts after a stored replay id.
func After(id []byte) Replay { return Replay{Preset: eventbus.ReplayPreset_CUSTOM, ID: id} }

// DefaultBatch is how many events a subscription asks for at a time: Salesforce's maximum for one
// FetchRequest.
const DefaultBatch = 100

// Subscription asks for a topic's events.
type Subscription struct {
	Topic  string
	Replay Replay
	Batch  int32 // events requested at a time (num_requested); default and maximum DefaultBatch
	// OnKeepalive, when set, is called with the latest replay id of each empty keepalive response.
	OnKeepalive func(latest []byte)
	// OnResubscribe, when set, is called before the client subscribes again (after refreshing the
	// session) from where it got to: after the last event, or at the tip when none arrived yet, in
	// which case events published meanwhile are not delivered.
	OnResubscribe func(from Replay)
}

// Subscribe streams a topic's events to fn, one at a time and in order, until ctx ends, fn returns an
// error, or the stream fails. fn is called before more events are asked for, so a slow subscriber
// slows the stream rather than filling memory. When Salesforce refuses the token mid-stream, the
// client refreshes it and resumes after the last event fn saw. The errors: ErrUnknownTopic,
// ErrReplayInvalid (the stored replay id is corrupt or outside the retention window: subscribe from
// Latest and catch up another way), ErrAuth (refused and not refreshable), ErrUnavailable (retry
// later, after the last replay id seen).
func (c *Client) Subscribe(ctx context.Context, sub Subscription, fn func(ctx context.Context, e Event) error) error {
	if sub.Batch <= 0 || sub.Batch > DefaultBatch {
		sub.Batch = DefaultBatch
	}
	state := &subState{replay: sub.Replay}
	for refreshed := false; ; {
		err := c.subscribeOnce(ctx, sub, state, fn)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if errors.Is(err, ErrAuth) && c.opts.Refresh != nil && (!refreshed || state.progressed) {
			refreshed, state.progressed = true, false
			if rerr := c.opts.Refresh(ctx); rerr != nil {
				return rerr
			}
			c.opts.Logger.Info("Pub/Sub session refreshed; resubscribing", "topic", sub.Topic)
			if sub.OnResubscribe != nil {
				sub.OnResubscribe(state.replay)
			}
			continue
		}
		return err
	}
}

// subState is what survives a resubscription: where to start and the schema last seen.
type subState struct {
	replay     Replay
	schemaID   string
	progressed bool // events arrived since the last refresh
}

func (c *Client) subscribeOnce(ctx context.Context, sub Subscription, st *subState, fn func(ctx context.Context, e Event) error) error {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	actx, err := c.authed(sctx)
	if err != nil {
		return err
	}
	stream, err := c.api.Subscribe(actx)
	if err != nil {
		return classify(err, "Subscribe "+sub.Topic, nil)
	}
	first := &eventbus.FetchRequest{TopicName: sub.Topic, ReplayPreset: st.replay.Preset, NumRequested: sub.Batch}
	if st.replay.Preset == eventbus.ReplayPreset_CUSTOM {
		first.ReplayId = st.replay.ID
	}
	// An EOF from Send means the server ended the stream: Recv says why.
	if err := stream.Send(first); err != nil && !errors.Is(err, io.EOF) {
		return classify(err, "Subscribe "+sub.Topic, stream.Trailer())
	}
	// Silence longer than the keepalive period means the connection is gone.
	watchdog := time.AfterFunc(c.opts.KeepaliveTimeout, func() { cancel(errSilent) })
	defer watchdog.Stop()
	outstanding := sub.Batch
	for {
		resp, err := stream.Recv()
		if err != nil {
			if errors.Is(context.Cause(sctx), errSilent) && ctx.Err() == nil {
				return &Error{Kind: ErrUnavailable, Message: fmt.Sprintf("no event or keepalive on %s for %v", sub.Topic, c.opts.KeepaliveTimeout)}
			}
			return classify(err, "Subscribe "+sub.Topic, stream.Trailer())
		}
		watchdog.Reset(c.opts.KeepaliveTimeout)
		if len(resp.GetEvents()) == 0 {
			if sub.OnKeepalive != nil {
				sub.OnKeepalive(resp.GetLatestReplayId())
			}
			continue
		}
		for _, ce := range resp.GetEvents() {
			e := c.event(ctx, sub.Topic, ce, st)
			if err := fn(ctx, e); err != nil {
				return err
			}
			st.replay, st.progressed = After(ce.GetReplayId()), true
		}
		// The server says how many it still owes; ask for more once half the batch is consumed.
		outstanding = resp.GetPendingNumRequested()
		if outstanding <= sub.Batch/2 {
			if err := stream.Send(&eventbus.FetchRequest{TopicName: sub.Topic, NumRequested: sub.Batch - outstanding}); err != nil && !errors.Is(err, io.EOF) {
				return classify(err, "Subscribe "+sub.Topic, stream.Trailer())
			}
			outstanding = sub.Batch
		}
	}
}

var errSilent = errors.New("pubsub: subscription silent past the keepalive timeout")

// event decodes one received event; a failure is carried in Event.Err.
func (c *Client) event(ctx context.Context, topic string, ce *eventbus.ConsumerEvent, st *subState) Event {
	pe := ce.GetEvent()
	e := Event{Topic: topic, ReplayID: ce.GetReplayId(), ID: pe.GetId(), SchemaID: pe.GetSchemaId()}
	e.SchemaChanged = st.schemaID != "" && st.schemaID != e.SchemaID
	st.schemaID = e.SchemaID
	schema, err := c.Schema(ctx, e.SchemaID)
	if err != nil {
		e.Err = fmt.Errorf("fetch schema %s of the event: %w", e.SchemaID, err)
		return e
	}
	if e.Payload, e.Change, err = decode(schema, pe.GetPayload()); err != nil {
		e.Err = err
	}
	return e
}
