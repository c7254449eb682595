package triggerlog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/sync/failure"
	"pgforce/sync/lifecycle"
)

// The SQL on a connection's trigger log: what the writer claims and records, and what admins resend
// or dismiss. Every change of a row's state is one of the named transitions, applied with a
// compare-and-set on the state.

// Execer is a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Querier is a pool or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// waitingStates are the states of changes still to be written to Salesforce.
var waitingStates = slices.DeleteFunc(slices.Clone(States), func(s State) bool { return !s.Waiting() })

// sqlList renders states as a literal SQL list: partial indexes are defined on such lists, and the
// planner uses them only for queries that spell the same condition (a parameter would not do).
func sqlList(states ...State) string {
	parts := make([]string, len(states))
	for i, s := range states {
		parts[i] = literal(string(s))
	}
	return strings.Join(parts, ", ")
}

// Change is one captured change, as the writer claims it.
type Change struct {
	ID       int64
	Action   Action
	Table    string
	RecordID int64
	SFID     string
	Values   map[string]*string // column → new value (hstore); nil for deletes
	Old      map[string]*string
	// CapturedAt is when the change was captured (created_at).
	CapturedAt time.Time
}

// claimable selects (and locks) the oldest claimable rows of the tables in $1, at most $2: the first
// of each claimable state in (state, id) index order, merged. One scan by id would step over every row
// already written (35 ms per claim after a 50,000-row backlog); an IN list of states cannot be read in
// id order from the index.
func claimable(tl string) string {
	parts := make([]string, 0, len(Claim.From))
	for _, st := range Claim.From {
		parts = append(parts, `SELECT id FROM (SELECT id FROM `+tl+` WHERE state = `+literal(string(st))+` AND table_name = ANY($1)
			ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) s`)
	}
	return `SELECT id FROM (` + strings.Join(parts, " UNION ALL ") + `) u ORDER BY id LIMIT $2`
}

// ClaimBatch moves at most limit of the oldest waiting changes of the tables to PENDING (Claim) and
// returns them in capture order. Rows another writer holds are skipped, not waited for.
func ClaimBatch(ctx context.Context, tx pgx.Tx, schema string, tables []string, limit int) ([]Change, error) {
	tl := ident(schema, "_trigger_log")
	rows, err := tx.Query(ctx, `UPDATE `+tl+` t SET state = $3, updated_at = now()
		FROM (`+claimable(tl)+`) c
		WHERE t.id = c.id
		RETURNING t.id, t.action, t.table_name, COALESCE(t.record_id, 0), COALESCE(t.sfid, ''), hstore_to_jsonb(t."values"), hstore_to_jsonb(t.old),
			COALESCE(t.created_at, now())`,
		tables, limit, string(Claim.To))
	if err != nil {
		return nil, fmt.Errorf("claim trigger log rows: %w", err)
	}
	batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
		var ch Change
		var action string
		var values, old []byte
		if err := r.Scan(&ch.ID, &action, &ch.Table, &ch.RecordID, &ch.SFID, &values, &old, &ch.CapturedAt); err != nil {
			return ch, err
		}
		ch.Action = Action(action)
		if values != nil {
			_ = json.Unmarshal(values, &ch.Values)
		}
		if old != nil {
			_ = json.Unmarshal(old, &ch.Old)
		}
		return ch, nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim trigger log rows: %w", err)
	}
	// The UPDATE returns rows in no particular order; the log's order is the capture order.
	slices.SortFunc(batch, func(x, y Change) int { return cmp.Compare(x.ID, y.ID) })
	return batch, nil
}

// ReleaseClaimed puts every claimed (PENDING) change of the schema back in the queue (Release): after
// a crash or a replaced writer only the writer that claimed them knew them, and they may not have
// been sent. They are sent again: updates and deletes are idempotent, and inserts are upserts when
// the mapping has an external id, so a change whose acknowledgement was lost makes no duplicate.
func ReleaseClaimed(ctx context.Context, q Execer, schema string) error {
	if _, err := q.Exec(ctx, `UPDATE `+ident(schema, "_trigger_log")+` SET state = $2, updated_at = now() WHERE state = ANY($1)`,
		Release.FromStrings(), string(Release.To)); err != nil {
		return fmt.Errorf("release claimed trigger log rows: %w", err)
	}
	return nil
}

// ReleaseUnsent puts claimed changes that were never sent back in the queue (Release), their order
// and messages kept: a batch the writer claimed ahead while the one before it was in flight, when
// that one stopped or the connection was paused meanwhile.
func ReleaseUnsent(ctx context.Context, q Execer, schema string, ids []int64) error {
	if _, err := q.Exec(ctx, `UPDATE `+ident(schema, "_trigger_log")+` SET state = $3, updated_at = now() WHERE id = ANY($1) AND state = ANY($2)`,
		ids, Release.FromStrings(), string(Release.To)); err != nil {
		return fmt.Errorf("release unsent trigger log rows: %w", err)
	}
	return nil
}

// Outcome is what became of one claimed change.
type Outcome struct {
	ID         int64
	Transition Transition // Succeed, Fail, Release, Merge or Skip
	Message    string     // Salesforce's error or why it was skipped, as JSON
	SFID       string     // the record's Salesforce id (created by an insert), "" to keep the row's
}

// RecordOutcomes applies each claimed change's outcome, with a compare-and-set on its state: a
// change that is no longer claimed (PENDING) is left alone.
func RecordOutcomes(ctx context.Context, tx pgx.Tx, schema string, outcomes []Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	var ids []int64
	var states, messages, sfids []string
	var processed []bool
	var results []*int32
	for _, o := range outcomes {
		if !slices.Equal(o.Transition.From, []State{Claim.To}) {
			return fmt.Errorf("record write outcome: %s does not apply to a claimed change", o.Transition.Name)
		}
		ids = append(ids, o.ID)
		states = append(states, string(o.Transition.To))
		messages = append(messages, o.Message)
		sfids = append(sfids, o.SFID)
		processed = append(processed, o.Transition.To.Terminal())
		results = append(results, sfResult(o.Transition.To))
	}
	_, err := tx.Exec(ctx, `UPDATE `+ident(schema, "_trigger_log")+` t SET state = r.state, sf_message = NULLIF(r.message, ''),
			sfid = COALESCE(NULLIF(r.sfid, ''), t.sfid), updated_at = now(),
			processed_at = CASE WHEN r.processed THEN now() END,
			processed_tx = CASE WHEN r.processed THEN txid_current() END,
			sf_result = r.result
		FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::int[]) AS r(id, state, message, sfid, processed, result)
		WHERE t.id = r.id AND t.state = $7`, ids, states, messages, sfids, processed, results, string(Claim.To))
	if err != nil {
		return fmt.Errorf("record write results: %w", err)
	}
	return nil
}

// sfResult is Heroku Connect's sf_result column: 1 written, 0 refused, NULL otherwise.
func sfResult(s State) *int32 {
	var r int32
	switch s {
	case Success:
		r = 1
	case Failed:
		r = 0
	default:
		return nil
	}
	return &r
}

// RowMark is what a written change leaves on its table row.
type RowMark struct {
	RecordID int64
	LogID    int64  // the change's trigger-log id
	LastOp   string // _hc_lastop: INSERTED, UPDATED, DELETED or FAILED
	Err      string // _hc_err, for a refused change
	SFID     string // the record an insert created
}

// MarkRows updates the table rows of written changes, as pgforce (nothing is captured): the sfid of
// created records, and _hc_lastop/_hc_err unless a newer change of the row is already waiting (then
// the row stays PENDING).
func MarkRows(ctx context.Context, tx pgx.Tx, schema, table string, marks []RowMark) error {
	if len(marks) == 0 {
		return nil
	}
	var recIDs, logIDs []int64
	var lastops, errs, sfids []string
	for _, m := range marks {
		recIDs, logIDs = append(recIDs, m.RecordID), append(logIDs, m.LogID)
		lastops, errs, sfids = append(lastops, m.LastOp), append(errs, m.Err), append(sfids, m.SFID)
	}
	tbl := ident(schema, table)
	// A row already holding a new sfid can only be an echo of this very write read back before the
	// sfid was stored (another pgforce instance polling during a failover): the written row wins.
	if _, err := tx.Exec(ctx, `DELETE FROM `+tbl+` t USING unnest($1::int[], $2::text[]) AS r(rec, sfid)
		WHERE r.sfid <> '' AND t.sfid = r.sfid AND t.id <> r.rec`, recIDs, sfids); err != nil {
		return fmt.Errorf("remove echoed rows of %s: %w", table, err)
	}
	_, err := tx.Exec(ctx, `UPDATE `+tbl+` t SET
			sfid = CASE WHEN t.sfid IS NULL AND r.sfid <> '' THEN r.sfid ELSE t.sfid END,
			_hc_lastop = CASE WHEN newer.id IS NULL THEN r.lastop ELSE t._hc_lastop END,
			_hc_err = CASE WHEN newer.id IS NULL THEN NULLIF(r.err, '') ELSE t._hc_err END
		FROM unnest($1::int[], $2::int[], $3::text[], $4::text[], $5::text[]) AS r(rec, logid, lastop, err, sfid)
		LEFT JOIN LATERAL (SELECT l.id FROM `+ident(schema, "_trigger_log")+` l
			WHERE l.table_name = $6 AND l.record_id = r.rec AND l.id > r.logid AND l.state IN (`+sqlList(New, Pending)+`) LIMIT 1) newer ON TRUE
		WHERE t.id = r.rec`, recIDs, logIDs, lastops, errs, sfids, table)
	if err != nil {
		return fmt.Errorf("mark rows of %s: %w", table, err)
	}
	return nil
}

// QueueDeletesOfVanished queues the deletion of records created for rows deleted while their insert
// was in flight (created maps row ids to the new records' ids), so Salesforce does not keep a record
// Postgres no longer has.
func QueueDeletesOfVanished(ctx context.Context, tx pgx.Tx, schema, table string, created map[int64]string) error {
	if len(created) == 0 {
		return nil
	}
	recIDs, sfids := make([]int64, 0, len(created)), make([]string, 0, len(created))
	for rec, sfid := range created {
		recIDs, sfids = append(recIDs, rec), append(sfids, sfid)
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+ident(schema, "_trigger_log")+` (action, table_name, txid, created_at, state, record_id, sfid)
		SELECT $5::varchar, $1::varchar, txid_current(), clock_timestamp(), $4::varchar, r.rec, r.sfid
		FROM unnest($2::int[], $3::text[]) AS r(rec, sfid)
		WHERE NOT EXISTS (SELECT 1 FROM `+ident(schema, table)+` t WHERE t.id = r.rec)`, table, recIDs, sfids, string(New), string(Delete))
	if err != nil {
		return fmt.Errorf("queue deletes for vanished rows of %s: %w", table, err)
	}
	return nil
}

// DismissFailedOfTable sets aside (Dismiss) the failed changes of a table whose mapping is deleted,
// in the live log and the archive: nothing can retry them any more, and a new mapping of the same
// table must not count them as its own. It returns how many there were.
func DismissFailedOfTable(ctx context.Context, tx pgx.Tx, schema, table string) (int64, error) {
	var n int64
	for _, log := range []string{"_trigger_log", "_trigger_log_archive"} {
		args := pgx.NamedArgs{"table": table, "to": string(Dismiss.To)}
		tag, err := tx.Exec(ctx, `UPDATE `+ident(schema, log)+` t SET state = @to, updated_at = now() WHERE t.table_name = @table AND `+Dismiss.Guard("t.state", args), args)
		if err != nil {
			return 0, fmt.Errorf("dismiss the failed writes of %s: %w", table, err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// DiscardWaiting deletes a table's changes not yet written to Salesforce (a reload or a deleted
// mapping destroys them, as the seed warns) and returns how many there were.
func DiscardWaiting(ctx context.Context, tx pgx.Tx, schema, table string) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM `+ident(schema, "_trigger_log")+` WHERE table_name = $1 AND state = ANY($2)`, table, lifecycle.Strings(waitingStates...))
	if err != nil {
		return 0, fmt.Errorf("discard pending writes of %s: %w", table, err)
	}
	return tag.RowsAffected(), nil
}

// CountWaiting counts the changes of the tables still to be written to Salesforce.
func CountWaiting(ctx context.Context, q Querier, schema string, tables []string) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT count(*) FROM `+ident(schema, "_trigger_log")+` WHERE state = ANY($1) AND table_name = ANY($2)`,
		lifecycle.Strings(waitingStates...), tables).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count pending writes: %w", err)
	}
	return n, nil
}

// WritesDone is the precondition that no change of the tables waits to be written to Salesforce
// (checked on a connection transition: the trigger log is in the connection's schema).
func WritesDone(schema string, tables []string) lifecycle.Precondition {
	return lifecycle.Precondition{
		Name: "writes_done",
		SQL: `NOT EXISTS (SELECT 1 FROM ` + ident(schema, "_trigger_log") + ` WHERE state = ANY(@waiting_states::text[])
			AND table_name = ANY(@written_tables::text[]))`,
		Args:    map[string]any{"waiting_states": lifecycle.Strings(waitingStates...), "written_tables": tables},
		Message: "Database changes are still waiting to be written to Salesforce.",
	}
}

// Archive moves processed (terminal) rows older than after to _trigger_log_archive, and purges
// archived rows older than retentionDays.
func Archive(ctx context.Context, tx pgx.Tx, schema string, after time.Duration, retentionDays int) error {
	terminal := slices.DeleteFunc(slices.Clone(States), func(s State) bool { return !s.Terminal() })
	if _, err := tx.Exec(ctx, `WITH moved AS (DELETE FROM `+ident(schema, "_trigger_log")+` WHERE state = ANY($1) AND COALESCE(processed_at, created_at) < now() - $2::interval RETURNING *)
		INSERT INTO `+ident(schema, "_trigger_log_archive")+` SELECT * FROM moved ON CONFLICT (id) DO NOTHING`, lifecycle.Strings(terminal...), after); err != nil {
		return fmt.Errorf("archive trigger log: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+ident(schema, "_trigger_log_archive")+` WHERE created_at < now() - make_interval(days => $1)`, retentionDays); err != nil {
		return fmt.Errorf("purge trigger log archive: %w", err)
	}
	var noted bool
	if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, ident(schema, RowChanges)).Scan(&noted); err != nil || !noted {
		return err
	}
	return PurgeRowChanges(ctx, tx, schema)
}

// Written is a change an admin acts on (live log or archive).
type Written struct {
	ID       int64
	Table    string
	Action   Action
	RecordID int64
	Archived bool // in _trigger_log_archive
}

func (w Written) log(schema string) string {
	if w.Archived {
		return ident(schema, "_trigger_log_archive")
	}
	return ident(schema, "_trigger_log")
}

// lockFor loads a change of the live log or the archive, locked, and checks that t applies to it.
func lockFor(ctx context.Context, tx pgx.Tx, schema string, id int64, t Transition) (Written, error) {
	for _, archived := range []bool{false, true} {
		w := Written{ID: id, Archived: archived}
		var action, state string
		err := tx.QueryRow(ctx, `SELECT table_name, action, record_id, state FROM `+w.log(schema)+` WHERE id = $1 FOR UPDATE`, id).
			Scan(&w.Table, &action, &w.RecordID, &state)
		if errors.Is(err, pgx.ErrNoRows) {
			continue
		}
		if err != nil {
			return w, fmt.Errorf("load write %d: %w", id, err)
		}
		w.Action = Action(action)
		if !t.Allowed(State(state)) {
			return w, t.Refused(State(state), nil, fmt.Sprintf("Write %d is %s, not %s.", id, state, strings.Join(t.FromStrings(), " or ")))
		}
		return w, nil
	}
	return Written{}, failure.E(failure.NotFound, "write %d not found", id)
}

// apply makes t on one change, with a compare-and-set on its state.
func (w Written) apply(ctx context.Context, tx pgx.Tx, schema string, t Transition) error {
	args := pgx.NamedArgs{"id": w.ID, "to": string(t.To)}
	tag, err := tx.Exec(ctx, `UPDATE `+w.log(schema)+` t SET state = @to, updated_at = now() WHERE t.id = @id AND `+t.Guard("t.state", args), args)
	if err != nil {
		return fmt.Errorf("%s write %d: %w", t.Name, w.ID, err)
	}
	if tag.RowsAffected() == 0 {
		return t.Refused("", nil, fmt.Sprintf("Write %d changed meanwhile; look at it again.", w.ID))
	}
	return nil
}

// DismissFailed sets a failed change aside (Dismiss); its row keeps its values in Postgres.
func DismissFailed(ctx context.Context, tx pgx.Tx, schema string, id int64) (Written, error) {
	w, err := lockFor(ctx, tx, schema, id, Dismiss)
	if err != nil {
		return w, err
	}
	return w, w.apply(ctx, tx, schema, Dismiss)
}

// ResendFailed sends a failed change again, Heroku Connect's way: the row's current values are
// captured anew (hc_capture_insert_from_row when it never reached Salesforce,
// hc_capture_update_from_row when it did; a delete is queued again as it was) and the failed change
// is marked REQUEUED (Resend).
func ResendFailed(ctx context.Context, tx pgx.Tx, schema string, id int64) (Written, error) {
	w, err := lockFor(ctx, tx, schema, id, Resend)
	if err != nil {
		return w, err
	}
	if w.Action == Delete {
		_, err = tx.Exec(ctx, `INSERT INTO `+ident(schema, "_trigger_log")+` (action, table_name, txid, created_at, state, record_id, sfid, old)
			SELECT action, table_name, txid_current(), clock_timestamp(), $2::varchar, record_id, sfid, old FROM `+w.log(schema)+` WHERE id = $1`, id, string(New))
	} else {
		fn := "hc_capture_update_from_row"
		var sfid *string
		if err := tx.QueryRow(ctx, `SELECT sfid FROM `+ident(schema, w.Table)+` WHERE id = $1`, w.RecordID).Scan(&sfid); err != nil {
			return w, failure.E(failure.Conflict, "The row (%s id %d) no longer exists; there is nothing to retry.", w.Table, w.RecordID)
		}
		if sfid == nil {
			fn = "hc_capture_insert_from_row"
		}
		_, err = tx.Exec(ctx, `SELECT `+ident(schema, fn)+`(hstore(t.*), $2) FROM `+ident(schema, w.Table)+` t WHERE t.id = $1`, w.RecordID, w.Table)
	}
	if err != nil {
		return w, fmt.Errorf("requeue write %d: %w", id, err)
	}
	return w, w.apply(ctx, tx, schema, Resend)
}

// SupersedeFailed resolves the failed changes of rows a later change wrote successfully (Supersede):
// written maps a row id to the id of its successful change; only older failures of the row go.
func SupersedeFailed(ctx context.Context, tx pgx.Tx, schema, table string, written map[int64]int64) error {
	if len(written) == 0 {
		return nil
	}
	recs, logIDs := make([]int64, 0, len(written)), make([]int64, 0, len(written))
	for rec, id := range written {
		recs, logIDs = append(recs, rec), append(logIDs, id)
	}
	for _, archived := range []bool{false, true} {
		log := Written{Archived: archived}.log(schema)
		if _, err := tx.Exec(ctx, `UPDATE `+log+` t SET state = $4, updated_at = now()
			FROM unnest($2::int[], $3::int[]) AS w(rec, logid)
			WHERE t.state = `+sqlList(Supersede.From...)+` AND t.table_name = $1 AND t.record_id = w.rec AND t.id < w.logid`,
			table, recs, logIDs, string(Supersede.To)); err != nil {
			return fmt.Errorf("resolve superseded failures of %s: %w", table, err)
		}
	}
	return nil
}

// LockFailed loads a failed change, locked, for an admin to fix its row before resending it.
func LockFailed(ctx context.Context, tx pgx.Tx, schema string, id int64) (Written, error) {
	return lockFor(ctx, tx, schema, id, Resend)
}

// DecideHeld queues a held conflicting change again (Decide), once an admin kept a side.
func DecideHeld(ctx context.Context, tx pgx.Tx, schema string, id int64) (Written, error) {
	w, err := lockFor(ctx, tx, schema, id, Decide)
	if err != nil {
		return w, err
	}
	return w, w.apply(ctx, tx, schema, Decide)
}

// AnyWaiting reports whether any change of the schema is waiting to be written or being written
// (through the partial index of such rows: cheap enough to watch a backlog drain).
func AnyWaiting(ctx context.Context, q Querier, schema string) (bool, error) {
	var waiting bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+ident(schema, "_trigger_log")+` WHERE state IN (`+sqlList(New, Pending)+`))`).Scan(&waiting)
	if err != nil {
		return false, fmt.Errorf("look for waiting changes: %w", err)
	}
	return waiting, nil
}

// CountInState counts the changes of the live log in one state.
func CountInState(ctx context.Context, q Querier, schema string, s State) (int64, error) {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM `+ident(schema, "_trigger_log")+` WHERE state = $1`, string(s)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count %s changes: %w", s, err)
	}
	return n, nil
}

// WaitingRecords lists, of the given records (sfids) of a table, those with a change still to be
// written to Salesforce (all such records when sfids is nil).
func WaitingRecords(ctx context.Context, q Querier, schema, table string, sfids []string) ([]string, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT sfid FROM `+ident(schema, "_trigger_log")+`
		WHERE table_name = $1 AND state = ANY($2) AND sfid IS NOT NULL AND ($3::text[] IS NULL OR sfid = ANY($3))`,
		table, lifecycle.Strings(waitingStates...), sfids)
	if err != nil {
		return nil, fmt.Errorf("list records of %s with writes waiting: %w", table, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list records of %s with writes waiting: %w", table, err)
	}
	return out, nil
}

// CountWaitingDeletes counts the records of a table whose deletion waits to be written to Salesforce:
// their rows are gone, their records not yet.
func CountWaitingDeletes(ctx context.Context, q Querier, schema, table string) (int64, error) {
	var n int64
	err := q.QueryRow(ctx, `SELECT count(DISTINCT sfid) FROM `+ident(schema, "_trigger_log")+`
		WHERE table_name = $1 AND action = $2 AND state = ANY($3) AND sfid IS NOT NULL`, table, string(Delete), lifecycle.Strings(waitingStates...)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count deletes of %s waiting: %w", table, err)
	}
	return n, nil
}

// SettleFailed makes t (Overrule or HoldFailed) on a failed change a poll judged, with why as its
// sf_message; a change that is no longer failed is left alone (it reports false).
func SettleFailed(ctx context.Context, tx pgx.Tx, schema string, id int64, t Transition, message string) (bool, error) {
	args := pgx.NamedArgs{"id": id, "to": string(t.To), "message": message}
	tag, err := tx.Exec(ctx, `UPDATE `+ident(schema, "_trigger_log")+` t SET state = @to, sf_message = @message, updated_at = now()
		WHERE t.id = @id AND `+t.Guard("t.state", args), args)
	if err != nil {
		return false, fmt.Errorf("%s write %d: %w", t.Name, id, err)
	}
	return tag.RowsAffected() == 1, nil
}

// RebaseFailed moves what a failed change was captured over (its old values) to the Salesforce
// version a poll judged it against and kept it over: a later poll finds a conflict only in a later
// change of the record.
func RebaseFailed(ctx context.Context, tx pgx.Tx, schema string, id int64, old map[string]*string) error {
	keys, vals := make([]string, 0, len(old)), make([]*string, 0, len(old))
	for k, v := range old {
		keys, vals = append(keys, k), append(vals, v)
	}
	if _, err := tx.Exec(ctx, `UPDATE `+ident(schema, "_trigger_log")+` SET old = COALESCE(old, ''::public.hstore) || public.hstore($2::text[], $3::text[])
		WHERE id = $1 AND state = $4`, id, keys, vals, string(Failed)); err != nil {
		return fmt.Errorf("rebase failed write %d: %w", id, err)
	}
	return nil
}
