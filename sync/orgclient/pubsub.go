package orgclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/sync/errgroup"

	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/pubsub"
	"pgforce/sync/salesforce/pubsub/eventbus"
)

// PubSubEndpoint is where an org serves Salesforce's Pub/Sub API, and how to trust it.
type PubSubEndpoint struct {
	Addr string      // host:port; Salesforce's is api.pubsub.salesforce.com:7443
	TLS  *tls.Config // nil: the system's trusted roots
}

// PubSubOrg is an Org that can also stream change events over the Pub/Sub API.
type PubSubOrg interface {
	// StreamPubSub subscribes to the objects' change event topics (object → the replay id to resume
	// after, nil for new events only) and reports each event to fn, until ctx ends or the stream fails.
	// It fails at once with ErrNoPubSub when the org offers no reachable Pub/Sub API. A replay id
	// Salesforce no longer has, an unreadable event or a refused topic is reported to fn (the topic
	// resumes with new events, or stops), never returned.
	StreamPubSub(ctx context.Context, objects map[string][]byte, fn func(PubSubSignal)) error
}

// ErrNoPubSub reports that the org's Pub/Sub API cannot be used (not offered, or not reachable).
var ErrNoPubSub = errors.New("the org's Pub/Sub API is not available")

// SignalKind is what a PubSubSignal reports.
type SignalKind int

// What a Pub/Sub subscription reports.
const (
	SignalSubscribed    SignalKind = iota // the org accepted the session: the subscriptions start (no Object)
	SignalChange                          // a change event
	SignalUnreadable                      // an event that could not be decoded (its replay id is still good)
	SignalSchemaChanged                   // an event with a new schema (the object's fields changed), decoded
	SignalReplayLost                      // the stored replay id is gone: resubscribed for new events
	SignalTopicRefused                    // the topic was refused: no events for this object
	SignalResubscribed                    // subscribed again at the tip: events may have been missed
	SignalTopicAccepted                   // the object's topic exists: it streams
)

// PubSubSignal is one report of a Pub/Sub subscription.
type PubSubSignal struct {
	Object   string
	Kind     SignalKind
	ReplayID []byte // the event's, for SignalChange, SignalUnreadable and SignalSchemaChanged
	Err      error  // what went wrong, for SignalUnreadable, SignalReplayLost and SignalTopicRefused
	// ChangeType and RecordIDs are a change event's header (gap events name records to read by id).
	ChangeType string
	RecordIDs  []string
}

// StreamPubSub subscribes to each object's topic on one gRPC connection.
func (o *sfOrg) StreamPubSub(ctx context.Context, objects map[string][]byte, fn func(PubSubSignal)) error {
	if o.pubsub == nil {
		return ErrNoPubSub
	}
	client, err := pubsub.Dial(pubsub.Options{Addr: o.pubsub.Addr, TLS: o.pubsub.TLS,
		Credentials: func(context.Context) (pubsub.Credentials, error) {
			token, instance, org := o.c.Session()
			return pubsub.Credentials{AccessToken: token, InstanceURL: instance, TenantID: org}, nil
		},
		Refresh: o.c.RefreshSession})
	if err != nil {
		return fmt.Errorf("%w: %v", ErrNoPubSub, err)
	}
	defer client.Close()
	// Ask once before subscribing: an unreachable endpoint or an org without the API is ErrNoPubSub
	// (auto mode streams over CometD then), not a failure of the stream.
	var accepted []string
	for obj := range objects {
		_, err := client.Topic(ctx, salesforce.ChannelFor(obj))
		switch {
		case errors.Is(err, pubsub.ErrUnavailable):
			return fmt.Errorf("%w: %v", ErrNoPubSub, err)
		case errors.Is(err, pubsub.ErrAuth):
			return salesforceAuth(err)
		case err == nil:
			accepted = append(accepted, obj)
		}
	}
	var mu sync.Mutex // fn is called from one subscription at a time
	signal := func(s PubSubSignal) {
		mu.Lock()
		defer mu.Unlock()
		fn(s)
	}
	signal(PubSubSignal{Kind: SignalSubscribed})
	for _, obj := range accepted {
		signal(PubSubSignal{Object: obj, Kind: SignalTopicAccepted})
	}
	g, gctx := errgroup.WithContext(ctx)
	for obj, replay := range objects {
		g.Go(func() error { return subscribeObject(gctx, client, obj, replay, signal) })
	}
	err = g.Wait()
	if errors.Is(err, pubsub.ErrAuth) {
		return salesforceAuth(err)
	}
	return err
}

// subscribeObject keeps one object's subscription: from the stored replay id, or from the newest
// event once Salesforce says that id is gone.
func subscribeObject(ctx context.Context, client *pubsub.Client, object string, replay []byte, signal func(PubSubSignal)) error {
	topic := salesforce.ChannelFor(object)
	start := pubsub.Latest()
	if replay != nil {
		start = pubsub.After(replay)
	}
	for {
		resumed := func(from pubsub.Replay) {
			if from.Preset == eventbus.ReplayPreset_LATEST {
				signal(PubSubSignal{Object: object, Kind: SignalResubscribed})
			}
		}
		err := client.Subscribe(ctx, pubsub.Subscription{Topic: topic, Replay: start, OnResubscribe: resumed}, func(_ context.Context, e pubsub.Event) error {
			start = pubsub.After(e.ReplayID)
			s := PubSubSignal{Object: object, Kind: SignalChange, ReplayID: e.ReplayID}
			if e.Change != nil {
				s.ChangeType, s.RecordIDs = e.Change.ChangeType, e.Change.RecordIDs
			}
			switch {
			case e.Err != nil:
				s.Kind, s.Err = SignalUnreadable, e.Err
			case e.SchemaChanged:
				s.Kind = SignalSchemaChanged
			}
			signal(s)
			return nil
		})
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, pubsub.ErrReplayInvalid):
			signal(PubSubSignal{Object: object, Kind: SignalReplayLost, Err: err})
			start = pubsub.Latest()
			continue
		case errors.Is(err, pubsub.ErrUnknownTopic):
			signal(PubSubSignal{Object: object, Kind: SignalTopicRefused, Err: err})
			<-ctx.Done() // the other objects go on streaming
			return nil
		}
		return err
	}
}

// salesforceAuth turns a refused Pub/Sub session (after a refresh failed) into the engine's
// authentication failure.
func salesforceAuth(err error) error {
	return &salesforce.Error{Status: 401, Code: "INVALID_SESSION_ID", Message: err.Error(), Kind: salesforce.NeedAuthentication, Err: err}
}
