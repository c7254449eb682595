package engine

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce"
)

// Transports a mapping streams over, as recorded on it.
const (
	streamedByPubSub = "pubsub"
	streamedByCometD = "cometd"
)

// startTransport runs the accelerated mappings' change-event subscription in the background over
// the transport the connection's setting picks: the Pub/Sub API (auto, where the org offers it, or
// pubsub) or CometD. Auto falls back to CometD, with a note in each mapping's history, when the org's
// Pub/Sub API cannot be reached. The returned function stops it; done gets its end.
func (s *syncer) startTransport(ctx context.Context, org orgclient.Org, objects map[string]int64, done chan<- error) context.CancelFunc {
	sctx, cancel := context.WithCancel(ctx)
	mode := s.currentConn().StreamTransport
	ps, offers := org.(orgclient.PubSubOrg)
	go func() {
		if mode != connection.TransportCometD && offers {
			targets := s.pubSubTargets(sctx, objects)
			err := ps.StreamPubSub(sctx, replayIDs(targets), s.onPubSubSignal(sctx, targets))
			if !errors.Is(err, orgclient.ErrNoPubSub) || mode == connection.TransportPubSub {
				if errors.Is(err, orgclient.ErrNoPubSub) {
					s.notePubSubDown(sctx, targets, err, "the connection streams over the Pub/Sub API only (its setting); retrying")
					err = failure.Wrap(err, failure.Unavailable, "Salesforce's Pub/Sub API is not reachable")
				}
				done <- err
				return
			}
			s.notePubSubDown(sctx, targets, err, "streaming over CometD (the Streaming API) instead")
		}
		s.recordTransport(sctx, slices.Collect(maps.Keys(objects)), streamedByCometD)
		done <- org.Stream(sctx, maps.Clone(objects), s.onStreamEvent)
	}()
	return cancel
}

// pubSubTargets returns the streamed mappings by lower-case object name.
func (s *syncer) pubSubTargets(ctx context.Context, objects map[string]int64) map[string]mapping.Mapping {
	out := map[string]mapping.Mapping{}
	ms, err := mapping.ListAccelerated(ctx, s.e.opts.Pool, s.connID)
	if err != nil {
		s.e.logTransient("list mappings to stream", err)
	}
	for _, m := range ms {
		if _, ok := objects[m.Object]; ok {
			out[strings.ToLower(m.Object)] = m
		}
	}
	for obj := range objects {
		if _, ok := out[strings.ToLower(obj)]; !ok {
			out[strings.ToLower(obj)] = mapping.Mapping{ConnectionID: s.connID, Object: obj}
		}
	}
	return out
}

func replayIDs(targets map[string]mapping.Mapping) map[string][]byte {
	out := make(map[string][]byte, len(targets))
	for _, m := range targets {
		out[m.Object] = m.PubSubReplayID
	}
	return out
}

// onPubSubSignal turns a Pub/Sub subscription's reports into polls and history.
func (s *syncer) onPubSubSignal(ctx context.Context, targets map[string]mapping.Mapping) func(orgclient.PubSubSignal) {
	var subscribed atomic.Bool
	return func(sig orgclient.PubSubSignal) {
		if subscribed.CompareAndSwap(false, true) {
			// The first report means the subscriptions are up (Salesforce accepted the session).
			s.recordTransport(ctx, slices.Collect(maps.Keys(replayIDs(targets))), streamedByPubSub)
			s.pubsubDown.Store(false)
		}
		m := targets[strings.ToLower(sig.Object)]
		topic := salesforce.ChannelFor(sig.Object)
		switch sig.Kind {
		case orgclient.SignalSubscribed:
		case orgclient.SignalChange:
			switch {
			case sig.ChangeType == "GAP_OVERFLOW":
				s.mappingEvent(ctx, m, "info", "stream", overflowNote(sig.Object))
			case strings.HasPrefix(sig.ChangeType, "GAP_"):
				s.fetchRecords(sig.Object, sig.ChangeType, sig.RecordIDs, 0) // changed in Salesforce's database: no poll finds them
			}
			s.pollObjectAfter(sig.Object, sig.ReplayID)
		case orgclient.SignalSchemaChanged:
			s.mappingEvent(ctx, m, "info", "stream", fmt.Sprintf("The schema of %s changed (fields were added or removed in Salesforce); change events are read with the new schema", topic))
			s.pollObjectAfter(sig.Object, sig.ReplayID)
		case orgclient.SignalUnreadable:
			s.mappingEvent(ctx, m, "warn", "stream", fmt.Sprintf("Could not read change event %s of %s: %s. Polling Salesforce catches the change up.", hex.EncodeToString(sig.ReplayID), topic, errText(sig.Err)))
			s.pollObjectAfter(sig.Object, sig.ReplayID)
		case orgclient.SignalReplayLost:
			s.mappingEvent(ctx, m, "warn", "stream", fmt.Sprintf("Salesforce no longer has the change events after the stored replay id of %s (%s): catching up by polling, then streaming new events.", topic, errText(sig.Err)))
			if err := mapping.ForgetPubSubReplay(ctx, s.e.opts.Pool, s.connID, sig.Object); err != nil {
				s.e.logTransient("forget a Pub/Sub replay id", err)
			}
			s.pollObjectAfter(sig.Object, nil)
		case orgclient.SignalResubscribed:
			s.pollObject(sig.Object, 0) // events of the gap are not replayed: the poll covers them
		case orgclient.SignalTopicRefused:
			// As over CometD: polled only, said on the mapping's page, tried again later.
			s.noteStream(orgclient.StreamEvent{Object: sig.Object,
				Err: fmt.Errorf("%w: %s", orgclient.ErrNoChangeEvents, "the Pub/Sub API refused the topic "+topic+": "+errText(sig.Err))})
		case orgclient.SignalTopicAccepted:
			s.noteStream(orgclient.StreamEvent{Object: sig.Object, Subscribed: true})
		}
	}
}

// notePubSubDown records, once until the Pub/Sub API works again, why a connection's mappings do
// not stream over it.
func (s *syncer) notePubSubDown(ctx context.Context, targets map[string]mapping.Mapping, err error, then string) {
	if s.pubsubDown.Swap(true) {
		return
	}
	for _, m := range targets {
		s.mappingEvent(ctx, m, "warn", "stream", fmt.Sprintf("Salesforce's Pub/Sub API is not available (%s): %s.", errText(err), then))
	}
}

func (s *syncer) mappingEvent(ctx context.Context, m mapping.Mapping, level, kind, msg string) {
	if m.ID == 0 {
		return
	}
	if err := mapping.RecordEvent(ctx, s.e.opts.Pool, m, level, kind, msg); err != nil {
		s.e.logTransient("record a stream event", err)
	}
}

func (s *syncer) recordTransport(ctx context.Context, objects []string, transport string) {
	if err := mapping.SetStreamTransports(ctx, s.e.opts.Pool, s.connID, objects, transport); err != nil {
		s.e.logTransient("record the streaming transport", err)
	}
}

// pollObjectAfter wakes the object's worker to poll, and to store the Pub/Sub replay id with the
// data the poll reads (nil: store none, the stored one was forgotten).
func (s *syncer) pollObjectAfter(object string, replayID []byte) {
	s.mu.Lock()
	for _, w := range s.workers {
		if strings.EqualFold(w.object, object) {
			if replayID == nil {
				w.pubsubReplay.Store(nil)
				continue
			}
			id := slices.Clone(replayID)
			w.pubsubReplay.Store(&id)
		}
	}
	s.mu.Unlock()
	s.pollObject(object, 0)
}

func errText(err error) string {
	if err == nil {
		return "no reason given"
	}
	if msg := failure.Message(err); failure.KindOf(err) != failure.Internal {
		return msg
	}
	return err.Error()
}
