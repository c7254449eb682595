package engine

import (
	"context"
	"encoding/json"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"pgforce/sync/orgclient"
)

// pollBatch gathers the polls of a connection's mappings that are due together into one API call
// (orgclient.QueryBatcher: a /composite request of up to 25 queries, each answering its first page),
// where Heroku Connect makes one query per mapping per interval. A poll that finds more than a page
// reads the rest with queryMore; one that finds nothing costs its share of the one call. Polls are
// due on a grid of their interval (pollSlot), so a connection's mappings come due together.
type pollBatch struct {
	window time.Duration // how long the first poll of a batch waits for the others

	mu      sync.Mutex
	pending []*pollAsk
	armed   bool
}

type pollAsk struct {
	q    orgclient.BatchQuery
	done chan pollAnswer // buffered: the batch never waits for a poll that gave up
}

// pollAnswer is a poll's first page; page nil: the poll was alone, it runs its query itself.
type pollAnswer struct {
	page *orgclient.FirstPage
	err  error
}

// first returns the first page of q's records, read with whatever other polls are due now; nil
// (with no error) when there were none, or the org cannot batch: the caller queries on its own.
// A poll waits for the others a quarter of its interval at most.
func (b *pollBatch) first(ctx context.Context, org orgclient.Org, q orgclient.BatchQuery, interval time.Duration) (*orgclient.FirstPage, error) {
	qb, ok := org.(orgclient.QueryBatcher)
	window := min(b.window, interval/4)
	if !ok || window <= 0 {
		return nil, nil
	}
	ask := &pollAsk{q: q, done: make(chan pollAnswer, 1)}
	// The batch's call is not cancelled by one of its polls giving up (an admin aborting a mapping).
	sendCtx := context.WithoutCancel(ctx)
	b.mu.Lock()
	b.pending = append(b.pending, ask)
	switch {
	case len(b.pending) >= orgclient.MaxBatchQueries:
		go send(sendCtx, qb, b.take())
	case !b.armed:
		b.armed = true
		time.AfterFunc(window, func() {
			b.mu.Lock()
			batch := b.take()
			b.mu.Unlock()
			send(sendCtx, qb, batch)
		})
	}
	b.mu.Unlock()
	select {
	case a := <-ask.done:
		return a.page, a.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// take empties the batch (b.mu held).
func (b *pollBatch) take() []*pollAsk {
	batch := b.pending
	b.pending, b.armed = nil, false
	return batch
}

// send runs a batch's queries in one call and answers each poll.
func send(ctx context.Context, qb orgclient.QueryBatcher, batch []*pollAsk) {
	switch len(batch) {
	case 0:
		return
	case 1:
		batch[0].done <- pollAnswer{} // alone: a plain query costs the same one call
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	qs := make([]orgclient.BatchQuery, len(batch))
	for i, a := range batch {
		qs[i] = a.q
	}
	pages, err := qb.QueryBatch(ctx, qs)
	for i, a := range batch {
		switch {
		case err != nil:
			a.done <- pollAnswer{err: err}
		case pages[i].Err != nil:
			a.done <- pollAnswer{err: pages[i].Err}
		default:
			a.done <- pollAnswer{page: &pages[i]}
		}
	}
}

// records reads a query's records: from a batch's first page and, if there is more, with queryMore;
// without a first page, with the query itself.
func records(ctx context.Context, org orgclient.Org, soql string, all bool, first *orgclient.FirstPage) func(fn func(map[string]json.RawMessage) error) (int, error) {
	return func(fn func(map[string]json.RawMessage) error) (int, error) {
		if first == nil {
			return org.Query(ctx, soql, all, fn)
		}
		for _, r := range first.Records {
			if err := fn(r); err != nil {
				return first.Total, err
			}
		}
		if first.Next == "" {
			return first.Total, nil
		}
		return first.Total, org.(orgclient.QueryBatcher).QueryMore(ctx, first.Next, fn)
	}
}

// pollSlot moves a poll due an interval after the last began onto its connection's grid of the
// interval, so that the connection's mappings come due at the same moments and share one call; each
// connection's grid is offset by a hash of its id, so connections do not all call at once. The slot
// is the last one at or before last+interval, never after: a record changed just after the previous
// poll began waits at most an interval (and the slot's apply). A poll off the grid (the first after a
// load, one a change event asked for) thus rejoins it at the next slot, however soon: one early
// poll, where the slot after that would leave the changes of the meantime up to one and a half
// intervals behind. Only a slot a moment after last (slotSlack) counts as the one last served: the
// database's clock, which stamps last, may run a little behind ours.
func pollSlot(connID int64, last time.Time, interval time.Duration) time.Time {
	next := last.Add(interval)
	if interval <= 0 {
		return next
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(strconv.FormatInt(connID, 10)))
	offset := time.Duration(h.Sum64() % uint64(interval))
	slot := next.Add(-offset).Truncate(interval).Add(offset)
	if slot.Sub(last) < slotSlack(interval) {
		slot = slot.Add(interval)
	}
	return slot
}

// slotSlack is how soon after a poll began a slot of its grid counts as the one it served.
func slotSlack(interval time.Duration) time.Duration { return min(interval/20, 250*time.Millisecond) }
