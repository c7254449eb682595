package engine

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/triggerlog"
)

// sendOrdered writes changes in capture order. Consecutive changes of the same table and action go
// together in one collection call (up to 200), but a record never appears twice in one call and a
// record's changes never overtake each other. After a retriable failure the failed change and every
// later one go back to the queue untouched, so the order holds on the next round.
//
// The runs go through the writer's pipeline: several calls in flight, each record's changes still
// in capture order (writer_pipeline.go).
func (w *writer) sendOrdered(ctx context.Context, org orgclient.Org, tables map[string]*writable, batch []*change) error {
	var runs []plannedRun
	useBulk := bulkWanted(w.s.currentConn(), org)
	for i := 0; i < len(batch); {
		run, bulk := nextRun(batch[i:]), false
		if long := nextBulkRun(batch[i:]); useBulk && len(long) >= bulkWriteMin && bulkEligible(tables[long[0].table], long[0].action) {
			run, bulk = long, true
		}
		runs = append(runs, planned(run, bulk))
		i += len(run)
	}
	err := w.pipeline(org, tables).send(ctx, runs)
	releaseFrom(batch) // what was not sent goes back in order
	return err
}

// nextRun returns the longest prefix of changes with one table and action, no repeated record, and
// at most one collection's worth.
func nextRun(b []*change) []*change {
	seen := map[int64]bool{}
	n := 0
	for n < len(b) && n < collectionLimit {
		ch := b[n]
		if ch.table != b[0].table || ch.action != b[0].action || seen[ch.recordID] {
			break
		}
		seen[ch.recordID] = true
		n++
	}
	return b[:n]
}

// releaseFrom marks changes not yet decided as retriable, so they return to NEW in order.
func releaseFrom(b []*change) {
	for _, ch := range b {
		if !ch.decided() {
			ch.outcome = triggerlog.Release
		}
	}
}

// sendMerged folds each record's pending changes into one write (later values win; insert then
// delete cancels out; anything then delete is a delete), marks folded rows MERGED, then writes
// inserts, updates and deletes in collections.
func (w *writer) sendMerged(ctx context.Context, org orgclient.Org, tables map[string]*writable, batch []*change) error {
	type key struct {
		table string
		rec   int64
	}
	heads := map[key]*change{}
	folded := map[key][]*change{} // the changes merged into a record's head
	updated := map[*change]bool{} // heads that took a later update
	var order []*change
	for _, ch := range batch {
		k := key{ch.table, ch.recordID}
		head, ok := heads[k]
		if !ok {
			heads[k] = ch
			order = append(order, ch)
			continue
		}
		switch {
		case ch.action == triggerlog.Delete && head.action == triggerlog.Insert && head.sfid == "":
			// Created and deleted before it ever reached Salesforce: nothing to send.
			head.outcome, head.lastop = triggerlog.Merge, ""
			ch.outcome = triggerlog.Merge
			delete(heads, k)
			continue
		case ch.action == triggerlog.Delete:
			// The delete is what is written: the record's earlier changes merge into it, so the log
			// says what happened (DELETE SUCCESS, the update MERGED into it).
			if ch.sfid == "" {
				ch.sfid = head.sfid
			}
			for _, f := range append(folded[k], head) {
				f.outcome, f.message = triggerlog.Merge, fmt.Sprintf(`{"merged_into":%d}`, ch.id)
			}
			order[slices.Index(order, head)] = ch
			heads[k], folded[k] = ch, nil
			continue
		default:
			updated[head] = true
			if head.values == nil {
				head.values = map[string]*string{}
			}
			for col, v := range ch.values {
				head.values[col] = v
				if v == nil && head.action == triggerlog.Insert {
					if head.cleared == nil {
						head.cleared = map[string]bool{}
					}
					head.cleared[col] = true // set to NULL after the insert: sent as null
				}
			}
			if head.sfid == "" {
				head.sfid = ch.sfid
			}
		}
		ch.outcome = triggerlog.Merge
		ch.message = fmt.Sprintf(`{"merged_into":%d}`, head.id)
		folded[k] = append(folded[k], ch)
	}
	var pending []*change
	for _, ch := range order {
		if !ch.decided() {
			pending = append(pending, ch)
		}
	}
	// Group by table and action; order between groups keeps inserts before updates before deletes.
	rank := map[triggerlog.Action]int{triggerlog.Insert: 0, triggerlog.Update: 1, triggerlog.Delete: 2}
	slices.SortStableFunc(pending, func(a, b *change) int {
		if c := cmp.Compare(rank[a.action], rank[b.action]); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	var runs []plannedRun
	for i := 0; i < len(pending); {
		run := nextRun(pending[i:])
		runs = append(runs, planned(run, false))
		i += len(run)
	}
	err := w.pipeline(org, tables).send(ctx, runs)
	releaseFrom(pending)
	for head := range updated {
		if head.outcome.To == triggerlog.Success && head.action == triggerlog.Insert {
			head.lastop = "UPDATED" // the row's last operation, as if written one by one
		}
	}
	return err
}

// sendRun writes one run (same table and action) and sets each change's outcome. It returns an error
// only when the whole call failed in a way worth retrying; permanent whole-call failures fail the
// run's changes with Salesforce's message.
func (w *writer) sendRun(ctx context.Context, org orgclient.Org, wt *writable, run []*change, known map[string]map[int64]string, bulk bool) error {
	if wt == nil {
		for _, ch := range run {
			ch.outcome, ch.message = triggerlog.Skip, `{"message":"the table is no longer mapped read-write"}`
		}
		return nil
	}
	m := wt.m
	if known[m.Table] == nil {
		known[m.Table] = map[int64]string{}
	}
	w.stateMu.Lock() // runs are sent concurrently (writer_pipeline.go); conflict detection's memory is the writer's
	err := w.checkConflicts(ctx, org, wt, run)
	w.stateMu.Unlock()
	if err != nil {
		return err
	}
	var send []*change
	var recs []map[string]any
	var ids []string
	for _, ch := range run {
		if ch.decided() {
			continue // decided before sending (e.g. its row is gone)
		}
		if ch.sfid == "" {
			ch.sfid = known[m.Table][ch.recordID]
		}
		switch ch.action {
		case triggerlog.Insert:
			rec, err := wt.fields.record(ch.values, true, ch.cleared)
			if err != nil {
				fail(ch, "INVALID_FIELD", err.Error())
				continue
			}
			send, recs = append(send, ch), append(recs, rec)
		case triggerlog.Update:
			if ch.sfid == "" {
				fail(ch, "ENTITY_NOT_IN_SALESFORCE", "The row has no sfid: its insert has not reached Salesforce (see that change's error), so it cannot be updated there.")
				continue
			}
			rec, err := wt.fields.record(ch.values, false, nil)
			if err != nil {
				fail(ch, "INVALID_FIELD", err.Error())
				continue
			}
			if len(rec) == 0 {
				ch.outcome, ch.message = triggerlog.Skip, `{"message":"no field Salesforce lets pgforce update changed"}`
				continue
			}
			rec["Id"] = ch.sfid
			send, recs = append(send, ch), append(recs, rec)
		case triggerlog.Delete:
			if ch.sfid == "" {
				ch.outcome = triggerlog.Skip
				continue
			}
			send, ids = append(send, ch), append(ids, ch.sfid)
		}
	}
	for _, c := range planCalls(ctx, org, m, run[0].action, send, recs, ids, bulk) {
		results, err := c.do()
		if err != nil {
			if retriable(err) || failure.Is(err, failure.Unauthenticated) {
				return err // the changes of earlier calls keep their outcomes
			}
			for _, ch := range c.send {
				fail(ch, "REQUEST_FAILED", failure.Message(err))
			}
			continue
		}
		if len(results) != len(c.send) {
			return fmt.Errorf("salesforce returned %d results for %d records", len(results), len(c.send))
		}
		w.stateMu.Lock()
		w.settle(c.send, results, known[m.Table])
		w.stateMu.Unlock()
	}
	return nil
}

// A call is one write to Salesforce (a collection, chunked by the client, or an ingest job) and the
// changes its results decide, in order.
type call struct {
	send []*change
	do   func() ([]orgclient.SaveResult, error)
}

// planCalls splits a run into its calls. Inserts of an upsert mapping go by upsert when the row has
// its external id (safe to resend after a crash) and by create when it has none: Salesforce refuses
// an upsert record without the external id (MISSING_ARGUMENT), so one such row must not take the
// rest of its run down with it. Only upserts can use Bulk: a job's results are matched to rows by
// their key.
func planCalls(ctx context.Context, org orgclient.Org, m mapping.Mapping, action triggerlog.Action, send []*change, recs []map[string]any, ids []string, bulk bool) []call {
	if len(send) == 0 {
		return nil
	}
	switch action {
	case triggerlog.Update:
		return []call{{send, func() ([]orgclient.SaveResult, error) {
			if bulk {
				return bulkWrite(ctx, org, m, action, recs, nil)
			}
			return org.UpdateMany(ctx, m.Object, recs)
		}}}
	case triggerlog.Delete:
		return []call{{send, func() ([]orgclient.SaveResult, error) {
			if bulk {
				return bulkWrite(ctx, org, m, action, nil, ids)
			}
			return org.DeleteMany(ctx, ids)
		}}}
	}
	var creates, upserts []*change
	var createRecs, upsertRecs []map[string]any
	for i, rec := range recs {
		if m.Config.UpsertField != "" && rec[m.Config.UpsertField] != nil {
			upserts, upsertRecs = append(upserts, send[i]), append(upsertRecs, rec)
		} else {
			creates, createRecs = append(creates, send[i]), append(createRecs, rec)
		}
	}
	var calls []call
	if len(upserts) > 0 {
		calls = append(calls, call{upserts, func() ([]orgclient.SaveResult, error) {
			if bulk {
				return bulkWrite(ctx, org, m, action, upsertRecs, nil)
			}
			return org.UpsertMany(ctx, m.Object, m.Config.UpsertField, upsertRecs)
		}})
	}
	if len(creates) > 0 {
		calls = append(calls, call{creates, func() ([]orgclient.SaveResult, error) { return org.CreateMany(ctx, m.Object, createRecs) }})
	}
	return calls
}

// settle sets each sent change's outcome from its result; known learns the records inserts created.
func (w *writer) settle(send []*change, results []orgclient.SaveResult, known map[int64]string) {
	for i, ch := range send {
		res := results[i]
		switch {
		case res.Success:
			ch.outcome = triggerlog.Succeed
			switch ch.action {
			case triggerlog.Insert:
				ch.newSFID, ch.lastop = res.ID, "INSERTED"
				known[ch.recordID] = res.ID
			case triggerlog.Update:
				ch.lastop = "UPDATED"
			case triggerlog.Delete:
				ch.lastop = "DELETED"
			}
		case ch.action == triggerlog.Delete && hasCode(res.Errors, "ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"):
			ch.outcome, ch.lastop = triggerlog.Succeed, "DELETED" // already gone: the delete's effect holds
		case retriableRecord(res.Errors):
			w.transient(ch, res.Errors)
		default:
			b, _ := json.Marshal(res.Errors)
			ch.outcome, ch.message, ch.lastop = triggerlog.Fail, string(b), "FAILED"
		}
	}
}

func fail(ch *change, code, msg string) {
	b, _ := json.Marshal([]orgclient.RecordError{{StatusCode: code, Message: msg}})
	ch.outcome, ch.message, ch.lastop = triggerlog.Fail, string(b), "FAILED"
}

func hasCode(errs []orgclient.RecordError, codes ...string) bool {
	for _, e := range errs {
		for _, c := range codes {
			if strings.EqualFold(e.StatusCode, c) {
				return true
			}
		}
	}
	return false
}

func retriableRecord(errs []orgclient.RecordError) bool {
	for _, e := range errs {
		if e.Retriable() {
			return true
		}
	}
	return false
}
