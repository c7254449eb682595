package engine

import (
	"context"
	"errors"
	"sync"

	"golang.org/x/sync/errgroup"
)

// runner gives each part of the runtime (the engine's supervisor, a syncer, its workers, its writer
// and its stream) the same shape: Start(ctx) runs the part's goroutines in the background under an
// errgroup and returns at once; Stop cancels them and returns only when every one has ended. Stop is
// idempotent and may come before Start. A part stops what it started (a syncer its workers, writer and
// stream) before its own Stop returns, so stopping the engine waits for every goroutine of the runtime.
type runner struct {
	mu      sync.Mutex
	started bool
	cancel  context.CancelFunc
	group   *errgroup.Group
}

// start runs run in the background with a context that Stop cancels; run starts the part's
// goroutines on g (it may add more later, until Stop has waited for them all).
func (r *runner) start(ctx context.Context, run func(ctx context.Context, g *errgroup.Group)) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("already started")
	}
	r.started = true
	ctx, r.cancel = context.WithCancel(ctx)
	r.group, ctx = errgroup.WithContext(ctx)
	run(ctx, r.group)
	return nil
}

// Stop cancels the part and waits until each of its goroutines has ended.
func (r *runner) Stop() {
	r.mu.Lock()
	r.started = true // a Start after Stop must not run anything
	cancel, g := r.cancel, r.group
	r.cancel = nil
	r.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	_ = g.Wait()
}

// goStop stops a child in the background (a syncer that lost its lease, a worker whose mapping was
// deleted) without holding up the caller; the parent's Stop still waits for it.
func (r *runner) goStop(child interface{ Stop() }) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cancel == nil { // not running (any more): nobody would wait
		child.Stop()
		return
	}
	r.group.Go(func() error { child.Stop(); return nil })
}

// loop is a part that is one function running until its context ends (the change-event stream).
type loop struct {
	runner
	run func(ctx context.Context)
}

// Start runs the loop until Stop or until ctx ends.
func (l *loop) Start(ctx context.Context) error {
	return l.start(ctx, func(ctx context.Context, g *errgroup.Group) {
		g.Go(func() error { l.run(ctx); return nil })
	})
}
