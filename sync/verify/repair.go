package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/table"
	"pgforce/sync/triggerlog"
)

// Repair fixes a verification's findings: it fetches their records by Id (deleted ones included) and
// applies them exactly as a poll does — missing and stale rows are upserted, rows of deleted records
// removed, all as pgforce's own writes, so nothing echoes back to Salesforce. A row whose record
// Salesforce no longer returns (gone, or outside the filter) is removed. Records with writes waiting
// for Salesforce are left alone: the write decides. The caller serialises Repair with the table's
// polls and writes.
func Repair(ctx context.Context, env Env, tbl Table, id int64, holder string) (int64, error) {
	if err := claim(ctx, env.Pool, id, StartRepair, holder); err != nil {
		return 0, err
	}
	progress := progressOf(env, id, Repairing)
	var done int64
	for {
		rows, err := env.Pool.Query(ctx, `SELECT sfid FROM verification_findings WHERE verification_id = $1 AND NOT repaired
			ORDER BY sfid LIMIT $2`, id, idsPerQuery)
		if err == nil {
			var ids []string
			if ids, err = pgx.CollectRows(rows, pgx.RowTo[string]); err == nil && len(ids) == 0 {
				break
			} else if err == nil {
				err = repairChunk(ctx, env, tbl, id, ids)
				done += int64(len(ids))
				progress(fmt.Sprintf("repaired %d records", done))
			}
		}
		if err != nil {
			return done, stop(ctx, env, id, RequeueRepair, FailRepair, fmt.Errorf("repair: %w", err))
		}
	}
	if err := Apply(ctx, env.Pool, id, FinishRepair, fmt.Sprintf("fetched %d records again from Salesforce", done)); err != nil {
		return done, err
	}
	return done, nil
}

func repairChunk(ctx context.Context, env Env, tbl Table, id int64, ids []string) error {
	var recs []map[string]json.RawMessage
	if asked := wellFormedIDs(ids); len(asked) > 0 {
		soql := "SELECT " + tbl.Target.SelectList() + " FROM " + tbl.Target.Object + tbl.where("Id IN ("+quotedIDs(asked)+")")
		if _, err := env.SF.Query(ctx, soql, tbl.HasDeleted, func(rec map[string]json.RawMessage) error {
			recs = append(recs, rec)
			return nil
		}); err != nil {
			return fmt.Errorf("fetch %s records by Id: %w", tbl.Target.Object, err)
		}
	}
	tx, err := env.Pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if env.Fence != nil {
		if err := env.Fence(ctx, tx); err != nil {
			return err
		}
	}
	if err := apply.AsSync(ctx, tx); err != nil {
		return err
	}
	waiting, err := triggerlog.WaitingRecords(ctx, tx, tbl.Target.Schema, tbl.name(), ids)
	if err != nil {
		return err
	}
	skip := map[string]bool{}
	for _, s := range waiting {
		skip[s] = true
	}
	returned := map[string]bool{}
	var fetched []map[string]json.RawMessage
	for _, rec := range recs {
		var sfid string
		_ = json.Unmarshal(rec["Id"], &sfid)
		returned[sfid] = true
		if !skip[sfid] {
			fetched = append(fetched, rec)
		}
	}
	pr, pw := io.Pipe()
	go func() {
		enc := apply.NewRecordEncoder(tbl.Target, pw)
		var err error
		for _, rec := range fetched {
			if err = enc.Encode(rec); err != nil {
				break
			}
		}
		if err == nil {
			err = enc.Flush()
		}
		pw.CloseWithError(err)
	}()
	if _, err := apply.Merge(ctx, tx, tbl.Target, pr); err != nil {
		pr.CloseWithError(err)
		return err
	}
	var gone []string
	for _, s := range ids {
		if !returned[s] && !skip[s] {
			gone = append(gone, s)
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+table.Ident(tbl.Target.Schema, tbl.name())+` WHERE sfid = ANY($1)`, gone); err != nil {
		return fmt.Errorf("remove rows of records gone from Salesforce: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE verification_findings SET repaired = true WHERE verification_id = $1 AND sfid = ANY($2)`, id, ids); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE verifications SET repaired = repaired + $2 WHERE id = $1`, id, len(ids)-len(waiting)); err != nil {
		return err
	}
	return tx.Commit(ctx)
}
