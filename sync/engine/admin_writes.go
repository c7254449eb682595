package engine

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// failedWrite loads a FAILED trigger-log row (live log or archive) of a connection.
func failedWrite(ctx context.Context, tx pgx.Tx, c connection.Connection, logID int64) (tableName, action string, recordID int64, archived bool, err error) {
	for _, t := range []string{"_trigger_log", "_trigger_log_archive"} {
		var state string
		err = tx.QueryRow(ctx, `SELECT table_name, action, record_id, state FROM `+table.Ident(c.Schema, t)+` WHERE id = $1 FOR UPDATE`, logID).
			Scan(&tableName, &action, &recordID, &state)
		if err == pgx.ErrNoRows {
			continue
		}
		if err != nil {
			return
		}
		if triggerlog.State(state) != triggerlog.Failed {
			err = failure.E(failure.Conflict, "Write %d is %s, not FAILED.", logID, state)
		}
		archived = t == "_trigger_log_archive"
		return
	}
	err = failure.E(failure.NotFound, "write %d not found", logID)
	return
}

// RetryWrite sends a failed write again, Heroku Connect's way: the row's current values are captured
// anew (hc_capture_insert_from_row when it never reached Salesforce, hc_capture_update_from_row when it
// did) and the failed entry is marked REQUEUED. Fix the row first if Salesforce refused its values.
func (e *Engine) RetryWrite(ctx context.Context, actor audit.Actor, connID, logID int64) error {
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return err
		}
		tname, action, recordID, archived, err := failedWrite(ctx, tx, c, logID)
		if err != nil {
			return err
		}
		if action == string(triggerlog.Delete) {
			_, err = tx.Exec(ctx, `INSERT INTO `+table.Ident(c.Schema, "_trigger_log")+` (action, table_name, txid, created_at, state, record_id, sfid, old)
				SELECT action, table_name, txid_current(), clock_timestamp(), 'NEW', record_id, sfid, old FROM `+
				table.Ident(c.Schema, map[bool]string{true: "_trigger_log_archive", false: "_trigger_log"}[archived])+` WHERE id = $1`, logID)
		} else {
			fn := "hc_capture_update_from_row"
			var sfid *string
			if err := tx.QueryRow(ctx, `SELECT sfid FROM `+table.Ident(c.Schema, tname)+` WHERE id = $1`, recordID).Scan(&sfid); err != nil {
				return failure.E(failure.Conflict, "The row (%s id %d) no longer exists; there is nothing to retry.", tname, recordID)
			}
			if sfid == nil {
				fn = "hc_capture_insert_from_row"
			}
			_, err = tx.Exec(ctx, `SELECT `+table.Ident(c.Schema, fn)+`(hstore(t.*), $2) FROM `+table.Ident(c.Schema, tname)+` t WHERE t.id = $1`, recordID, tname)
		}
		if err != nil {
			return fmt.Errorf("requeue write %d: %w", logID, err)
		}
		src := table.Ident(c.Schema, map[bool]string{true: "_trigger_log_archive", false: "_trigger_log"}[archived])
		if _, err := tx.Exec(ctx, `UPDATE `+src+` SET state = 'REQUEUED', updated_at = now() WHERE id = $1`, logID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.WriteRetry,
			Target: fmt.Sprintf("%s id %d (write %d)", tname, recordID, logID)}); err != nil {
			return err
		}
		return notify(ctx, tx, connID, 0)
	})
}

// IgnoreWrite dismisses a failed write (FAILED → IGNORED); the row keeps its values in Postgres.
func (e *Engine) IgnoreWrite(ctx context.Context, actor audit.Actor, connID, logID int64) error {
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return err
		}
		tname, _, recordID, archived, err := failedWrite(ctx, tx, c, logID)
		if err != nil {
			return err
		}
		src := table.Ident(c.Schema, map[bool]string{true: "_trigger_log_archive", false: "_trigger_log"}[archived])
		if _, err := tx.Exec(ctx, `UPDATE `+src+` SET state = 'IGNORED', updated_at = now() WHERE id = $1 AND state = 'FAILED'`, logID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.WriteIgnore,
			Target: fmt.Sprintf("%s id %d (write %d)", tname, recordID, logID)})
	})
}
