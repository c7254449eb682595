package engine

import (
	"slices"
	"sync"
)

// tableLocks serialize, per mapped table, the writer's send-and-record with the polls of that table.
// Without them a poll can read a record pgforce has just created in Salesforce before the writer has
// stored its sfid on the row, and insert it as a second row.
type tableLocks struct {
	mu      sync.Mutex
	locks   map[string]*sync.Mutex
	waiting map[string]int // callers waiting for a table's lock: the writer's overlapping batches yield to them
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
		l.waiting = map[string]int{}
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
		l.wait(names[i], 1)
		m.Lock()
		l.wait(names[i], -1)
	}
	return func() {
		for _, m := range slices.Backward(held) {
			m.Unlock()
		}
	}
}

func (l *tableLocks) wait(name string, d int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waiting[name] += d
}

// awaited reports whether someone waits for the lock of one of the tables.
func (l *tableLocks) awaited(names []string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range names {
		if l.waiting[n] > 0 {
			return true
		}
	}
	return false
}
