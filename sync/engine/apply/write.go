package apply

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/table"
	"pgforce/sync/triggerlog"
)

// AsSync marks the transaction as pgforce's own writes: the capture and status triggers skip them.
func AsSync(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, triggerlog.SyncOriginSetting); err != nil {
		return fmt.Errorf("mark sync session: %w", err)
	}
	return nil
}

// Copy streams CSV rows (header when header is true) into the table. Use it for loads into an empty
// (or truncated) table; the caller's transaction must be marked with AsSync.
func Copy(ctx context.Context, tx pgx.Tx, t Target, csvRows io.Reader, header bool) (int64, error) {
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, stripNUL{csvRows}, t.copySQL(t.Table(), header))
	if err != nil {
		return 0, fmt.Errorf("copy into %s: %w", t.Table(), err)
	}
	return tag.RowsAffected(), nil
}

// Result counts what a merge did.
type Result struct {
	Upserted int64      // rows inserted or changed
	Deleted  int64      // rows removed because the record was deleted in Salesforce
	Adopted  int64      // rows inserted in Postgres matched to their record by external id
	Deferred int64      // rows of gone records kept back while changes of them wait (Refresh)
	MaxStamp *time.Time // latest SystemModstamp in the batch
	MaxID    string     // Id of the record with that stamp (largest, for ties)
}

// Merge applies a batch of changed records (CSV rows without header, in field order) to the table:
// deleted records (IsDeleted) remove their rows, others are upserted by sfid; a record already present
// with the same SystemModstamp and values is left untouched, so re-reading an overlap window costs no writes.
func Merge(ctx context.Context, tx pgx.Tx, t Target, csvRows io.Reader) (Result, error) {
	return merge(ctx, tx, t, csvRows, false)
}

// Refresh applies records read by id because a gap event named them (Salesforce changed them in its
// database): like Merge, but every record is written even when its SystemModstamp did not move, as
// such a change keeps it, and the rows of gone ids that Salesforce no longer returns at all (deleted
// and purged) are deleted.
// With t.Waiting, the rows of gone ids holding a change not yet written are kept back instead
// (departures.go), counted in Deferred.
func Refresh(ctx context.Context, tx pgx.Tx, t Target, csvRows io.Reader, gone []string) (Result, error) {
	res, err := merge(ctx, tx, t, csvRows, true)
	if err != nil || len(gone) == 0 {
		return res, err
	}
	leaving := `FROM ` + t.Table() + ` AS t WHERE t.sfid = ANY($2) AND NOT EXISTS (SELECT 1 FROM ` + stageTable + ` AS s WHERE s.sfid = t.sfid)`
	kept := ""
	if t.Waiting != nil {
		if res.Deferred, err = deferWaiting(ctx, tx, t.Waiting.MappingID, `SELECT t.sfid `+leaving+` AND `+waitsRow(t), gone); err != nil {
			return res, err
		}
		kept = ` AND NOT ` + waitsRow(t)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM `+t.Table()+` AS t WHERE t.sfid = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM `+stageTable+` AS s WHERE s.sfid = t.sfid)`+kept, gone)
	if err != nil {
		return res, fmt.Errorf("apply deletes to %s: %w", t.Table(), err)
	}
	res.Deleted += tag.RowsAffected()
	return res, nil
}

// stageTable holds a batch of changed records during a merge (dropped at commit).
var stageTable = table.Ident("pgforce_stage")

func merge(ctx context.Context, tx pgx.Tx, t Target, csvRows io.Reader, force bool) (Result, error) {
	var res Result
	stage := stageTable
	var defs []string
	for _, f := range t.Fields {
		typ, err := table.ColumnType(f)
		if err != nil {
			return res, err
		}
		defs = append(defs, table.Ident(table.Column(f.Name))+" "+typ)
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" ("+strings.Join(defs, ", ")+") ON COMMIT DROP"); err != nil {
		return res, fmt.Errorf("create staging table: %w", err)
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, stripNUL{csvRows}, t.copySQL(stage, false)); err != nil {
		return res, fmt.Errorf("stage changes for %s: %w", t.Table(), err)
	}
	hasDeleted, hasStamp := t.has("isdeleted"), t.has("systemmodstamp")
	live := "TRUE"
	if hasDeleted {
		live = "NOT COALESCE(s.isdeleted, FALSE)"
	}
	if hasStamp {
		err := tx.QueryRow(ctx, `SELECT systemmodstamp, sfid FROM `+stage+` ORDER BY systemmodstamp DESC NULLS LAST, sfid DESC LIMIT 1`).
			Scan(&res.MaxStamp, &res.MaxID)
		if err != nil && err != pgx.ErrNoRows {
			return res, fmt.Errorf("read batch watermark: %w", err)
		}
	}
	if t.UpsertField != "" {
		ext := table.Ident(table.Column(t.UpsertField))
		tag, err := tx.Exec(ctx, `UPDATE `+t.Table()+` AS t SET sfid = s.sfid FROM `+stage+` AS s
			WHERE t.sfid IS NULL AND s.`+ext+` IS NOT NULL AND t.`+ext+` = s.`+ext+` AND `+live+`
			AND NOT EXISTS (SELECT 1 FROM `+t.Table()+` x WHERE x.sfid = s.sfid)`)
		if err != nil {
			return res, fmt.Errorf("match rows by %s: %w", t.UpsertField, err)
		}
		res.Adopted = tag.RowsAffected()
	}
	kept := false
	if t.Waiting != nil {
		var err error
		if kept, err = judgeWaiting(ctx, tx, t); err != nil {
			return res, err
		}
	}
	if hasDeleted {
		tag, err := tx.Exec(ctx, `DELETE FROM `+t.Table()+` AS t USING `+stage+` AS s WHERE s.isdeleted AND t.sfid = s.sfid`)
		if err != nil {
			return res, fmt.Errorf("apply deletes to %s: %w", t.Table(), err)
		}
		res.Deleted = tag.RowsAffected()
	}
	cols := t.columns()
	var sets []string
	for _, c := range cols {
		if c != `"sfid"` {
			sets = append(sets, c+" = EXCLUDED."+c)
		}
	}
	sets = append(sets, `_hc_lastop = 'SYNCED'`, `_hc_err = NULL`)
	changed := "TRUE"
	if hasStamp && !force {
		// Salesforce stamps whole seconds, so a record changed twice within a second keeps its
		// SystemModstamp: a row with the same stamp is rewritten when its values differ, unless it
		// holds an application's change not written to Salesforce yet (PENDING, FAILED).
		changed = `t.systemmodstamp IS DISTINCT FROM EXCLUDED.systemmodstamp OR (t._hc_lastop IN ('SYNCED', 'INSERTED', 'UPDATED')
			AND ROW(` + strings.Join(prefixed("t.", cols), ", ") + `) IS DISTINCT FROM ROW(` + strings.Join(prefixed("EXCLUDED.", cols), ", ") + `))`
	}
	if kept {
		// A row whose delete waits to be written is not made again.
		live += ` AND NOT EXISTS (SELECT 1 FROM ` + keepTable + ` AS k WHERE k.absent AND k.sfid = s.sfid)`
	}
	tag, err := tx.Exec(ctx, `INSERT INTO `+t.Table()+` AS t (`+strings.Join(cols, ", ")+`)
		SELECT `+strings.Join(prefixed("s.", cols), ", ")+` FROM `+stage+` AS s WHERE `+live+`
		ON CONFLICT (sfid) DO UPDATE SET `+strings.Join(sets, ", ")+` WHERE `+changed)
	if err != nil {
		return res, fmt.Errorf("upsert into %s: %w", t.Table(), err)
	}
	res.Upserted = tag.RowsAffected()
	if kept {
		if err := restoreKept(ctx, tx, t); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Backfill sets only the listed fields of existing rows from CSV rows (sfid first, then the fields),
// for the values of columns added by an edit.
func Backfill(ctx context.Context, tx pgx.Tx, t Target, csvRows io.Reader) (int64, error) {
	stage := table.Ident("pgforce_backfill")
	var defs []string
	for _, f := range t.Fields {
		typ, err := table.ColumnType(f)
		if err != nil {
			return 0, err
		}
		defs = append(defs, table.Ident(table.Column(f.Name))+" "+typ)
	}
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+stage+" ("+strings.Join(defs, ", ")+") ON COMMIT DROP"); err != nil {
		return 0, fmt.Errorf("create backfill table: %w", err)
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, stripNUL{csvRows}, t.copySQL(stage, false)); err != nil {
		return 0, fmt.Errorf("stage backfill for %s: %w", t.Table(), err)
	}
	var sets []string
	for _, c := range t.columns() {
		if c != `"sfid"` {
			sets = append(sets, c+" = s."+c)
		}
	}
	tag, err := tx.Exec(ctx, `UPDATE `+t.Table()+` AS t SET `+strings.Join(sets, ", ")+` FROM `+stage+` AS s WHERE t.sfid = s.sfid`)
	if err != nil {
		return 0, fmt.Errorf("backfill %s: %w", t.Table(), err)
	}
	return tag.RowsAffected(), nil
}

func prefixed(p string, cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = p + c
	}
	return out
}

// changedTable holds the Id and SystemModstamp of every record a filtered mapping's poll window
// changed, matching the filter or not (dropped at commit).
var changedTable = table.Ident("pgforce_changed")

// StageChanged stages CSV rows of t's two fields, Id and SystemModstamp, of every record changed in
// a poll's window whether or not it matches the mapping's record filter, read before the filtered
// changes are merged; DeleteLeft then removes the records that left the filter. It returns the latest
// stamp staged.
func StageChanged(ctx context.Context, tx pgx.Tx, t Target, csvRows io.Reader) (*time.Time, error) {
	if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+changedTable+" (sfid varchar(18), systemmodstamp timestamptz) ON COMMIT DROP"); err != nil {
		return nil, fmt.Errorf("create the table of changed records: %w", err)
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, stripNUL{csvRows}, t.copySQL(changedTable, false)); err != nil {
		return nil, fmt.Errorf("stage changed records of %s: %w", t.Table(), err)
	}
	var max *time.Time
	if err := tx.QueryRow(ctx, `SELECT max(systemmodstamp) FROM `+changedTable).Scan(&max); err != nil {
		return nil, fmt.Errorf("read the latest change: %w", err)
	}
	return max, nil
}

// DeleteLeft deletes, after the filtered changes were merged (Merge, in the same transaction), the
// rows of records staged by StageChanged that the filtered read did not return: read after them, it
// found them no longer matching the filter (or deleted without matching it). Stamps are not compared:
// Salesforce stamps whole seconds, so a record changed within the second it was polled keeps its
// stamp. With t.Waiting, rows holding a change not yet written are kept back (departures.go).
func DeleteLeft(ctx context.Context, tx pgx.Tx, t Target) (Left, error) {
	var out Left
	leaving := `FROM ` + t.Table() + ` AS t JOIN ` + changedTable + ` AS c ON t.sfid = c.sfid
		WHERE NOT EXISTS (SELECT 1 FROM ` + stageTable + ` AS s WHERE s.sfid = c.sfid)`
	kept := ""
	if t.Waiting != nil {
		var err error
		if out.Deferred, err = deferWaiting(ctx, tx, t.Waiting.MappingID, `SELECT t.sfid `+leaving+` AND `+waitsRow(t)); err != nil {
			return out, err
		}
		kept = ` AND NOT ` + waitsRow(t)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM `+t.Table()+` AS t USING `+changedTable+` AS c
		WHERE t.sfid = c.sfid AND NOT EXISTS (SELECT 1 FROM `+stageTable+` AS s WHERE s.sfid = c.sfid)`+kept)
	if err != nil {
		return out, fmt.Errorf("delete the rows of records that left the filter of %s: %w", t.Table(), err)
	}
	out.Deleted = tag.RowsAffected()
	return out, nil
}
