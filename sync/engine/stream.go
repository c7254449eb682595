package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
)

// streamTargets returns the accelerated mappings that should stream now: object → replay id.
func (s *syncer) streamTargets(ms []mapping.Mapping) map[string]int64 {
	out := map[string]int64{}
	for _, m := range ms {
		if !m.Config.Accelerated() {
			continue
		}
		switch m.State {
		case mapping.DataSynced, mapping.PollingSFChanges, mapping.PollingSFBulk:
			replay := int64(-1)
			if m.ReplayID != nil {
				replay = *m.ReplayID
			}
			out[m.Object] = replay
		}
	}
	return out
}

// streamRetry is how long an object whose subscription was refused (not selected for Change Data
// Capture) is polled only, before its subscription is tried again.
func (s *syncer) streamRetry() time.Duration { return s.e.opts.Tick * 150 }

// stream keeps a Change Data Capture subscription open for the accelerated mappings: every change
// event makes the object's worker poll at once (the poll carries the data; the event is the signal,
// as Heroku Connect's accelerated polling does); a gap event makes it fetch the records it names; an
// overflow event, poll. Regular polling continues at the interval, and any gap (a lost stream,
// events outside the replay window) is caught by the next poll from the high-water mark. An object
// whose subscription Salesforce refuses falls back to polling, said in its history and on its page.
func (s *syncer) runStream(ctx context.Context) {
	var current map[string]int64
	var transport connection.StreamTransport // the setting the running subscription follows
	stop := func() {}
	done := make(chan error, 1)
	running := false
	failures := 0
	off := map[string]time.Time{} // objects not streaming → when to try again
	defer func() {
		stop()
		if running {
			<-done // the subscription has ended before the stream returns
		}
	}()
	for {
		c := s.currentConn()
		want := map[string]int64{}
		var ms []mapping.Mapping
		if c.State.Syncing() {
			var err error
			if ms, err = mapping.ListAccelerated(ctx, s.e.opts.Pool, s.connID); err == nil {
				want = s.streamTargets(ms)
			}
		}
		restart := false
		for _, n := range s.takeStreamNotes() {
			if s.streamNote(ctx, ms, n, off) {
				restart = true
				if _, ok := want[n.Object]; ok {
					want[n.Object] = -1 // its stored replay id was just forgotten
				}
			}
		}
		now := s.e.opts.Now()
		for obj, retry := range off {
			if _, ok := want[obj]; !ok {
				delete(off, obj) // no longer accelerated: nothing to retry
			} else if now.Before(retry) {
				delete(want, obj)
			}
		}
		if running && (restart || !sameKeys(want, current) || c.StreamTransport != transport) {
			stop()
			<-done
			running = false
			s.setStreaming("", false)
		}
		if !running && len(want) > 0 {
			org, err := s.openOrg(ctx)
			if err == nil {
				stop = s.startTransport(ctx, org, want, done)
				current, transport = maps.Clone(want), c.StreamTransport
				running = true
				// A (re)subscription may have missed events: poll everything it covers now.
				for obj := range want {
					s.pollObject(obj, 0)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case err := <-done:
			running = false
			s.setStreaming("", false) // none streams until subscribed again
			if ctx.Err() != nil {
				return
			}
			switch {
			case failure.Is(err, failure.Unauthenticated):
				s.loseAuth(ctx, err)
			case err != nil:
				failures++
				s.e.logTransient("change data capture stream", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(s.e.backoff(failures)):
				}
			}
		case <-s.streamWake:
		case <-time.After(s.e.opts.Tick * 10):
		}
	}
}

func sameKeys(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// onStreamEvent acts on one change event: a poll of the object, a fetch of the records a gap event
// names; outcomes of subscriptions go to the stream loop, which records them.
func (s *syncer) onStreamEvent(ev orgclient.StreamEvent) {
	switch {
	case ev.Err != nil || ev.Subscribed || ev.ChangeType == "GAP_OVERFLOW":
		s.noteStream(ev)
		if ev.ChangeType == "GAP_OVERFLOW" {
			s.pollObject(ev.Object, ev.ReplayID)
		}
	case strings.HasPrefix(ev.ChangeType, "GAP_"):
		s.fetchRecords(ev.Object, ev.ChangeType, ev.RecordIDs, ev.ReplayID)
	default:
		s.pollObject(ev.Object, ev.ReplayID)
	}
}

// setStreaming notes whether an object's change events stream ("": every object stops).
func (s *syncer) setStreaming(object string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case object == "":
		s.streaming = nil
	case on:
		if s.streaming == nil {
			s.streaming = map[string]bool{}
		}
		s.streaming[strings.ToLower(object)] = true
	default:
		delete(s.streaming, strings.ToLower(object))
	}
}

// isStreaming reports whether the object's change events stream now.
func (s *syncer) isStreaming(object string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streaming[strings.ToLower(object)]
}

// noteStream hands a subscription's outcome to the stream loop, which records it.
func (s *syncer) noteStream(ev orgclient.StreamEvent) {
	if ev.Err != nil || ev.Subscribed {
		s.setStreaming(ev.Object, ev.Subscribed && ev.Err == nil)
	}
	if ev.Subscribed && ev.Err == nil {
		// A subscription delivers the events published after it: a change made while it was being
		// set up (after the last poll) is caught by one poll now, not by the safety poll minutes later.
		s.pollObject(ev.Object, 0)
	}
	s.mu.Lock()
	s.streamNotes = append(s.streamNotes, ev)
	s.mu.Unlock()
	s.wakeStream()
}

func (s *syncer) takeStreamNotes() []orgclient.StreamEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.streamNotes
	s.streamNotes = nil
	return n
}

// streamNote records what a subscription reported in the mapping's history and on its page, and
// says whether the stream must restart (to resubscribe an object from new events).
func (s *syncer) streamNote(ctx context.Context, ms []mapping.Mapping, n orgclient.StreamEvent, off map[string]time.Time) (restart bool) {
	var m mapping.Mapping
	for _, x := range ms {
		if strings.EqualFold(x.Object, n.Object) && x.Config.Accelerated() {
			m = x
		}
	}
	if m.ID == 0 {
		return false
	}
	interval := every(pollInterval(s.e.opts, m))
	switch {
	case errors.Is(n.Err, orgclient.ErrNoChangeEvents):
		off[m.Object] = s.e.opts.Now().Add(s.streamRetry())
		note := fmt.Sprintf("Not streaming: Salesforce publishes no change events for %s (%s). Polling %s instead; select %s in Setup → Change Data Capture to stream its changes.",
			m.Object, reason(n.Err), interval, m.Object)
		s.setStreamNote(ctx, m, note, "warn")
	case errors.Is(n.Err, orgclient.ErrReplayGone):
		if err := mapping.ForgetReplayID(ctx, s.e.opts.Pool, m.ID); err != nil {
			s.e.logTransient("forget a replay id", err)
		}
		s.event(ctx, m, "warn", "stream", fmt.Sprintf("Change events of %s after the stored replay id are not available (%s): resubscribed for new events and caught up by polling.", m.Object, reason(n.Err)))
		return true
	case n.Subscribed:
		s.setStreamNote(ctx, m, "", "info")
	case n.ChangeType == "GAP_OVERFLOW":
		s.event(ctx, m, "info", "stream", overflowNote(m.Object))
	}
	return false
}

// overflowNote is what the history says of an overflow event.
func overflowNote(object string) string {
	return fmt.Sprintf("Salesforce reported more changes to %s in one transaction than it publishes events for (overflow): caught up by polling.", object)
}

// every says how often a mapping polls, as an admin reads it.
func every(d time.Duration) string {
	switch {
	case d >= time.Minute && d%time.Minute == 0:
		return fmt.Sprintf("every %d min", d/time.Minute)
	case d >= time.Second:
		return fmt.Sprintf("every %d s", d.Round(time.Second)/time.Second)
	}
	return "every " + d.String()
}

// reason is Salesforce's part of a subscription error.
func reason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// setStreamNote stores why an accelerated mapping does not stream ("" when it does), with an event
// in its history when that changes.
func (s *syncer) setStreamNote(ctx context.Context, m mapping.Mapping, note, level string) {
	err := store.Tx(ctx, s.e.opts.Pool, func(tx pgx.Tx) error {
		changed, err := mapping.SetStreamNote(ctx, tx, m.ID, note)
		if err != nil || !changed {
			return err // unchanged: the history already says so
		}
		msg := note
		if msg == "" {
			msg = fmt.Sprintf("Streaming %s's changes again.", m.Object)
		}
		return mapping.RecordEvent(ctx, tx, m, level, "stream", msg)
	})
	if err != nil {
		s.e.logTransient("record the stream state", err)
	}
}

func (s *syncer) event(ctx context.Context, m mapping.Mapping, level, kind, msg string) {
	if err := mapping.RecordEvent(ctx, s.e.opts.Pool, m, level, kind, msg); err != nil {
		s.e.logTransient("record event", err)
	}
}

func (s *syncer) pollObject(object string, replayID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if strings.EqualFold(w.object, object) {
			if replayID > 0 {
				w.replayID.Store(replayID)
			}
			w.pollNow.Store(true)
			w.poke()
		}
	}
}

// fetchRecords makes the object's worker read the records a gap event names.
func (s *syncer) fetchRecords(object, changeType string, ids []string, replayID int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range s.workers {
		if strings.EqualFold(w.object, object) {
			w.gaps.add(changeType, ids, replayID)
			w.poke()
		}
	}
}
