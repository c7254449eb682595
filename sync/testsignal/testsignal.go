// Package testsignal lets the runtime tell tests that something happened (a poll committed, a batch
// of writes recorded, a lease acquired, a load finished), so that tests wait for the event instead of
// sleeping, and can assert that nothing happened during a round the runtime really made. A nil
// *Signal, as in production, does nothing and costs a nil check. It does not import package testing,
// so the shipped binary links none of it.
package testsignal

import (
	"sync"
	"time"
)

// TB is the part of testing.TB a wait needs.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// Signal records the values the runtime fires, numbered, for tests to wait on.
type Signal[T any] struct {
	mu     sync.Mutex
	fired  []T           // every value, in order (a test's runtime fires a few thousand at most)
	notify chan struct{} // closed and replaced on every Fire
}

// New returns a signal to hand to the runtime in a test.
func New[T any]() *Signal[T] { return &Signal[T]{notify: make(chan struct{})} }

// Fire records v; on a nil signal it does nothing.
func (s *Signal[T]) Fire(v T) {
	if s == nil {
		return
	}
	s.mu.Lock()
	s.fired = append(s.fired, v)
	close(s.notify)
	s.notify = make(chan struct{})
	s.mu.Unlock()
}

// Mark is how many values were fired so far: wait for what comes after it.
func (s *Signal[T]) Mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.fired)
}

// Since returns the values fired after mark, in order.
func (s *Signal[T]) Since(mark int) []T {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]T(nil), s.fired[min(mark, len(s.fired)):]...)
}

// WaitFor waits until n values matching match (nil: any) were fired after mark, and returns the last.
func (s *Signal[T]) WaitFor(tb TB, what string, mark, n int, timeout time.Duration, match func(T) bool) T {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		var last T
		seen := 0
		for _, v := range s.fired[min(mark, len(s.fired)):] {
			if match == nil || match(v) {
				seen, last = seen+1, v
			}
		}
		notify := s.notify
		s.mu.Unlock()
		if seen >= n {
			return last
		}
		select {
		case <-notify:
		case <-deadline.C:
			tb.Fatalf("timed out after %v waiting for %s (%d of %d seen)", timeout, what, seen, n)
			return last
		}
	}
}

// Eventually polls cond until it holds or the deadline passes, for conditions no signal announces
// (the one polling wait of the tests); cond says what it saw, for the failure message.
func Eventually(t TB, what string, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	t.Fatalf("timed out after %v waiting for %s (last: %s)", timeout, what, last)
}
