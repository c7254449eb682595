package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/orgclient"
	"pgforce/sync/triggerlog"
)

// Conflict detection. A conflict is a record Salesforce changed after a Postgres change of it was
// captured and before the change is written, judged by what the row held when captured: its
// SystemModstamp (the "old" side of the captured change) against the record's SystemModstamp now.
// Records pgforce itself wrote since are not conflicts. A change written alone goes as a conditional
// request (If-Unmodified-Since: the captured stamp), so detection costs nothing until Salesforce
// refuses it; a batch written through collections or Bulk is checked first, once per object, with one
// query by id of Id, SystemModstamp, LastModifiedById, IsDeleted and the changed fields per
// preCheckBatch records, 25 queries to a call.
// Deleted in Salesforce while updated in Postgres, and deleted in Postgres while updated in
// Salesforce, are conflicts too. Fields Salesforce changed that Postgres did not are no conflict,
// nor is Salesforce holding the very values Postgres wrote.

// preCheckBatch is how many records one pre-check query reads by id: 300 ids keep its URL near
// 7 KB, under Salesforce's 16 KB limit.
const preCheckBatch = 300

// ownWritesKept is how long the writer remembers when it wrote a record (its own writes move the
// record's SystemModstamp and are no conflicts); older writes are found in the trigger log.
const ownWritesKept = time.Hour

type rowKey struct {
	table string
	rec   int64
}

// conflictState is what the writer keeps between batches for detection.
type conflictState struct {
	wrote     map[rowKey]time.Time            // when pgforce last wrote a record (after Salesforce answered)
	refreshes []sfRefresh                     // Salesforce versions rows take with the batch's outcomes
	batch     []*change                       // the batch being written
	existing  map[string]map[string]sfVersion // table → records Salesforce has with the external ids of the batch's inserts
	byID      map[string]map[string]sfVersion // table → the batch's updated and deleted records, read by id
	ahead     map[string]*tableVersions       // table → those records as read ahead (writer_readahead.go)
	asked     map[int64]bool                  // changes whose resolutions were read ahead, and those
	resolved  map[int64]conflict.Outcome
}

// beginBatch starts detection for a claimed batch, with the versions read ahead for it (nil: none).
func (cs *conflictState) beginBatch(batch []*change, ahead *readAhead) {
	cs.batch, cs.existing, cs.byID, cs.ahead, cs.asked, cs.resolved = batch, nil, nil, nil, nil, nil
	if ahead != nil {
		cs.ahead, cs.asked, cs.resolved = ahead.tables, ahead.asked, ahead.resolved
	}
}

// batchVersions reads, once per batch and table, what the pre-check compares the batch's updates and
// deletes with: their records, by id (one call per 7,500 records, 25 queries of 300 ids to a
// /composite call, deleted records included), whatever else changed in Salesforce (after pgforce's
// own large write, the records "changed since" a baseline would be thousands it wrote itself).
// Records read ahead while the batch before was in flight are not read again (writer_readahead.go).
func (w *writer) batchVersions(ctx context.Context, org orgclient.Org, wt *writable) (map[string]sfVersion, error) {
	if v, done := w.cs.byID[wt.m.Table]; done {
		return v, nil
	}
	var chs []*change
	for _, ch := range w.cs.batch {
		if ch.table == wt.m.Table && ch.sfid != "" && (ch.action == triggerlog.Update || ch.action == triggerlog.Delete) {
			chs = append(chs, ch)
		}
	}
	versions, rest := w.aheadVersions(wt.m.Table, chs)
	if len(rest) > 0 {
		read, err := w.salesforceVersions(ctx, org, wt, rest)
		if err != nil {
			return nil, err
		}
		if versions == nil {
			versions = read
		} else {
			maps.Copy(versions, read)
		}
	}
	if w.cs.byID == nil {
		w.cs.byID = map[string]map[string]sfVersion{}
	}
	w.cs.byID[wt.m.Table] = versions
	return versions, nil
}

// sfRefresh is Salesforce's current version of records whose rows take it (salesforce_wins, an
// admin keeping Salesforce), as CSV in the target's field order, and the ids Salesforce no longer has.
type sfRefresh struct {
	table string
	tgt   apply.Target
	csv   []byte
	gone  []string
}

// sfVersion is a record as the pre-check read it.
type sfVersion struct {
	found, deleted bool
	stamp          time.Time
	by             string
	values         map[string]json.RawMessage
}

// policyOf returns a mapping's conflict policy (postgres_wins when unset or unknown).
func policyOf(m mapping.Mapping) conflict.Policy {
	p, err := conflict.ParsePolicy(m.Config.ConflictPolicy())
	if err != nil {
		return conflict.PostgresWins
	}
	return p
}

// checkConflicts judges a run's updates and deletes of records already in Salesforce (and inserts
// whose external id Salesforce already has: checkInsertConflicts) before it is sent, deciding the changes a conflict keeps from being sent (salesforce_wins, manual, a record
// deleted in Salesforce). A single update is sent here, conditionally. It returns an error only when
// a call failed as a whole.
func (w *writer) checkConflicts(ctx context.Context, org orgclient.Org, wt *writable, run []*change) error {
	c := w.s.currentConn()
	if run[0].action == triggerlog.Insert {
		takeSF, err := w.checkInsertConflicts(ctx, org, c, wt, run)
		if err != nil {
			return err
		}
		return w.fetchSalesforceVersions(ctx, org, c, wt, takeSF)
	}
	var cands []*change
	for _, ch := range run {
		if !ch.decided() && ch.sfid != "" && (ch.action == triggerlog.Update || ch.action == triggerlog.Delete) {
			cands = append(cands, ch)
		}
	}
	if len(cands) == 0 {
		return nil
	}
	resolved, err := w.resolutions(ctx, c.ID, cands)
	if err != nil {
		return err
	}
	var judge []*change
	var takeSF []*change
	for _, ch := range cands {
		switch resolved[ch.id] {
		case conflict.KeptPostgres:
			// An admin kept this change: it is sent as it is.
		case conflict.KeptSalesforce:
			ch.outcome, ch.message, ch.lastop = triggerlog.Skip, `{"message":"conflict: an admin kept Salesforce's version"}`, "SYNCED"
			ch.takeSalesforce = true
			takeSF = append(takeSF, ch)
		default:
			judge = append(judge, ch)
		}
	}
	if len(judge) == 1 && judge[0].action == triggerlog.Update {
		sent, err := w.sendConditional(ctx, org, wt, judge[0])
		if err != nil || sent {
			judge = nil
		}
		if err != nil {
			return err
		}
	}
	if len(judge) > 0 {
		versions, err := w.batchVersions(ctx, org, wt)
		if err != nil {
			return err
		}
		suspects := w.suspects(judge, versions)
		own, err := w.ownWrites(ctx, c, wt.m.Table, suspects)
		if err != nil {
			return err
		}
		for _, ch := range suspects {
			w.judge(c, wt, ch, versions[ch.sfid], own[ch.recordID])
			if ch.takeSalesforce {
				takeSF = append(takeSF, ch)
			}
		}
	}
	return w.fetchSalesforceVersions(ctx, org, c, wt, takeSF)
}

// baseline is the newest SystemModstamp Postgres knew the record at: the one the row held when the
// change was captured, or pgforce's own later write of it.
func (w *writer) baseline(ch *change) time.Time {
	b := ch.captured
	if v := ch.old["systemmodstamp"]; v != nil {
		if t, ok := parseStamp(*v); ok {
			b = t
		}
	}
	if t, ok := w.cs.wrote[rowKey{ch.table, ch.recordID}]; ok && t.After(b) {
		b = t
	}
	return b
}

// sendConditional sends one update unless Salesforce's record changed after its baseline. sent
// reports that it was written; otherwise the change is left to the pre-check (Salesforce refused it
// as modified or deleted) or to the ordinary send (any other refusal).
func (w *writer) sendConditional(ctx context.Context, org orgclient.Org, wt *writable, ch *change) (sent bool, err error) {
	rec, err := wt.fields.record(ch.values, false, nil)
	if err != nil || len(rec) == 0 {
		return false, nil // sendRun says why
	}
	rec["Id"] = ch.sfid
	res, err := org.UpdateUnmodifiedSince(ctx, wt.m.Object, rec, w.baseline(ch))
	if err != nil {
		return false, err
	}
	if res.Success {
		ch.outcome, ch.lastop = triggerlog.Succeed, "UPDATED"
		return true, nil
	}
	return false, nil
}

// changedFields returns the Salesforce fields a change writes, sorted.
func changedFields(wt *writable, chs []*change) []string {
	set := map[string]bool{}
	for _, ch := range chs {
		if ch.action != triggerlog.Update {
			continue
		}
		rec, _ := wt.fields.record(ch.values, false, nil)
		for f, v := range rec {
			if _, nested := v.(map[string]any); !nested {
				set[f] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// salesforceVersions reads the records of changes by id (deleted ones included), preCheckBatch per
// query: what the pre-check compares.
func (w *writer) salesforceVersions(ctx context.Context, org orgclient.Org, wt *writable, chs []*change) (map[string]sfVersion, error) {
	ids := make([]string, len(chs))
	for i, ch := range chs {
		ids[i] = ch.sfid
	}
	return w.readVersions(ctx, org, wt, changedFields(wt, chs), byIDConditions(ids))
}

// readVersions runs the pre-check query with each condition (deleted records included; several
// conditions 25 to a call when the org batches queries).
func (w *writer) readVersions(ctx context.Context, org orgclient.Org, wt *writable, changed []string, wheres []string) (map[string]sfVersion, error) {
	fields := []string{"Id", "SystemModstamp"}
	for _, f := range []string{"LastModifiedById", "IsDeleted"} {
		if _, ok := wt.obj.Field(f); ok {
			fields = append(fields, f)
		}
	}
	for _, f := range changed {
		if !slices.ContainsFunc(fields, func(x string) bool { return strings.EqualFold(x, f) }) {
			fields = append(fields, f)
		}
	}
	out := map[string]sfVersion{}
	add := func(rec map[string]json.RawMessage) error {
		var id, by string
		var deleted bool
		_ = json.Unmarshal(rec["Id"], &id)
		_ = json.Unmarshal(rec["LastModifiedById"], &by)
		_ = json.Unmarshal(rec["IsDeleted"], &deleted)
		v := sfVersion{found: true, deleted: deleted, by: by, values: rec}
		var stamp string
		if json.Unmarshal(rec["SystemModstamp"], &stamp) == nil {
			v.stamp, _ = parseStamp(stamp)
		}
		out[id] = v
		if len(id) == 18 {
			out[id[:15]] = v
		}
		return nil
	}
	wrap := func(err error) error {
		return fmt.Errorf("conflict pre-check of %s: %w", wt.m.Object, err)
	}
	sel := "SELECT " + strings.Join(fields, ", ") + " FROM " + wt.m.Object
	if qb, ok := org.(orgclient.QueryBatcher); ok && len(wheres) > 1 {
		// Several queries (by id, by external id) go 25 to a call.
		for i := 0; i < len(wheres); i += orgclient.MaxBatchQueries {
			part := wheres[i:min(i+orgclient.MaxBatchQueries, len(wheres))]
			qs := make([]orgclient.BatchQuery, len(part))
			for j, where := range part {
				qs[j] = orgclient.BatchQuery{SOQL: sel + where, All: true}
			}
			pages, err := qb.QueryBatch(ctx, qs)
			if err != nil {
				return nil, wrap(err)
			}
			for _, p := range pages {
				if p.Err != nil {
					return nil, wrap(p.Err)
				}
				for _, rec := range p.Records {
					if err := add(rec); err != nil {
						return nil, wrap(err)
					}
				}
				if p.Next != "" {
					if err := qb.QueryMore(ctx, p.Next, add); err != nil {
						return nil, wrap(err)
					}
				}
			}
		}
		return out, nil
	}
	for _, where := range wheres {
		if _, err := org.Query(ctx, sel+where, true, add); err != nil {
			return nil, wrap(err)
		}
	}
	return out, nil
}

// suspects returns the changes whose record Salesforce deleted or changed after their baseline (the
// versions were read by id: a record missing from them is gone).
func (w *writer) suspects(chs []*change, versions map[string]sfVersion) []*change {
	var out []*change
	for _, ch := range chs {
		if v := versions[ch.sfid]; !v.found || v.deleted || v.stamp.After(w.baseline(ch)) {
			out = append(out, ch)
		}
	}
	return out
}

// ownWrites returns when pgforce last wrote each suspect's record, by the trigger log (its memory
// of its own writes does not outlive a restart).
func (w *writer) ownWrites(ctx context.Context, c connection.Connection, tableName string, chs []*change) (map[int64]time.Time, error) {
	out := map[int64]time.Time{}
	if len(chs) == 0 {
		return out, nil
	}
	recs := make([]int64, len(chs))
	for i, ch := range chs {
		recs[i] = ch.recordID
	}
	rows, err := w.s.e.opts.Pool.Query(ctx, `SELECT record_id, max(updated_at) FROM `+table.Ident(c.Schema, "_trigger_log")+`
		WHERE table_name = $1 AND record_id = ANY($2) AND state = $3 GROUP BY record_id`, tableName, recs, string(triggerlog.Success))
	if err != nil {
		return nil, fmt.Errorf("read pgforce's own writes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var rec int64
		var at time.Time
		if err := rows.Scan(&rec, &at); err != nil {
			return nil, err
		}
		out[rec] = at
	}
	return out, rows.Err()
}

// judge decides a suspect change: a conflict or not, and what its mapping's policy does.
func (w *writer) judge(c connection.Connection, wt *writable, ch *change, v sfVersion, ownWrite time.Time) {
	cf := &conflict.Conflict{ConnectionID: c.ID, MappingID: wt.m.ID, Object: wt.m.Object, Table: wt.m.Table, RecordID: ch.recordID,
		SFID: ch.sfid, TriggerLogID: ch.id, CapturedAt: ch.captured, SFModifiedAt: v.stamp, SFModifiedBy: v.by, Policy: policyOf(wt.m),
		PostgresValues: map[string]any{}, SalesforceValues: map[string]any{}}
	var pgNew map[string]any
	if ch.action == triggerlog.Update {
		pgNew, _ = wt.fields.record(ch.values, false, nil)
		for f, val := range pgNew {
			if _, nested := val.(map[string]any); !nested {
				cf.PostgresValues[f] = val
			}
		}
	}
	switch {
	case !v.found || v.deleted:
		if ch.action == triggerlog.Delete {
			return // deleted on both sides: the delete's effect holds
		}
		cf.Kind, cf.Outcome = conflict.DeletedInSalesforce, conflict.DeleteStands
		ch.outcome, ch.lastop = triggerlog.Skip, ""
		ch.message = `{"message":"conflict: the record was deleted in Salesforce after this change was captured; the delete stands"}`
		ch.conflict = cf
		return
	case !ownWrite.IsZero() && !v.stamp.After(ownWrite):
		return // pgforce's own write moved the stamp
	case ch.action == triggerlog.Update:
		old := map[string]*string{}
		for col := range ch.values {
			old[col] = ch.old[col]
		}
		pgOld, _ := wt.fields.record(old, false, nil)
		differs := false
		for f, nv := range cf.PostgresValues {
			sv := v.values[f]
			cf.SalesforceValues[f] = decodeRaw(sv)
			if !sameValue(sv, pgOld[f]) && !sameValue(sv, nv) {
				differs = true
			}
		}
		if !differs {
			return // Salesforce changed other fields, or made the same change
		}
		cf.Kind = conflict.UpdateUpdate
	default:
		cf.Kind = conflict.DeletedInPostgres
	}
	cf.Outcome = decide(cf.Policy, ch.captured, v.stamp)
	switch cf.Outcome {
	case conflict.SalesforceWon:
		ch.outcome, ch.lastop, ch.takeSalesforce = triggerlog.Skip, "SYNCED", true
		ch.message = `{"message":"conflict: the record changed in Salesforce after this change was captured; Salesforce's version is kept (policy ` + string(cf.Policy) + `)"}`
	case conflict.Held:
		ch.outcome, ch.lastop = triggerlog.Hold, "CONFLICT"
		ch.message = `{"message":"conflict: the record changed in Salesforce after this change was captured; held until an admin keeps one side"}`
	}
	ch.conflict = cf
}

// decide applies a policy to a conflict of two changes.
func decide(p conflict.Policy, captured, sfStamp time.Time) conflict.Outcome {
	switch p {
	case conflict.SalesforceWins:
		return conflict.SalesforceWon
	case conflict.Manual:
		return conflict.Held
	case conflict.NewestWins:
		if sfStamp.After(captured) {
			return conflict.SalesforceWon
		}
	}
	return conflict.PostgresWon
}

// fetchSalesforceVersions reads, with every mapped field, the records whose rows take Salesforce's
// version, to apply with the batch's outcomes.
func (w *writer) fetchSalesforceVersions(ctx context.Context, org orgclient.Org, c connection.Connection, wt *writable, chs []*change) error {
	if len(chs) == 0 {
		return nil
	}
	tgt := target(c, wt.m)
	for i := 0; i < len(chs); i += preCheckBatch {
		part := chs[i:min(i+preCheckBatch, len(chs))]
		ids := make([]string, len(part))
		for j, ch := range part {
			ids[j] = ch.sfid
		}
		var buf bytes.Buffer
		enc := apply.NewRecordEncoder(tgt, &buf)
		soql := "SELECT " + tgt.SelectList() + " FROM " + wt.m.Object + " WHERE Id IN ('" + strings.Join(ids, "','") + "')"
		if _, err := org.Query(ctx, soql, hasField(wt.m, "IsDeleted"), func(rec map[string]json.RawMessage) error { return enc.Encode(rec) }); err != nil {
			return fmt.Errorf("read Salesforce's version of %s records: %w", wt.m.Object, err)
		}
		if err := enc.Flush(); err != nil {
			return err
		}
		w.cs.refreshes = append(w.cs.refreshes, sfRefresh{table: wt.m.Table, tgt: tgt, csv: buf.Bytes(), gone: ids})
	}
	return nil
}

// noteWrites remembers when pgforce wrote a batch's records, once Salesforce answered: its own
// writes move the records' SystemModstamp and are no conflicts for the batches after it, which may
// be judged before this one is recorded (writer_stream.go).
func (w *writer) noteWrites(batch []*change) {
	now := time.Now()
	if w.cs.wrote == nil {
		w.cs.wrote = map[rowKey]time.Time{}
	}
	for _, ch := range batch {
		if ch.outcome.To == triggerlog.Success && ch.action != triggerlog.Delete {
			w.cs.wrote[rowKey{ch.table, ch.recordID}] = now
		}
	}
	for k, at := range w.cs.wrote {
		if now.Sub(at) > ownWritesKept {
			delete(w.cs.wrote, k)
		}
	}
}

// recordConflicts stores a recorded batch's conflicts and applies the Salesforce versions its rows
// take; in the outcome transaction.
func (w *writer) recordConflicts(ctx context.Context, tx pgx.Tx, batch []*change, refreshes []sfRefresh) error {
	var cs []conflict.Conflict
	for _, ch := range batch {
		if ch.conflict == nil || ch.released() {
			continue // a change back in the queue is judged again when it is claimed again
		}
		cf := *ch.conflict
		if cf.Outcome == conflict.PostgresWon && ch.outcome.To != triggerlog.Success {
			// Kept, but not written (Salesforce refused it, or it went with a later change of its
			// row): said written once a write of the row succeeds (conflict.Written).
			cf.Outcome = conflict.PostgresKept
		}
		cs = append(cs, cf)
	}
	if err := conflict.Insert(ctx, tx, cs); err != nil {
		return err
	}
	for _, r := range refreshes {
		// A record Salesforce no longer has is not restored; its row goes (gone lists them all, and
		// only those absent from the CSV are deleted).
		if _, err := apply.Refresh(ctx, tx, r.tgt, bytes.NewReader(r.csv), r.gone); err != nil {
			return fmt.Errorf("take Salesforce's version of %s rows: %w", r.table, err)
		}
	}
	return nil
}

// parseStamp reads a SystemModstamp as Postgres (timestamp text) or Salesforce (ISO 8601) writes it.
func parseStamp(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02 15:04:05.999999-07", "2006-01-02T15:04:05.000-0700", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

func decodeRaw(raw json.RawMessage) any {
	var v any
	if len(raw) == 0 || json.Unmarshal(raw, &v) != nil {
		return nil
	}
	return v
}

// sameValue compares a Salesforce JSON value with a value the writer would send, as values: numbers
// by number, date-times by instant, null like an empty string.
func sameValue(raw json.RawMessage, v any) bool {
	b, _ := json.Marshal(v)
	return normValue(decodeRaw(raw)) == normValue(decodeRaw(b))
}

func normValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		if t, ok := parseStamp(x); ok && strings.Contains(x, "T") {
			return t.Format(time.RFC3339Nano)
		}
		return x
	}
	b, _ := json.Marshal(v)
	return string(b)
}
