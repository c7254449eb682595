package apply

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/sync/engine/table"
)

// A poll can bring a newer Salesforce version of a record whose row holds an application's change
// not yet written to Salesforce (captured, claimed, held or failed). Taking Salesforce's values
// whole would show them until the writer, by the mapping's conflict policy, keeps the Postgres change
// (the row flips back), and a retry of a failed change would send them instead of the application's.
// So a merge given Waiting lists such changes, lets the caller judge each by the policy (Judge), and
// keeps in the row the columns of the changes judged kept: only the fields a change touched keep
// their Postgres values, the others take Salesforce's; a row whose delete is kept is not recreated.

// Waiting is how a merge treats rows with changes still to be written (nil: the caller resolves them
// itself, as the writer taking Salesforce's version does).
type Waiting struct {
	Schema string // the connection's schema, where the trigger log is
	Table  string // the table's name in the trigger log
	// MappingID lists the rows kept back from leaving the table while changes of them wait
	// (departures.go).
	MappingID int64
	// Judge decides, in the merge's transaction, which of the changes keep their row's Postgres side.
	Judge func(ctx context.Context, tx pgx.Tx, changes []WaitingChange) ([]Verdict, error)
}

// WaitingChange is a change still to be written of a record the batch brings, with the batch's
// version of the record.
type WaitingChange struct {
	ID         int64
	State      string
	Action     string
	RecordID   int64
	SFID       string
	CapturedAt time.Time
	Values     map[string]*string // column → captured new value
	Old        map[string]*string
	// The batch's version of the record.
	SFStamp   time.Time
	SFDeleted bool
	SFValues  map[string]*string // column → value, as the row would hold it
	// Differs: Salesforce's version holds, in a field the change touched, a value other than both
	// sides of the change (an insert: other than the row's).
	Differs bool
}

// Verdict is a judged change: Keep keeps its Postgres side in the row (the fields it touched; for a
// delete, the row's absence); LastOp, when set, is the row's _hc_lastop after the merge.
type Verdict struct {
	ID     int64
	Keep   bool
	LastOp string
}

// waitingStates are the trigger-log states of changes whose Postgres side is not in Salesforce yet.
var waitingStates = []string{"NEW", "REQUEUE", "PENDING", "FAILED", "CONFLICT"}

// keepTable lists, during a merge, the rows that keep Postgres values: their columns kept, the
// _hc_lastop and _hc_err they keep, or absent for a kept delete (dropped at commit).
var keepTable = table.Ident("pgforce_keep")

// systemColumn is a column no application change is sent from.
func systemColumn(col string) bool {
	switch col {
	case "sfid", "id", "systemmodstamp", "isdeleted", "createddate", "createdbyid", "lastmodifieddate", "lastmodifiedbyid", "_hc_lastop", "_hc_err":
		return true
	}
	return false
}

// judgeWaiting lists the waiting changes of the staged records, has them judged, and fills the keep
// table with the kept ones. It reports whether any row keeps something.
func judgeWaiting(ctx context.Context, tx pgx.Tx, t Target) (bool, error) {
	w := t.Waiting
	log := table.Ident(w.Schema, "_trigger_log")
	var differs []string
	for _, f := range t.Fields {
		col := table.Column(f.Name)
		if systemColumn(col) || strings.Contains(f.Name, ".") {
			continue // a parent by external id is a relationship, which the writer does not compare
		}
		typ, err := table.ColumnType(f)
		if err != nil {
			return false, err
		}
		c := table.Ident(col)
		differs = append(differs, fmt.Sprintf(`(CASE WHEN l.action = 'INSERT'
				THEN l."values" -> %[1]s IS NOT NULL AND s.%[2]s IS DISTINCT FROM (l."values" -> %[1]s)::%[3]s
				ELSE l."values" ? %[1]s AND s.%[2]s IS DISTINCT FROM (l.old -> %[1]s)::%[3]s AND s.%[2]s IS DISTINCT FROM (l."values" -> %[1]s)::%[3]s END)`,
			literal(col), c, typ))
	}
	differ := "FALSE"
	if len(differs) > 0 {
		differ = "COALESCE(" + strings.Join(differs, " OR ") + ", FALSE)"
	}
	stamp, deleted := "NULL::timestamptz", "FALSE"
	if t.has("systemmodstamp") {
		stamp = "s.systemmodstamp"
	}
	if t.has("isdeleted") {
		deleted = "COALESCE(s.isdeleted, FALSE)"
	}
	// Most batches bring no record with a change waiting, and a backlog's thousands of waiting
	// changes are not read for them: the rows are found first (a row with a change waiting says so in
	// _hc_lastop), and the log is read only for them and, when the batch has live records without a
	// row, for waiting deletes.
	waitingRows, err := rowsWaiting(ctx, tx, t)
	if err != nil {
		return false, err
	}
	var rowless bool
	live := "TRUE"
	if t.has("isdeleted") {
		live = "NOT COALESCE(s.isdeleted, FALSE)"
	}
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+stageTable+` AS s WHERE `+live+`
		AND NOT EXISTS (SELECT 1 FROM `+t.Table()+` AS t WHERE t.sfid = s.sfid))`).Scan(&rowless); err != nil {
		return false, fmt.Errorf("look for new records of %s: %w", t.Table(), err)
	}
	if len(waitingRows) == 0 && !rowless {
		return false, nil
	}
	// Updates and inserts are found by their row (an update captured before the row's insert was
	// written has no sfid), deletes by their record; captured and claimed changes through the log's
	// index of waiting changes by row.
	query := func(differ string) string {
		sel := `l.id, l.state, l.action, COALESCE(l.record_id, 0), s.sfid, COALESCE(l.created_at, now()),
			hstore_to_jsonb(l."values"), hstore_to_jsonb(l.old), ` + stamp + `, ` + deleted + `, hstore_to_jsonb(hstore(s.*)), ` + differ
		byRow := `SELECT ` + sel + ` FROM ` + log + ` AS l
			JOIN ` + t.Table() + ` AS t ON t.id = l.record_id JOIN ` + stageTable + ` AS s ON s.sfid = t.sfid
			WHERE l.table_name = $1 AND l.record_id = ANY($2) AND l.action <> 'DELETE' AND `
		return byRow + `l.state IN ('NEW', 'PENDING')
		UNION ALL ` + byRow + `l.state IN ('REQUEUE', 'FAILED', 'CONFLICT')
		UNION ALL SELECT ` + sel + ` FROM ` + log + ` AS l JOIN ` + stageTable + ` AS s ON s.sfid = l.sfid
			WHERE $3 AND l.table_name = $1 AND l.state = ANY($4) AND l.action = 'DELETE'
		ORDER BY 1`
	}
	args := []any{w.Table, waitingRows, rowless, waitingStates}
	var changes []WaitingChange
	err = pgx.BeginFunc(ctx, tx, func(sp pgx.Tx) (err error) {
		changes, err = readWaiting(ctx, sp, query(differ), args)
		return err
	})
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "22") {
		// A value captured before its column's type changed does not read as the column's type: no
		// change is then found to differ from Salesforce's version (each is kept, and the writer
		// judges it by Salesforce's values when it sends it).
		changes, err = readWaiting(ctx, tx, query("FALSE"), args)
	}
	if err != nil {
		return false, fmt.Errorf("read the waiting changes of %s records: %w", t.Table(), err)
	}
	if len(changes) == 0 {
		return false, nil
	}
	verdicts, err := w.Judge(ctx, tx, changes)
	if err != nil {
		return false, err
	}
	byID := map[int64]WaitingChange{}
	for _, c := range changes {
		byID[c.ID] = c
	}
	type kept struct {
		rec    int64
		cols   map[string]bool
		lastop string
		absent bool
	}
	keep := map[string]*kept{} // by sfid
	for _, v := range verdicts {
		c, ok := byID[v.ID]
		if !ok || !v.Keep || c.SFDeleted {
			continue // a record deleted in Salesforce: the delete stands whatever the change
		}
		k := keep[c.SFID]
		if k == nil {
			k = &kept{rec: c.RecordID, cols: map[string]bool{}}
			keep[c.SFID] = k
		}
		if v.LastOp != "" {
			k.lastop = v.LastOp
		}
		switch c.Action {
		case "DELETE":
			k.absent = true
		default:
			for col, val := range c.Values {
				if !systemColumn(col) && (c.Action == "UPDATE" || val != nil) {
					k.cols[col] = true
				}
			}
		}
	}
	if len(keep) == 0 {
		return false, nil
	}
	var sfids, lastops []string
	var recs []int64
	var absent []bool
	var cols []string // JSON arrays, one per row
	for sfid, k := range keep {
		list := make([]string, 0, len(k.cols))
		for c := range k.cols {
			list = append(list, c)
		}
		b, _ := json.Marshal(list)
		sfids, recs, lastops, absent, cols = append(sfids, sfid), append(recs, k.rec), append(lastops, k.lastop), append(absent, k.absent), append(cols, string(b))
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE `+keepTable+` ON COMMIT DROP AS
		SELECT k.sfid, k.rec, ARRAY(SELECT jsonb_array_elements_text(k.cols::jsonb)) AS cols, k.absent,
			COALESCE(NULLIF(k.lastop, ''), t._hc_lastop) AS lastop, t._hc_err AS err
		FROM unnest($1::text[], $2::int[], $3::text[], $4::bool[], $5::text[]) AS k(sfid, rec, cols, absent, lastop)
		LEFT JOIN `+t.Table()+` AS t ON t.id = k.rec`, sfids, recs, cols, absent, lastops); err != nil {
		return false, fmt.Errorf("list the rows of %s keeping Postgres changes: %w", t.Table(), err)
	}
	// The staged versions of those rows take the row's values of the kept columns, so the upsert
	// writes Salesforce's other fields around them.
	var sets []string
	for _, f := range t.Fields {
		col := table.Column(f.Name)
		if systemColumn(col) {
			continue
		}
		c := table.Ident(col)
		sets = append(sets, fmt.Sprintf(`%[1]s = CASE WHEN %[2]s = ANY(k.cols) THEN t.%[1]s ELSE s.%[1]s END`, c, literal(col)))
	}
	if len(sets) > 0 {
		if _, err := tx.Exec(ctx, `UPDATE `+stageTable+` AS s SET `+strings.Join(sets, ", ")+`
			FROM `+keepTable+` AS k JOIN `+t.Table()+` AS t ON t.id = k.rec WHERE s.sfid = k.sfid AND NOT k.absent`); err != nil {
			return false, fmt.Errorf("keep the Postgres changes of %s rows: %w", t.Table(), err)
		}
	}
	return true, nil
}

// readWaiting runs the query of waiting changes.
func readWaiting(ctx context.Context, tx pgx.Tx, sql string, args []any) ([]WaitingChange, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (WaitingChange, error) {
		var c WaitingChange
		var values, old, sf []byte
		var stamp *time.Time
		if err := r.Scan(&c.ID, &c.State, &c.Action, &c.RecordID, &c.SFID, &c.CapturedAt, &values, &old, &stamp, &c.SFDeleted, &sf, &c.Differs); err != nil {
			return c, err
		}
		if stamp != nil {
			c.SFStamp = *stamp
		}
		for _, m := range []struct {
			raw []byte
			to  *map[string]*string
		}{{values, &c.Values}, {old, &c.Old}, {sf, &c.SFValues}} {
			if m.raw != nil {
				if err := json.Unmarshal(m.raw, m.to); err != nil {
					return c, err
				}
			}
		}
		return c, nil
	})
}

// rowsWaiting returns the ids of the rows of the batch's records that hold a change not yet written
// (or held, or failed).
func rowsWaiting(ctx context.Context, tx pgx.Tx, t Target) ([]int64, error) {
	rows, err := tx.Query(ctx, `SELECT t.id FROM `+stageTable+` AS s JOIN `+t.Table()+` AS t ON t.sfid = s.sfid
		WHERE t._hc_lastop IN ('PENDING', 'FAILED', 'CONFLICT')`)
	if err != nil {
		return nil, fmt.Errorf("find the rows of %s with changes waiting: %w", t.Table(), err)
	}
	recs, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("find the rows of %s with changes waiting: %w", t.Table(), err)
	}
	return recs, nil
}

// restoreKept gives the rows that kept Postgres changes back the state the merge overwrote: they
// still wait to be written (or are held, or failed).
func restoreKept(ctx context.Context, tx pgx.Tx, t Target) error {
	if _, err := tx.Exec(ctx, `UPDATE `+t.Table()+` AS t SET _hc_lastop = k.lastop, _hc_err = k.err
		FROM `+keepTable+` AS k WHERE t.id = k.rec AND NOT k.absent AND (t._hc_lastop, t._hc_err) IS DISTINCT FROM (k.lastop, k.err)`); err != nil {
		return fmt.Errorf("keep the state of %s rows with changes waiting: %w", t.Table(), err)
	}
	return nil
}

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
