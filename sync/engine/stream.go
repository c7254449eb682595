package engine

import (
	"context"
	"errors"
	"maps"
	"strings"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
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

// stream keeps a Change Data Capture subscription open for the accelerated mappings: every change
// event makes the object's worker poll at once (the poll carries the data; the event is the signal,
// as Heroku Connect's accelerated polling does). Regular polling continues at the interval, and any
// gap (a lost stream, events outside the replay window) is caught by the next poll from the
// high-water mark.
func (s *syncer) runStream(ctx context.Context) {
	var current map[string]int64
	var transport connection.StreamTransport // the setting the running subscription follows
	stop := func() {}
	done := make(chan error, 1)
	running := false
	failures := 0
	defer func() {
		stop()
		if running {
			<-done // the subscription has ended before the stream returns
		}
	}()
	for {
		c := s.currentConn()
		want := map[string]int64{}
		if c.State.Syncing() {
			if ms, err := mapping.List(ctx, s.e.opts.Pool, s.connID); err == nil {
				want = s.streamTargets(ms)
			}
		}
		if running && (!sameKeys(want, current) || c.StreamTransport != transport) {
			stop()
			<-done
			running = false
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
			if ctx.Err() != nil {
				return
			}
			switch {
			case errors.Is(err, orgclient.ErrReplayGone):
				// Events were lost: forget stored replay ids, resubscribe for new events and poll.
				if err := mapping.ForgetReplayIDs(ctx, s.e.opts.Pool, s.connID); err != nil {
					s.e.logTransient("forget replay ids", err)
				}
				s.log.Warn("change events outside the replay window; catching up by polling", "err", err)
			case failure.Is(err, failure.Unauthenticated):
				s.loseAuth(ctx, err)
			case err != nil:
				failures++
				s.e.logTransient("change data capture stream", err)
				select {
				case <-ctx.Done():
					return
				case <-time.After(backoff(failures)):
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

// onChangeEvent wakes the worker of the changed object.
func (s *syncer) onChangeEvent(object string, replayID int64) {
	s.pollObject(object, replayID)
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
