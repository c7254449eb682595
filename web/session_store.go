package web

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
)

// renewingStore writes a session again only when its data changed or its idle deadline moved by a
// thirtieth of the idle timeout (a minute of the thirty) since this process last wrote it. scs
// renews a session on every request, its idle timeout counting from the last one, by committing it
// again: for each page load a write and its WAL flush, which took longer on a busy database (5 to
// 25 ms) than the rest of the Mappings page at a thousand mappings. The stored deadline is then at
// most that thirtieth behind: a session may end that much before its idle timeout, never after it.
type renewingStore struct {
	scs.Store
	sm      *scs.SessionManager // its IdleTimeout, which may change after construction
	mu      sync.Mutex
	written map[string]written // by token, the last write of this process
	pruned  time.Time
}

// written is what a session's last write stored (decoded: the codec's gob writes a map's entries
// in no fixed order, so equal data is not always equal bytes).
type written struct {
	deadline time.Time
	values   map[string]any
	expiry   time.Time
}

func newRenewingStore(st scs.Store, sm *scs.SessionManager) *renewingStore {
	return &renewingStore{Store: st, sm: sm, written: map[string]written{}}
}

// pruneEvery is how often the sessions past their deadline are forgotten.
const pruneEvery = time.Minute

// Commit writes the session unless it would store the same data with a deadline less than a
// thirtieth of the idle timeout later than the last write's.
func (s *renewingStore) Commit(token string, b []byte, expiry time.Time) error {
	return s.CommitCtx(context.Background(), token, b, expiry)
}

// CommitCtx is Commit with the request's context.
func (s *renewingStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	deadline, values, decodeErr := s.sm.Codec.Decode(b)
	w := written{deadline: deadline, values: values, expiry: expiry}
	s.mu.Lock()
	last, ok := s.written[token]
	s.mu.Unlock()
	if moved := expiry.Sub(last.expiry); ok && decodeErr == nil && moved >= 0 && moved < s.sm.IdleTimeout/30 &&
		deadline.Equal(last.deadline) && reflect.DeepEqual(values, last.values) {
		return nil
	}
	var err error
	if cs, ok := s.Store.(scs.CtxStore); ok {
		err = cs.CommitCtx(ctx, token, b, expiry)
	} else {
		err = s.Store.Commit(token, b, expiry)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil || decodeErr != nil {
		delete(s.written, token) // what is stored is not known
		return err
	}
	s.written[token] = w
	// Sessions past their deadline are gone from the store: forget them.
	if now := time.Now(); now.Sub(s.pruned) >= pruneEvery {
		s.pruned = now
		for t, v := range s.written {
			if v.expiry.Before(now) {
				delete(s.written, t)
			}
		}
	}
	return nil
}

// Find reads a session.
func (s *renewingStore) Find(token string) ([]byte, bool, error) {
	return s.FindCtx(context.Background(), token)
}

// FindCtx is Find with the request's context.
// A session found holding other data than this process last wrote (another instance wrote it, or
// it is gone) is forgotten, so that its next commit writes.
func (s *renewingStore) FindCtx(ctx context.Context, token string) (b []byte, found bool, err error) {
	if cs, ok := s.Store.(scs.CtxStore); ok {
		b, found, err = cs.FindCtx(ctx, token)
	} else {
		b, found, err = s.Store.Find(token)
	}
	s.mu.Lock()
	last, ok := s.written[token]
	s.mu.Unlock()
	if !ok {
		return b, found, err
	}
	if err == nil && found {
		if deadline, values, derr := s.sm.Codec.Decode(b); derr == nil && deadline.Equal(last.deadline) && reflect.DeepEqual(values, last.values) {
			return b, found, err
		}
	}
	s.mu.Lock()
	delete(s.written, token)
	s.mu.Unlock()
	return b, found, err
}

// Delete removes a session; its next write is a write.
func (s *renewingStore) Delete(token string) error { return s.DeleteCtx(context.Background(), token) }

// DeleteCtx is Delete with the request's context.
func (s *renewingStore) DeleteCtx(ctx context.Context, token string) error {
	s.mu.Lock()
	delete(s.written, token)
	s.mu.Unlock()
	if cs, ok := s.Store.(scs.CtxStore); ok {
		return cs.DeleteCtx(ctx, token)
	}
	return s.Store.Delete(token)
}

// All lists the sessions when the store can (scs.IterableStore).
func (s *renewingStore) All() (map[string][]byte, error) {
	if is, ok := s.Store.(scs.IterableStore); ok {
		return is.All()
	}
	return nil, errors.New("the session store cannot list sessions")
}
