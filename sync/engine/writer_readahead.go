package engine

import (
	"context"
	"maps"
	"strings"
	"sync"
	"time"

	"pgforce/sync/conflict"
	"pgforce/sync/orgclient"
	"pgforce/sync/triggerlog"
)

// The conflict pre-check read ahead. A batch's updates and deletes are judged by their records'
// versions in Salesforce, read by id once per batch and table (batchVersions): a round trip, plus
// the org's time to answer, that the batch's writes would wait for. In a stream (writer_stream.go)
// the batch claimed ahead has its versions read while the batch before it is in flight, so its
// writes start once that one is answered.
//
// Why that detects what reading them before its writes would:
//   - the batch is still judged when it is sent, after the batch before it was answered: pgforce's
//     own writes of that batch are known then (noteWrites), and are no conflicts whether the read
//     saw a record before or after them;
//   - a version read ahead is used only while fresh, answered at most readAheadMaxAge before the
//     batch's first pre-checked call: about the pre-check's own time under load (180–650 ms
//     measured at 150 ms latency), which is how old a version read then is when the writes reach
//     Salesforce. An older one (the batch before took long) is read again then, so a record changed
//     in Salesforce in the meantime is caught as it would be;
//   - records the read did not cover (an update that learned its sfid from the batches before, after
//     the read began) are read when the batch is sent.
//
// The read is one call per table (a /composite call of up to 25 queries by id) beside the lanes'
// write calls, and only for a table that would be pre-checked (a run of two or more updates, or
// deletes, of records in Salesforce): the calls are those of reading at send time. The admins'
// resolutions of the batch's changes are read beside it, once, instead of once per run.

// readAheadMaxAge is how long before its writes a batch's versions may have been read.
const readAheadMaxAge = 500 * time.Millisecond

// readAhead is the versions read ahead for one batch, by table, and the admins' resolutions of its
// changes (fixed once a change is claimed: keeping a side and queueing the change again are one
// transaction).
type readAhead struct {
	done     chan struct{}
	cancel   context.CancelFunc
	tables   map[string]*tableVersions // written by the read, read once done is closed
	asked    map[int64]bool            // the changes whose resolutions were read (nil: none)
	resolved map[int64]conflict.Outcome
}

// tableVersions is one table's records read ahead: the sfids asked for, what Salesforce answered
// and when (err: the read failed; the batch reads them itself).
type tableVersions struct {
	ids      map[string]bool
	versions map[string]sfVersion
	at       time.Time
	err      error
}

// wait waits for the read to end (the batch is being sent: what was read is used).
func (r *readAhead) wait() {
	if r != nil {
		<-r.done
		r.cancel()
	}
}

// stop cancels the read (the batch goes back unsent) and waits for it.
func (r *readAhead) stop() {
	if r != nil {
		r.cancel()
		<-r.done
	}
}

// readAheadFor starts reading the versions of the records b's runs will pre-check, and returns at
// once (nil: nothing to read). Everything the read needs is taken from b now: b's changes are
// still completed afterwards (carrySFIDs) while the read runs.
func (w *writer) readAheadFor(ctx context.Context, org orgclient.Org, b *writeBatch) *readAhead {
	if b.describeErr != nil {
		return nil
	}
	type plan struct {
		wt      *writable
		ids     []string
		changed []string
	}
	var plans []plan
	var changes []int64
	for _, ch := range b.send {
		if ch.sfid != "" && (ch.action == triggerlog.Update || ch.action == triggerlog.Delete) {
			changes = append(changes, ch.id)
		}
	}
	for table, chs := range preChecked(b) {
		wt := b.tables[table]
		ids := make([]string, len(chs))
		for i, ch := range chs {
			ids[i] = ch.sfid
		}
		plans = append(plans, plan{wt, ids, changedFields(wt, chs)})
	}
	if len(plans) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &readAhead{done: make(chan struct{}), cancel: cancel, tables: map[string]*tableVersions{}}
	connID := b.c.ID
	var wg sync.WaitGroup
	wg.Go(func() { // beside the calls: a query of the connection's conflicts
		if resolved, err := conflict.Resolved(ctx, w.s.e.opts.Pool, connID, changes); err == nil {
			r.asked, r.resolved = map[int64]bool{}, resolved
			for _, id := range changes {
				r.asked[id] = true
			}
		}
	})
	go func() {
		defer close(r.done)
		defer wg.Wait()
		for _, p := range plans {
			tv := &tableVersions{ids: map[string]bool{}}
			for _, id := range p.ids {
				tv.ids[id] = true
			}
			tv.versions, tv.err = w.readVersions(ctx, org, p.wt, p.changed, byIDConditions(p.ids))
			tv.at = time.Now()
			r.tables[p.wt.m.Table] = tv
		}
	}()
	return r
}

// preChecked returns, by table, the changes whose records a batch's pre-check reads (as
// batchVersions picks them), for the tables a run of the batch would pre-check: a run of updates
// with two or more of them (one goes as a conditional update instead), or of deletes.
func preChecked(b *writeBatch) map[string][]*change {
	needed := map[string]bool{}
	for i := 0; i < len(b.send); {
		run := nextRun(b.send[i:])
		i += len(run)
		wt := b.tables[run[0].table]
		if wt == nil || !wt.described {
			continue
		}
		n := 0
		for _, ch := range run {
			if ch.sfid != "" && !ch.decided() {
				n++
			}
		}
		if (run[0].action == triggerlog.Update && n >= 2) || (run[0].action == triggerlog.Delete && n >= 1) {
			needed[run[0].table] = true
		}
	}
	if len(needed) == 0 {
		return nil
	}
	out := map[string][]*change{}
	for _, ch := range b.send {
		if needed[ch.table] && ch.sfid != "" && (ch.action == triggerlog.Update || ch.action == triggerlog.Delete) {
			out[ch.table] = append(out[ch.table], ch)
		}
	}
	return out
}

// byIDConditions is the pre-check's WHERE clauses for ids, preCheckBatch to a query.
func byIDConditions(ids []string) []string {
	var wheres []string
	for i := 0; i < len(ids); i += preCheckBatch {
		wheres = append(wheres, " WHERE Id IN ('"+strings.Join(ids[i:min(i+preCheckBatch, len(ids))], "','")+"')")
	}
	return wheres
}

// aheadVersions returns the versions read ahead for a table's changes that are fresh enough, and the
// changes they do not cover (all of them when none are).
func (w *writer) aheadVersions(table string, chs []*change) (map[string]sfVersion, []*change) {
	tv := w.cs.ahead[table]
	if tv == nil || tv.err != nil {
		return nil, chs
	}
	if age := time.Since(tv.at); age > readAheadMaxAge {
		w.log.Debug("conflict pre-check read again: the versions read ahead are too old", "table", table, "age", age)
		return nil, chs
	}
	var rest []*change
	for _, ch := range chs {
		if !tv.ids[ch.sfid] {
			rest = append(rest, ch)
		}
	}
	return maps.Clone(tv.versions), rest
}

// resolutions returns the admins' resolutions of changes (conflict.Resolved), those read ahead
// with the batch's versions not asked again.
func (w *writer) resolutions(ctx context.Context, connID int64, chs []*change) (map[int64]conflict.Outcome, error) {
	out := map[int64]conflict.Outcome{}
	var ask []int64
	for _, ch := range chs {
		if !w.cs.asked[ch.id] {
			ask = append(ask, ch.id)
		} else if o, ok := w.cs.resolved[ch.id]; ok {
			out[ch.id] = o
		}
	}
	if len(ask) == 0 {
		return out, nil
	}
	read, err := conflict.Resolved(ctx, w.s.e.opts.Pool, connID, ask)
	if err != nil {
		return nil, err
	}
	maps.Copy(out, read)
	return out, nil
}
