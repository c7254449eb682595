package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/triggerlog"
)

// A poll that brings a record whose row holds a change not yet written judges it as the writer
// would (writer_conflict.go), so the row shows at once what the mapping's policy keeps: the fields
// the change touched keep their Postgres values unless Salesforce's version wins the conflict, the
// others take Salesforce's. A change the writer will still look at (captured, claimed, requeued) is
// left to it, which records the conflict once; a failed change the writer will not look at again
// (a retry captures its row anew) is settled here: the conflict is recorded, and the change is
// rebased on the version it was kept over, set aside when Salesforce's version won, or held.

// pollWaiting is the merge's treatment of a mapping's rows with changes waiting (nil for read-only
// mappings, whose changes are never sent).
func pollWaiting(c connection.Connection, m mapping.Mapping) *apply.Waiting {
	if m.Config.Access != mapping.ReadWrite {
		return nil
	}
	fields := map[string]table.Field{}
	for _, f := range m.AppliedFields {
		if !strings.Contains(f.Name, ".") { // a parent by external id is a relationship, not a value
			fields[table.Column(f.Name)] = f
		}
	}
	pj := pollJudge{c: c, m: m, policy: policyOf(m), fields: fields}
	return &apply.Waiting{Schema: c.Schema, Table: m.Table, MappingID: m.ID, Judge: pj.judge}
}

type pollJudge struct {
	c      connection.Connection
	m      mapping.Mapping
	policy conflict.Policy
	fields map[string]table.Field // column → field
}

func (pj pollJudge) judge(ctx context.Context, tx pgx.Tx, changes []apply.WaitingChange) ([]apply.Verdict, error) {
	out := make([]apply.Verdict, 0, len(changes))
	for _, ch := range changes {
		v, err := pj.judgeOne(ctx, tx, ch)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (pj pollJudge) judgeOne(ctx context.Context, tx pgx.Tx, ch apply.WaitingChange) (apply.Verdict, error) {
	keep := apply.Verdict{ID: ch.ID, Keep: true}
	failed := ch.State == string(triggerlog.Failed)
	if ch.State == string(triggerlog.Conflict) {
		return keep, nil // held: it waits for an admin
	}
	cf := &conflict.Conflict{ConnectionID: pj.c.ID, MappingID: pj.m.ID, Object: pj.m.Object, Table: pj.m.Table, RecordID: ch.RecordID,
		SFID: ch.SFID, TriggerLogID: ch.ID, CapturedAt: ch.CapturedAt, SFModifiedAt: ch.SFStamp, Policy: pj.policy,
		PostgresValues: map[string]any{}, SalesforceValues: map[string]any{}}
	if by := ch.SFValues["lastmodifiedbyid"]; by != nil {
		cf.SFModifiedBy = *by
	}
	if ch.Action == string(triggerlog.Update) {
		for col, val := range ch.Values {
			if f, ok := pj.fields[col]; ok && !isSystemColumn(col) {
				cf.PostgresValues[f.Name] = pj.value(f, val)
			}
		}
	}
	if ch.SFDeleted {
		// The row goes with the record whatever the policy; a failed update of it is no longer to retry.
		if !failed || ch.Action == string(triggerlog.Delete) {
			return keep, nil
		}
		cf.Kind, cf.Outcome = conflict.DeletedInSalesforce, conflict.DeleteStands
		return keep, pj.settle(ctx, tx, ch, cf, triggerlog.Overrule,
			`{"message":"conflict: the record was deleted in Salesforce after this change was captured; the delete stands"}`)
	}
	switch ch.Action {
	case string(triggerlog.Insert):
		if !ch.Differs {
			return keep, nil // Salesforce holds the row's very values
		}
		if !failed {
			if decide(pj.policy, ch.CapturedAt, ch.SFStamp) == conflict.SalesforceWon {
				keep.Keep = false
			}
			return keep, nil // the writer's insert pre-check records the conflict
		}
		// A failed insert is not pre-checked again: a retry of its row, now linked to the record,
		// sends an update. Its conflict is recorded here, once, as the pre-check would.
		if judged, err := pj.judged(ctx, tx, ch.ID, nil); err != nil || judged {
			return keep, err
		}
		cf.Kind = conflict.InsertExisting
		for col, val := range ch.Values {
			if f, ok := pj.fields[col]; ok && !isSystemColumn(col) && val != nil {
				cf.PostgresValues[f.Name] = pj.value(f, val)
				cf.SalesforceValues[f.Name] = pj.value(f, ch.SFValues[col])
			}
		}
		return pj.settleFailed(ctx, tx, ch, cf, keep)
	case string(triggerlog.Update):
		if !ch.Differs {
			return keep, nil // Salesforce changed other fields, or made the same change
		}
		cf.Kind = conflict.UpdateUpdate
		for col := range ch.Values {
			if f, ok := pj.fields[col]; ok && !isSystemColumn(col) {
				cf.SalesforceValues[f.Name] = pj.value(f, ch.SFValues[col])
			}
		}
	default:
		cf.Kind = conflict.DeletedInPostgres
	}
	if !ch.SFStamp.After(pollBaseline(ch)) {
		return keep, nil // Salesforce's version is not later than the change's
	}
	if own, err := pj.ownWrite(ctx, tx, ch.RecordID); err != nil {
		return keep, err
	} else if !own.IsZero() && !ch.SFStamp.After(own) {
		return keep, nil // pgforce's own write moved the stamp
	}
	if !failed {
		keep.Keep = decide(pj.policy, ch.CapturedAt, ch.SFStamp) != conflict.SalesforceWon
		return keep, nil // the writer judges it the same way when it claims it, and records it
	}
	// The writer may have judged it against this very version, kept it and then seen Salesforce
	// refuse the write: that conflict is recorded (postgres_kept) and the change stays kept.
	if judged, err := pj.judged(ctx, tx, ch.ID, &ch.SFStamp); err != nil || judged {
		return keep, err
	}
	return pj.settleFailed(ctx, tx, ch, cf, keep)
}

// settleFailed decides a failed change's conflict by the policy and records it: set aside when
// Salesforce's version wins, held for an admin (manual), or kept, its conflict then postgres_kept
// until a retry of its row is written (nothing reached Salesforce yet).
func (pj pollJudge) settleFailed(ctx context.Context, tx pgx.Tx, ch apply.WaitingChange, cf *conflict.Conflict, keep apply.Verdict) (apply.Verdict, error) {
	cf.Outcome = decide(pj.policy, ch.CapturedAt, ch.SFStamp)
	keep.Keep = cf.Outcome != conflict.SalesforceWon
	why := "the record changed in Salesforce after this change was captured"
	if cf.Kind == conflict.InsertExisting {
		why = "Salesforce has a record with this external id"
	}
	switch cf.Outcome {
	case conflict.SalesforceWon:
		return keep, pj.settle(ctx, tx, ch, cf, triggerlog.Overrule,
			`{"message":"conflict: `+why+`; Salesforce's version is kept (policy `+string(cf.Policy)+`)"}`)
	case conflict.Held:
		keep.LastOp = "CONFLICT"
		return keep, pj.settle(ctx, tx, ch, cf, triggerlog.HoldFailed,
			`{"message":"conflict: `+why+`; held until an admin keeps one side"}`)
	}
	// Kept over Salesforce's version: a retry sends the row, which kept the change; later polls
	// judge it against this version.
	cf.Outcome = conflict.PostgresKept
	if err := conflict.Insert(ctx, tx, []conflict.Conflict{*cf}); err != nil {
		return keep, err
	}
	old := map[string]*string{}
	for col := range ch.Values {
		old[col] = ch.SFValues[col]
	}
	if s, ok := ch.SFValues["systemmodstamp"]; ok {
		old["systemmodstamp"] = s
	}
	return keep, triggerlog.RebaseFailed(ctx, tx, pj.c.Schema, ch.ID, old)
}

// settle records a failed change's conflict and makes t on it.
func (pj pollJudge) settle(ctx context.Context, tx pgx.Tx, ch apply.WaitingChange, cf *conflict.Conflict, t triggerlog.Transition, message string) error {
	done, err := triggerlog.SettleFailed(ctx, tx, pj.c.Schema, ch.ID, t, message)
	if err != nil || !done {
		return err // resent or dismissed meanwhile: an admin acted on it
	}
	return conflict.Insert(ctx, tx, []conflict.Conflict{*cf})
}

// judged reports whether a conflict of the change was recorded already against Salesforce's version
// stamped at or after since (nil: any version). A failed insert kept over Salesforce's version stays
// different from it until a retry sends it; a failed update the writer judged, kept and then saw
// refused was judged against the version a poll meets next.
func (pj pollJudge) judged(ctx context.Context, tx pgx.Tx, logID int64, since *time.Time) (bool, error) {
	var found bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM conflicts WHERE connection_id = $1 AND trigger_log_id = $2
		AND ($3::timestamptz IS NULL OR sf_modified_at >= $3))`, pj.c.ID, logID, since).Scan(&found); err != nil {
		return false, fmt.Errorf("look for the conflict of write %d: %w", logID, err)
	}
	return found, nil
}

// value is a column's text as the writer would send it (the text when it does not convert).
func (pj pollJudge) value(f table.Field, v *string) any {
	val, err := sfValue(mapping.Field{Name: f.Name, Type: f.Type}, v)
	if err != nil {
		return *v
	}
	b, _ := json.Marshal(val)
	return decodeRaw(b)
}

// ownWrite is when pgforce last wrote the record's row to Salesforce, by the trigger log.
func (pj pollJudge) ownWrite(ctx context.Context, tx pgx.Tx, rec int64) (time.Time, error) {
	var at *time.Time
	err := tx.QueryRow(ctx, `SELECT max(updated_at) FROM `+table.Ident(pj.c.Schema, "_trigger_log")+`
		WHERE table_name = $1 AND record_id = $2 AND state = $3`, pj.m.Table, rec, string(triggerlog.Success)).Scan(&at)
	if err != nil {
		return time.Time{}, fmt.Errorf("read pgforce's own writes: %w", err)
	}
	if at == nil {
		return time.Time{}, nil
	}
	return *at, nil
}

// pollBaseline is the SystemModstamp the row held when the change was captured (its capture time
// when unknown), as the writer's baseline.
func pollBaseline(ch apply.WaitingChange) time.Time {
	if v := ch.Old["systemmodstamp"]; v != nil {
		if t, ok := parseStamp(*v); ok {
			return t
		}
	}
	return ch.CapturedAt
}

func isSystemColumn(col string) bool {
	switch col {
	case "sfid", "id", "systemmodstamp", "isdeleted", "createddate", "createdbyid", "lastmodifieddate", "lastmodifiedbyid":
		return true
	}
	return false
}
