package triggerlog

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/lifecycle"
)

// What the dashboard, the API and the health checks read of a trigger log.

// Entry is one trigger-log row (live log or archive).
type Entry struct {
	ID          int64
	Table       string
	RecordID    int64
	Action      string
	State       string
	SFID        string
	Values      string // hstore text
	Old         string
	Result      *int
	Message     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	ProcessedAt *time.Time
	Archived    bool
}

const entryCols = `id, COALESCE(table_name, ''), COALESCE(record_id, 0), COALESCE(action, ''), COALESCE(state, ''), COALESCE(sfid, ''),
	COALESCE("values"::text, ''), COALESCE(old::text, ''), sf_result, COALESCE(sf_message, ''), created_at, COALESCE(updated_at, created_at), processed_at`

// entries runs the same query over the live trigger log and its archive and merges the rows, newest
// first (ids come from one sequence, so they order live and archived rows alike).
func entries(ctx context.Context, q Querier, schema, where string, limit int, args ...any) ([]Entry, error) {
	return entriesWhere(ctx, q, schema, where, where, limit, args...)
}

// entriesWhere is entries with one condition for the live log and another for the archive.
func entriesWhere(ctx context.Context, q Querier, schema, whereLive, whereArchived string, limit int, args ...any) ([]Entry, error) {
	var all []Entry
	for _, archived := range []bool{false, true} {
		log := Written{Archived: archived}.log(schema)
		where := whereLive
		if archived {
			where = whereArchived
		}
		rows, err := q.Query(ctx, `SELECT `+entryCols+` FROM `+log+` WHERE `+where+fmt.Sprintf(` ORDER BY id DESC LIMIT %d`, limit), args...)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", log, err)
		}
		got, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Entry, error) {
			e := Entry{Archived: archived}
			return e, row.Scan(&e.ID, &e.Table, &e.RecordID, &e.Action, &e.State, &e.SFID, &e.Values, &e.Old, &e.Result, &e.Message,
				&e.CreatedAt, &e.UpdatedAt, &e.ProcessedAt)
		})
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", log, err)
		}
		all = append(all, got...)
	}
	slices.SortFunc(all, func(a, b Entry) int { return cmp.Compare(b.ID, a.ID) })
	if len(all) > limit {
		all = all[:limit]
	}
	return all, nil
}

// FailedSince returns the FAILED changes of a schema updated since a time, only of the tables when
// some are named, newest first.
func FailedSince(ctx context.Context, q Querier, schema string, tables []string, since time.Time, limit int) ([]Entry, error) {
	// The literal state matches the archive's partial index of failed rows.
	return entries(ctx, q, schema, `state = `+sqlList(Failed)+` AND updated_at >= $1 AND (COALESCE(cardinality($2::text[]), 0) = 0 OR table_name = ANY($2))`,
		limit, since, tables)
}

// RefusedSince returns the changes of a schema Salesforce refused since a time (when it refused
// them: processed_at, or updated_at for rows that lack it), only of the tables, newest first: the
// unresolved ones (FAILED) and, from the live log, those an admin resent or dismissed since, or a
// later write of the row superseded (their sf_result stays 0). The archive is read through its
// index of FAILED rows only: a resolved failure lands there only when rows are archived sooner
// than a day after they are processed.
func RefusedSince(ctx context.Context, q Querier, schema string, tables []string, since time.Time, limit int) ([]Entry, error) {
	if len(tables) == 0 {
		return nil, nil
	}
	at := `COALESCE(processed_at, updated_at) >= $1 AND table_name = ANY($2)`
	live := `(state = ` + sqlList(Failed) + ` OR (state IN (` + sqlList(Resend.To, Dismiss.To) + `) AND sf_result = 0)) AND ` + at
	return entriesWhere(ctx, q, schema, live, `state = `+sqlList(Failed)+` AND `+at, limit, since, tables)
}

// ErrorText splits a trigger-log message into Salesforce's first error code and its message (the
// error array's statusCode or errorCode, and message); a message that is not such an array is the
// text, with no code.
func ErrorText(msg string) (code, text string) {
	var arr []struct {
		StatusCode string `json:"statusCode"`
		ErrorCode  string `json:"errorCode"`
		Message    string `json:"message"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(msg)), &arr) != nil || len(arr) == 0 {
		return "", strings.TrimSpace(msg)
	}
	return cmp.Or(arr[0].StatusCode, arr[0].ErrorCode), arr[0].Message
}

// History returns the changes of one row, newest first.
func History(ctx context.Context, q Querier, schema, table string, recordID int64, limit int) ([]Entry, error) {
	return entries(ctx, q, schema, `table_name = $1 AND record_id = $2`, limit, table, recordID)
}

// QueueWaitingByTable queues, on a batch, the count and oldest capture time of the changes waiting to
// be written, per table: rows of (table_name, count, min(created_at)).
func QueueWaitingByTable(b *pgx.Batch, schema string) {
	b.Queue(`SELECT table_name, count(*), min(created_at) FROM `+ident(schema, "_trigger_log")+` WHERE state = ANY($1) GROUP BY table_name`,
		lifecycle.Strings(waitingStates...))
}

// QueueFailedByTable queues, on a batch, the count and oldest capture time of the unresolved failed
// changes (live log and archive), per table: rows of (table_name, count, min(created_at)).
func QueueFailedByTable(b *pgx.Batch, schema string) {
	b.Queue(`SELECT table_name, count(*), min(created_at) FROM (
			SELECT table_name, created_at FROM ` + ident(schema, "_trigger_log") + ` WHERE state = ` + sqlList(Failed) + `
			UNION ALL
			SELECT table_name, created_at FROM ` + ident(schema, "_trigger_log_archive") + ` WHERE state = ` + sqlList(Failed) + `) f
		GROUP BY table_name`)
}

// QueueHeldByTable queues, on a batch, the count and oldest hold time (when the writer held them) of
// the changes held as manual conflicts, per table: rows of (table_name, count, min(updated_at)).
func QueueHeldByTable(b *pgx.Batch, schema string) {
	b.Queue(`SELECT table_name, count(*), min(COALESCE(updated_at, created_at)) FROM ` + ident(schema, "_trigger_log") + ` WHERE state = ` + sqlList(Conflict) + `
		GROUP BY table_name`)
}

// Depth reads how many changes wait to be written (and the oldest one's capture time) and how many
// rows the live log holds (processed ones wait there until archived).
func Depth(ctx context.Context, q Querier, schema string) (waiting int64, oldest *time.Time, live int64, err error) {
	err = q.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = ANY($1)), min(created_at) FILTER (WHERE state = ANY($1)), count(*)
		FROM `+ident(schema, "_trigger_log"), lifecycle.Strings(waitingStates...)).Scan(&waiting, &oldest, &live)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("read the trigger log of %s: %w", schema, err)
	}
	return waiting, oldest, live, nil
}

// ErrorCode is the first code of a trigger-log message (Salesforce's error array, statusCode or
// errorCode), "" when the message names none.
func ErrorCode(msg string) string {
	var arr []struct {
		StatusCode string `json:"statusCode"`
		ErrorCode  string `json:"errorCode"`
	}
	if json.Unmarshal([]byte(strings.TrimSpace(msg)), &arr) != nil {
		return ""
	}
	for _, e := range arr {
		if e.StatusCode != "" {
			return e.StatusCode
		}
		if e.ErrorCode != "" {
			return e.ErrorCode
		}
	}
	return ""
}

// CodeCount is how many unresolved failed changes of a table Salesforce refused with one code.
type CodeCount struct {
	Code  string // "" for failures whose message names no code
	Count int64
}

// failedOfTable lists the ids and error codes of a table's unresolved failed changes (live log, then
// archive).
func failedOfTable(ctx context.Context, q Querier, schema, table string) (ids []int64, codes []string, err error) {
	for _, archived := range []bool{false, true} {
		log := Written{Archived: archived}.log(schema)
		rows, err := q.Query(ctx, `SELECT id, COALESCE(sf_message, '') FROM `+log+` WHERE state = `+sqlList(Failed)+` AND table_name = $1 ORDER BY id`, table)
		if err != nil {
			return nil, nil, fmt.Errorf("read the failed writes of %s: %w", table, err)
		}
		var id int64
		var msg string
		_, err = pgx.ForEachRow(rows, []any{&id, &msg}, func() error {
			ids, codes = append(ids, id), append(codes, ErrorCode(msg))
			return nil
		})
		if err != nil {
			return nil, nil, fmt.Errorf("read the failed writes of %s: %w", table, err)
		}
	}
	return ids, codes, nil
}

// FailedByCode counts a table's unresolved failed changes per error code, most frequent first.
func FailedByCode(ctx context.Context, q Querier, schema, table string) ([]CodeCount, error) {
	_, codes, err := failedOfTable(ctx, q, schema, table)
	if err != nil {
		return nil, err
	}
	n := map[string]int64{}
	for _, c := range codes {
		n[c]++
	}
	out := make([]CodeCount, 0, len(n))
	for c, k := range n {
		out = append(out, CodeCount{Code: c, Count: k})
	}
	slices.SortFunc(out, func(a, b CodeCount) int { return cmp.Or(cmp.Compare(b.Count, a.Count), cmp.Compare(a.Code, b.Code)) })
	return out, nil
}

// FailedWithCode lists the ids of a table's unresolved failed changes refused with code, oldest first.
func FailedWithCode(ctx context.Context, q Querier, schema, table, code string) ([]int64, error) {
	ids, codes, err := failedOfTable(ctx, q, schema, table)
	if err != nil {
		return nil, err
	}
	var out []int64
	for i, c := range codes {
		if c == code {
			out = append(out, ids[i])
		}
	}
	slices.Sort(out)
	return out, nil
}
