package apply

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/table"
)

// A row whose record leaves the table (it no longer matches the mapping's record filter, or a gap
// refresh finds it purged in Salesforce) while it holds an application's change not yet written is
// not deleted: the change would vanish unseen, as the writer skips a change whose row is gone. The
// row stays and its record is listed in departures until nothing of the row waits (the change
// written; or set aside by the policy, a conflict recorded; or dismissed by an admin); a later poll
// then asks Salesforce whether the record is still out and removes the row if so (Depart). A change
// that is written moves the record's SystemModstamp, so that poll finds it among its changes too.

// waitsRow is the condition of a row (t) with a change not yet written, held or failed: its
// _hc_lastop says so, and the trigger log holds such a change (a dismissed failure leaves the row's
// _hc_lastop FAILED).
func waitsRow(t Target) string {
	return `(COALESCE(t._hc_lastop IN ('PENDING', 'FAILED', 'CONFLICT'), FALSE) AND EXISTS (SELECT 1 FROM ` +
		table.Ident(t.Waiting.Schema, "_trigger_log") + ` AS l WHERE l.table_name = ` + literal(t.Waiting.Table) +
		` AND l.record_id = t.id AND l.state IN ('NEW', 'REQUEUE', 'PENDING', 'FAILED', 'CONFLICT')))`
}

// Left counts the rows of records that left the table in a merge: removed, or kept back while a
// change of theirs waits.
type Left struct {
	Deleted  int64
	Deferred int64
}

// deferWaiting lists in departures the records of the rows sel returns (sfid), for the mapping: it
// returns how many there are, listed before or not.
func deferWaiting(ctx context.Context, tx pgx.Tx, mappingID int64, sel string, args ...any) (int64, error) {
	var n int64
	args = append([]any{mappingID}, args...)
	if err := tx.QueryRow(ctx, `WITH d AS (`+sel+`),
		listed AS (INSERT INTO departures (mapping_id, sfid) SELECT $1, d.sfid FROM d ON CONFLICT (mapping_id, sfid) DO NOTHING)
		SELECT count(*) FROM d`, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("keep rows with changes waiting: %w", err)
	}
	return n, nil
}

// Departure is a record whose row was kept back from leaving the table; Waits: a change of the row
// is still not written.
type Departure struct {
	SFID  string
	Waits bool
}

// Departures lists a mapping's rows kept back from leaving the table, and forgets those whose row is
// gone meanwhile (it left with a later change of its record, or the application deleted it).
func Departures(ctx context.Context, tx pgx.Tx, t Target, mappingID int64) ([]Departure, error) {
	if _, err := tx.Exec(ctx, `DELETE FROM departures AS d WHERE d.mapping_id = $1
		AND NOT EXISTS (SELECT 1 FROM `+t.Table()+` AS t WHERE t.sfid = d.sfid)`, mappingID); err != nil {
		return nil, fmt.Errorf("forget the departed rows of %s that are gone: %w", t.Table(), err)
	}
	rows, err := tx.Query(ctx, `SELECT d.sfid, `+waitsRow(t)+` FROM departures AS d JOIN `+t.Table()+` AS t ON t.sfid = d.sfid
		WHERE d.mapping_id = $1 ORDER BY d.sfid`, mappingID)
	if err != nil {
		return nil, fmt.Errorf("list the rows of %s kept back from leaving: %w", t.Table(), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Departure, error) {
		var d Departure
		return d, r.Scan(&d.SFID, &d.Waits)
	})
	if err != nil {
		return nil, fmt.Errorf("list the rows of %s kept back from leaving: %w", t.Table(), err)
	}
	return out, nil
}

// Depart removes the rows of departed records (sfids) that no longer hold a change waiting, but for
// those Salesforce says are back (they match the filter again, or exist), and forgets them. The
// caller's transaction must be marked with AsSync. It returns how many rows went.
func Depart(ctx context.Context, tx pgx.Tx, t Target, mappingID int64, sfids, back []string) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM `+t.Table()+` AS t WHERE t.sfid = ANY($1) AND NOT t.sfid = ANY($2) AND NOT `+waitsRow(t), sfids, back)
	if err != nil {
		return 0, fmt.Errorf("remove the departed rows of %s: %w", t.Table(), err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM departures AS d WHERE d.mapping_id = $1 AND d.sfid = ANY($2)
		AND NOT EXISTS (SELECT 1 FROM `+t.Table()+` AS t WHERE t.sfid = d.sfid AND `+waitsRow(t)+`)`, mappingID, sfids); err != nil {
		return 0, fmt.Errorf("forget the departed rows of %s: %w", t.Table(), err)
	}
	return tag.RowsAffected(), nil
}
