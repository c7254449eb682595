package engine

import (
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/orgclient"
	"pgforce/sync/triggerlog"
)

// An insert of an upsert mapping whose external id Salesforce already has is a conflict when the
// record holds other values than the row: Postgres created what it took for a new record, and an
// upsert would overwrite one Salesforce already had (Heroku Connect does so silently). The run's
// inserts are pre-checked by external id (one query per preCheckBatch rows of a batch); a record holding the
// row's very values (an upsert resent after a crash) is no conflict. The policy decides:
// postgres_wins upserts over it (recorded with both versions), salesforce_wins links the row to the
// record and takes its values (nothing is sent), newest_wins compares the capture time with the
// record's SystemModstamp, manual holds the insert until an admin keeps one side.

// insertKey is an external id as compared between the row and Salesforce (case-insensitive, as
// Salesforce matches external ids unless the field is case-sensitive).
func insertKey(v any) string { return strings.ToLower(normValue(v)) }

// checkInsertConflicts judges a run's inserts that carry an external id of an upsert mapping, and
// returns those whose rows take Salesforce's version.
func (w *writer) checkInsertConflicts(ctx context.Context, org orgclient.Org, c connection.Connection, wt *writable, run []*change) ([]*change, error) {
	ext := wt.m.Config.UpsertField
	if ext == "" {
		return nil, nil
	}
	var cands []*change
	recs := map[*change]map[string]any{}
	for _, ch := range run {
		if rec, ok := insertCandidate(wt, ch); ok {
			cands, recs[ch] = append(cands, ch), rec
		}
	}
	if len(cands) == 0 {
		return nil, nil
	}
	byExt, err := w.existingByExt(ctx, org, wt)
	if err != nil {
		return nil, err
	}
	if len(byExt) == 0 {
		return nil, nil // Salesforce has none of the external ids: plain creates
	}
	ids := make([]int64, len(cands))
	for i, ch := range cands {
		ids[i] = ch.id
	}
	resolved, err := conflict.Resolved(ctx, w.s.e.opts.Pool, c.ID, ids)
	if err != nil {
		return nil, err
	}
	var takeSF []*change
	for _, ch := range cands {
		v, ok := byExt[insertKey(recs[ch][ext])]
		if !ok {
			continue
		}
		var id string
		_ = json.Unmarshal(v.values["Id"], &id)
		switch resolved[ch.id] {
		case conflict.KeptPostgres:
			continue // an admin kept the row: it is upserted over the record
		case conflict.KeptSalesforce:
			ch.sfid, ch.takeSalesforce = id, true
			ch.outcome, ch.message, ch.lastop = triggerlog.Skip, `{"message":"conflict: an admin kept Salesforce's version"}`, "SYNCED"
			takeSF = append(takeSF, ch)
			continue
		}
		cf := &conflict.Conflict{ConnectionID: c.ID, MappingID: wt.m.ID, Object: wt.m.Object, Table: wt.m.Table, RecordID: ch.recordID,
			SFID: id, TriggerLogID: ch.id, CapturedAt: ch.captured, SFModifiedAt: v.stamp, SFModifiedBy: v.by, Policy: policyOf(wt.m),
			Kind: conflict.InsertExisting, PostgresValues: map[string]any{}, SalesforceValues: map[string]any{}}
		differs := false
		for f, pv := range recs[ch] {
			if _, nested := pv.(map[string]any); nested {
				continue
			}
			sv := apply.FieldValue(v.values, f)
			cf.PostgresValues[f], cf.SalesforceValues[f] = pv, decodeRaw(sv)
			if !sameValue(sv, pv) {
				differs = true
			}
		}
		if !differs {
			continue // Salesforce holds the row's very values: the upsert links them
		}
		cf.Outcome = decide(cf.Policy, ch.captured, v.stamp)
		switch cf.Outcome {
		case conflict.SalesforceWon:
			ch.sfid, ch.takeSalesforce = id, true
			ch.outcome, ch.lastop = triggerlog.Skip, "SYNCED"
			ch.message = `{"message":"conflict: Salesforce already has a record with this external id; the row takes its version (policy ` + string(cf.Policy) + `)"}`
			takeSF = append(takeSF, ch)
		case conflict.Held:
			ch.outcome, ch.lastop = triggerlog.Hold, "CONFLICT"
			ch.message = `{"message":"conflict: Salesforce already has a record with this external id; held until an admin keeps one side"}`
		}
		ch.conflict = cf
	}
	return takeSF, nil
}

// insertCandidate is a change the insert pre-check looks up: an insert of an upsert mapping's row
// with an external id, not yet linked to a record; rec is what would be sent.
func insertCandidate(wt *writable, ch *change) (map[string]any, bool) {
	if ch.decided() || ch.action != triggerlog.Insert || ch.sfid != "" {
		return nil, false
	}
	rec, err := wt.fields.record(ch.values, true, ch.cleared)
	if err != nil || rec[wt.m.Config.UpsertField] == nil {
		return nil, false // sendRun says why, or it is a create
	}
	return rec, true
}

// existingByExt reads, once per batch and table, the records Salesforce has with the external ids of
// the batch's inserts (one query per preCheckBatch ids, 25 to a call): the batch's collection runs
// share that call instead of one query each.
func (w *writer) existingByExt(ctx context.Context, org orgclient.Org, wt *writable) (map[string]sfVersion, error) {
	if v, done := w.cs.existing[wt.m.Table]; done {
		return v, nil
	}
	ext := wt.m.Config.UpsertField
	fieldSet := map[string]bool{ext: true}
	var lits []string
	for _, ch := range w.cs.batch {
		if ch.table != wt.m.Table {
			continue
		}
		rec, ok := insertCandidate(wt, ch)
		if !ok {
			continue
		}
		for f, v := range rec {
			if _, nested := v.(map[string]any); !nested {
				fieldSet[f] = true
			}
		}
		lits = append(lits, soqlValue(wt, ext, rec[ext]))
	}
	var wheres []string
	for i := 0; i < len(lits); i += preCheckBatch {
		wheres = append(wheres, " WHERE "+ext+" IN ("+strings.Join(lits[i:min(i+preCheckBatch, len(lits))], ",")+")")
	}
	byExt := map[string]sfVersion{}
	if len(wheres) > 0 {
		versions, err := w.readVersions(ctx, org, wt, slices.Sorted(maps.Keys(fieldSet)), wheres)
		if err != nil {
			return nil, err
		}
		for _, v := range versions {
			if !v.deleted {
				byExt[insertKey(decodeRaw(apply.FieldValue(v.values, ext)))] = v
			}
		}
	}
	if w.cs.existing == nil {
		w.cs.existing = map[string]map[string]sfVersion{}
	}
	w.cs.existing[wt.m.Table] = byExt
	return byExt, nil
}

// soqlValue is a value of a field as a SOQL literal: numbers bare, anything else quoted.
func soqlValue(wt *writable, field string, v any) string {
	if f, ok := wt.obj.Field(field); ok && (f.Type == "double" || f.Type == "int" || f.Type == "currency" || f.Type == "percent") {
		return normValue(v)
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(normValue(v)) + "'"
}
