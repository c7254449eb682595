package engine

import (
	"slices"
	"sync"
	"time"
)

// tableLocks serialize, per mapped table, the writer's send-and-record with the polls of that table.
// Without them a poll can read a record pgforce has just created in Salesforce before the writer has
// stored its sfid on the row, and insert it as a second row.
type tableLocks struct {
	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	waiting map[string][]time.Time // since when callers wait for a table's lock (the writer's overlapping batches yield to them)
}

// lock takes the locks of the named tables (in name order, so two callers never deadlock) and returns
// the function that releases them.
func (l *tableLocks) lock(names ...string) (unlock func()) {
	names = slices.Clone(names)
	slices.Sort(names)
	names = slices.Compact(names)
	l.mu.Lock()
	if l.locks == nil {
		l.locks = map[string]*sync.Mutex{}
		l.waiting = map[string][]time.Time{}
	}
	held := make([]*sync.Mutex, 0, len(names))
	for _, n := range names {
		m := l.locks[n]
		if m == nil {
			m = &sync.Mutex{}
			l.locks[n] = m
		}
		held = append(held, m)
	}
	l.mu.Unlock()
	for i, m := range held {
		if m.TryLock() {
			continue
		}
		since := time.Now()
		l.wait(names[i], since, true)
		m.Lock()
		l.wait(names[i], since, false)
	}
	return func() {
		for _, m := range slices.Backward(held) {
			m.Unlock()
		}
	}
}

func (l *tableLocks) wait(name string, since time.Time, waiting bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if waiting {
		l.waiting[name] = append(l.waiting[name], since)
		return
	}
	w := l.waiting[name]
	if i := slices.Index(w, since); i >= 0 {
		l.waiting[name] = slices.Delete(w, i, i+1)
	}
}

// awaited reports whether someone has waited longer than d for the lock of one of the tables.
func (l *tableLocks) awaited(names []string, d time.Duration) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		for _, since := range l.waiting[n] {
			if time.Since(since) > d {
				return true
			}
		}
	}
	return false
}
