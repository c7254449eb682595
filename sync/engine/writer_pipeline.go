package engine

import (
	"context"
	"sync"
	"time"

	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
)

// DefaultWriteConcurrency is how many write calls a connection keeps in flight at most: a claimed
// batch (DefaultWriteBatch, 200 records a call) in three round trips, so an org 150 ms away answers a
// batch in about the time the database takes to record the one before it and claim the one after it
// (writer_stream.go); well within Salesforce's limit of 25 concurrent long-running requests.
const DefaultWriteConcurrency = 10

// slowWrite is how long a write call may take before the writer takes it that the org is slowing
// down and keeps fewer calls in flight.
const slowWrite = 5 * time.Second

// lanes is a connection writer's in-flight limit: it starts at the configured maximum, halves when
// Salesforce asks to slow down (REQUEST_LIMIT_EXCEEDED, a concurrent request limit) or a call is
// slow, and grows back by one with every quick success.
type lanes struct {
	mu       sync.Mutex
	max, now int
}

func (l *lanes) limit() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.now <= 0 {
		l.now = l.max
	}
	return l.now
}

// observe adjusts the limit after a call that took took and ended with err.
func (l *lanes) observe(took time.Duration, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case failure.Is(err, failure.RateLimited) || took > slowWrite:
		l.now = max(1, l.now/2)
	case err == nil:
		l.now = min(l.max, l.now+1)
	}
}

// pipeline dispatches a batch's runs (planned in capture order) to Salesforce with several calls in
// flight, keeping the order that matters: every record's changes in capture order. A run starts
// once every earlier run still in flight is independent of it (another record; no run writing a
// parent through its external id, which must find the parents written before it), and no more than
// the lanes allow are in flight. After a retriable failure, or a change sent back to the queue, no
// further run starts and what was not sent goes back in order; runs already in flight keep their
// outcomes (they share no record with what goes back).
type pipeline struct {
	w      *writer
	org    orgclient.Org
	tables map[string]*writable
	lanes  *lanes
	known  map[string]map[int64]string // table → record id → sfid learned from this batch's inserts
	mu     sync.Mutex
}

type plannedRun struct {
	run  []*change
	bulk bool
	recs map[int64]bool
}

// dependent reports whether b must wait for a (earlier, in flight).
func (p *pipeline) dependent(a, b plannedRun) bool {
	if p.writesParents(a) || p.writesParents(b) {
		return true
	}
	if a.run[0].table != b.run[0].table {
		return false
	}
	for id := range b.recs {
		if a.recs[id] {
			return true
		}
	}
	return false
}

// writesParents reports whether a run's records name parents by external id.
func (p *pipeline) writesParents(r plannedRun) bool {
	wt := p.tables[r.run[0].table]
	return wt != nil && len(wt.fields.parent) > 0
}

// send writes the runs and returns the first retriable error (the runs' changes not decided then
// are released by the caller's releaseFrom).
func (p *pipeline) send(ctx context.Context, runs []plannedRun) error {
	type done struct {
		i   int
		err error
	}
	results := make(chan done, len(runs))
	inFlight := map[int]plannedRun{}
	var firstErr error
	stopped := false
	wait := func() {
		d := <-results
		delete(inFlight, d.i)
		if d.err != nil && firstErr == nil {
			firstErr = d.err
		}
		if d.err != nil || released(runs[d.i].run) {
			stopped = true
		}
	}
	for i, r := range runs {
		for !stopped && !p.ready(r, inFlight) {
			wait()
		}
		if stopped {
			break
		}
		inFlight[i] = r
		go func() { results <- done{i, p.sendOne(ctx, r)} }()
	}
	for len(inFlight) > 0 {
		wait()
	}
	return firstErr
}

// ready reports whether r may start now.
func (p *pipeline) ready(r plannedRun, inFlight map[int]plannedRun) bool {
	if len(inFlight) >= p.lanes.limit() {
		return false
	}
	for _, a := range inFlight {
		if p.dependent(a, r) {
			return false
		}
	}
	return true
}

// sendOne writes one run through the writer's send path, with the sfids its records' earlier
// inserts got (those runs are done: they are its dependencies).
func (p *pipeline) sendOne(ctx context.Context, r plannedRun) error {
	t := r.run[0].table
	local := map[string]map[int64]string{t: {}}
	p.mu.Lock()
	for id := range r.recs {
		if sfid, ok := p.known[t][id]; ok {
			local[t][id] = sfid
		}
	}
	p.mu.Unlock()
	start := time.Now()
	err := p.w.sendRun(ctx, p.org, p.tables[t], r.run, local, r.bulk)
	p.lanes.observe(time.Since(start), err)
	p.mu.Lock()
	if p.known[t] == nil {
		p.known[t] = map[int64]string{}
	}
	for id, sfid := range local[t] {
		p.known[t][id] = sfid
	}
	p.mu.Unlock()
	return err
}

func released(run []*change) bool {
	for _, ch := range run {
		if ch.released() {
			return true
		}
	}
	return false
}

func planned(run []*change, bulk bool) plannedRun {
	recs := make(map[int64]bool, len(run))
	for _, ch := range run {
		recs[ch.recordID] = true
	}
	return plannedRun{run: run, bulk: bulk, recs: recs}
}

// pipeline returns the dispatcher of one batch's runs.
func (w *writer) pipeline(org orgclient.Org, tables map[string]*writable) *pipeline {
	return &pipeline{w: w, org: org, tables: tables, lanes: &w.lanes, known: map[string]map[int64]string{}}
}
