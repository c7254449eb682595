package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/table"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// record stores the outcome of a batch in one transaction under the lease fence: each trigger-log
// row's state and Salesforce message, and on the table rows (as pgforce, so nothing is captured) the
// sfid of created records, _hc_lastop and _hc_err. Retriable rows go back to NEW.
func (w *writer) record(ctx context.Context, c connection.Connection, tables map[string]*writable, batch []*change) error {
	e := w.s.e
	tl := table.Ident(c.Schema, "_trigger_log")
	ctx = context.WithoutCancel(ctx) // the writes happened in Salesforce: always record them
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := e.leases.Check(ctx, tx, c.ID); err != nil {
			return err
		}
		if err := apply.AsSync(ctx, tx); err != nil {
			return err
		}
		var ids []int64
		var states, messages, sfids []string
		byTable := map[string][]*change{}
		var written, failed int64
		for _, ch := range batch {
			st := ch.state
			if ch.retry || st == "" {
				st = triggerlog.New
			}
			ids = append(ids, ch.id)
			states = append(states, string(st))
			messages = append(messages, ch.message)
			sfids = append(sfids, firstNonEmpty(ch.newSFID, ch.sfid))
			if ch.lastop != "" {
				byTable[ch.table] = append(byTable[ch.table], ch)
			}
			switch st {
			case triggerlog.Success:
				written++
			case triggerlog.Failed:
				failed++
			}
		}
		_, err := tx.Exec(ctx, `UPDATE `+tl+` t SET state = r.state, sf_message = NULLIF(r.message, ''),
			sfid = COALESCE(NULLIF(r.sfid, ''), t.sfid), updated_at = now(),
			processed_at = CASE WHEN r.state = 'NEW' THEN NULL ELSE now() END,
			processed_tx = CASE WHEN r.state = 'NEW' THEN NULL ELSE txid_current() END,
			sf_result = CASE r.state WHEN 'SUCCESS' THEN 1 WHEN 'FAILED' THEN 0 ELSE NULL END
			FROM unnest($1::int[], $2::text[], $3::text[], $4::text[]) AS r(id, state, message, sfid)
			WHERE t.id = r.id AND t.state = 'PENDING'`, ids, states, messages, sfids)
		if err != nil {
			return fmt.Errorf("record write results: %w", err)
		}
		for name, chs := range byTable {
			if err := markRows(ctx, tx, c.Schema, name, chs); err != nil {
				return err
			}
			if err := compensateVanished(ctx, tx, c.Schema, name, chs); err != nil {
				return err
			}
			if wt := tables[name]; wt != nil {
				var ok, bad int64
				for _, ch := range chs {
					if ch.state == triggerlog.Success {
						ok++
					} else if ch.state == triggerlog.Failed {
						bad++
					}
				}
				if err := addStats(ctx, tx, c.ID, wt.m.ID, "pg_to_sf", ok, bad, e.opts.Now()); err != nil {
					return err
				}
			}
		}
		if failed > 0 {
			w.log.Warn("Salesforce refused some writes", "failed", failed, "written", written)
		}
		return nil
	})
}

// markRows updates the table rows of a batch: sfid for inserts, and _hc_lastop/_hc_err unless a newer
// change of the row is already waiting (then it stays PENDING).
func markRows(ctx context.Context, tx pgx.Tx, schema, name string, chs []*change) error {
	var recIDs, logIDs []int64
	var lastops, errs, sfids []string
	for _, ch := range chs {
		if ch.action == triggerlog.Delete {
			continue // the row is gone
		}
		recIDs = append(recIDs, ch.recordID)
		logIDs = append(logIDs, ch.id)
		lastops = append(lastops, ch.lastop)
		errs = append(errs, map[bool]string{true: ch.message}[ch.state == triggerlog.Failed])
		sfids = append(sfids, ch.newSFID)
	}
	if len(recIDs) == 0 {
		return nil
	}
	tbl := table.Ident(schema, name)
	// A row already holding a new sfid can only be an echo of this very write read back before the
	// sfid was stored (another pgforce instance polling during a failover): the written row wins.
	if _, err := tx.Exec(ctx, `DELETE FROM `+tbl+` t USING unnest($1::int[], $2::text[]) AS r(rec, sfid)
		WHERE r.sfid <> '' AND t.sfid = r.sfid AND t.id <> r.rec`, recIDs, sfids); err != nil {
		return fmt.Errorf("remove echoed rows of %s: %w", name, err)
	}
	_, err := tx.Exec(ctx, `UPDATE `+tbl+` t SET
			sfid = CASE WHEN t.sfid IS NULL AND r.sfid <> '' THEN r.sfid ELSE t.sfid END,
			_hc_lastop = CASE WHEN newer.id IS NULL THEN r.lastop ELSE t._hc_lastop END,
			_hc_err = CASE WHEN newer.id IS NULL THEN NULLIF(r.err, '') ELSE t._hc_err END
		FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[]) AS r(rec, logid, lastop, err, sfid)
		LEFT JOIN LATERAL (SELECT l.id FROM `+table.Ident(schema, "_trigger_log")+` l
			WHERE l.table_name = $6 AND l.record_id = r.rec AND l.id > r.logid AND l.state IN ('NEW', 'PENDING') LIMIT 1) newer ON TRUE
		WHERE t.id = r.rec`, recIDs, logIDs, lastops, errs, sfids, name)
	if err != nil {
		return fmt.Errorf("mark rows of %s: %w", name, err)
	}
	return nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Trigger-log retention defaults: processed rows move to the archive after ArchiveAfter and are
// purged from it after the connection's retention (31 days by default, as Heroku Connect).
const DefaultArchiveAfter = 24 * time.Hour

// archive moves processed rows to _trigger_log_archive and purges old archived rows.
func (w *writer) archive(ctx context.Context) error {
	e := w.s.e
	c := w.s.currentConn()
	after := e.opts.ArchiveAfter
	if after <= 0 {
		after = DefaultArchiveAfter
	}
	tl, arch := table.Ident(c.Schema, "_trigger_log"), table.Ident(c.Schema, "_trigger_log_archive")
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		if err := e.leases.Check(ctx, tx, c.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `WITH moved AS (DELETE FROM `+tl+` WHERE state = ANY($1) AND COALESCE(processed_at, created_at) < now() - $2::interval RETURNING *)
			INSERT INTO `+arch+` SELECT * FROM moved ON CONFLICT (id) DO NOTHING`, terminalStates(), after); err != nil {
			return fmt.Errorf("archive trigger log: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+arch+` WHERE created_at < now() - make_interval(days => $1)`, c.RetentionDays); err != nil {
			return fmt.Errorf("purge trigger log archive: %w", err)
		}
		return nil
	})
}

func terminalStates() []string {
	var out []string
	for _, s := range []triggerlog.State{triggerlog.Success, triggerlog.Failed, triggerlog.Ignore, triggerlog.Ignored, triggerlog.Merged, triggerlog.ReadOnly, triggerlog.Requeued} {
		out = append(out, string(s))
	}
	return out
}

// pendingWrites counts changes waiting to be written to Salesforce on a connection.
func pendingWrites(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, c connection.Connection) (int, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT count(*) FROM `+table.Ident(c.Schema, "_trigger_log")+` WHERE state IN ('NEW', 'PENDING', 'REQUEUE')
		AND table_name IN (SELECT table_name FROM mappings WHERE connection_id = $1 AND config->>'access' = 'read_write')`, c.ID).Scan(&n)
	return n, err
}

// compensateVanished queues the deletion of records created for rows deleted while their insert was
// in flight, so Salesforce does not keep a record Postgres no longer has.
func compensateVanished(ctx context.Context, tx pgx.Tx, schema, name string, chs []*change) error {
	var recIDs []int64
	var sfids []string
	for _, ch := range chs {
		if ch.action == triggerlog.Insert && ch.state == triggerlog.Success && ch.newSFID != "" {
			recIDs, sfids = append(recIDs, ch.recordID), append(sfids, ch.newSFID)
		}
	}
	if len(recIDs) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+table.Ident(schema, "_trigger_log")+` (action, table_name, txid, created_at, state, record_id, sfid)
		SELECT 'DELETE', $1, txid_current(), clock_timestamp(), 'NEW', r.rec, r.sfid
		FROM unnest($2::int[], $3::text[]) AS r(rec, sfid)
		WHERE NOT EXISTS (SELECT 1 FROM `+table.Ident(schema, name)+` t WHERE t.id = r.rec)`, name, recIDs, sfids)
	if err != nil {
		return fmt.Errorf("queue deletes for vanished rows of %s: %w", name, err)
	}
	return nil
}
