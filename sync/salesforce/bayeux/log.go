package bayeux

import (
	"encoding/json"
	"sort"
)

// The server's replay log is the org's event log: another transport (the simulated org's Pub/Sub
// API) serves the same events, with the same replay ids, through these methods.

// LoggedEvent is one event of the replay log.
type LoggedEvent struct {
	ReplayID int64
	Payload  json.RawMessage // as published
}

// Events returns up to max events of a channel with replay ids after after, oldest first.
func (s *Server) Events(channel string, after int64, max int) []LoggedEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.events), func(i int) bool { return s.events[i].id > after })
	var out []LoggedEvent
	for ; i < len(s.events) && len(out) < max; i++ {
		e := s.events[i]
		for _, ch := range e.channels {
			if ch == channel {
				out = append(out, LoggedEvent{ReplayID: e.id, Payload: e.payload})
				break
			}
		}
	}
	return out
}

// Window returns the replay ids a subscriber may resume after: from oldest-1 (everything retained)
// to newest (new events only).
func (s *Server) Window() (oldest, newest int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.oldest, s.next - 1
}

// Published returns a channel closed at the next publish (or when clients are dropped or the
// server closes).
func (s *Server) Published() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}
