// Package conflict is the record of conflicts between the two sides of a mapping: a Salesforce record
// changed (or deleted) after a Postgres change of it was captured and before the change was written,
// or deleted in Postgres while it changed in Salesforce. The writer detects them and applies the
// mapping's policy (and a poll, for a failed change the writer will not judge again); each conflict keeps both versions of the fields Postgres changed, who changed the
// record in Salesforce and when, and what the policy (or, for manual ones, an admin) did.
package conflict

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/failure"
	"pgforce/sync/lifecycle"
)

// Policy is what a mapping does about a conflict.
type Policy string

// Policies.
const (
	// PostgresWins sends the Postgres change anyway: Heroku Connect's observable result, now detected
	// and recorded. The default.
	PostgresWins Policy = "postgres_wins"
	// SalesforceWins does not send the Postgres change; the row takes Salesforce's values.
	SalesforceWins Policy = "salesforce_wins"
	// NewestWins keeps the later of the Postgres capture and the Salesforce SystemModstamp.
	NewestWins Policy = "newest_wins"
	// Manual holds the change until an admin keeps one side.
	Manual Policy = "manual"
)

// Policies lists every policy, the default first.
var Policies = []Policy{PostgresWins, SalesforceWins, NewestWins, Manual}

// ParsePolicy reads a policy name; "" is the default.
func ParsePolicy(s string) (Policy, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" {
		return PostgresWins, nil
	}
	for _, p := range Policies {
		if string(p) == s {
			return p, nil
		}
	}
	return "", failure.E(failure.Invalid, "unknown conflict policy %q (one of postgres_wins, salesforce_wins, newest_wins, manual)", s)
}

// Label is the policy in words.
func (p Policy) Label() string {
	switch p {
	case SalesforceWins:
		return "Salesforce wins"
	case NewestWins:
		return "Newest wins"
	case Manual:
		return "Manual (an admin chooses)"
	}
	return "Postgres wins"
}

// Kind is what changed on each side.
type Kind string

// Kinds.
const (
	UpdateUpdate        Kind = "update_update"         // updated on both sides
	DeletedInSalesforce Kind = "deleted_in_salesforce" // deleted in Salesforce, updated in Postgres
	DeletedInPostgres   Kind = "deleted_in_postgres"   // deleted in Postgres, updated in Salesforce
	InsertExisting      Kind = "insert_existing"       // inserted in Postgres with an external id Salesforce already had
)

// Label is the kind in words.
func (k Kind) Label() string {
	switch k {
	case DeletedInSalesforce:
		return "Deleted in Salesforce, updated in Postgres"
	case DeletedInPostgres:
		return "Deleted in Postgres, updated in Salesforce"
	case InsertExisting:
		return "Inserted in Postgres, already in Salesforce"
	}
	return "Updated on both sides"
}

// Outcome is what became of a conflict: its state. Held changes when an admin keeps one side, and
// PostgresKept when the change it kept is written (Write) or an admin dismisses it (Dismiss); the
// others are final.
type Outcome string

// Outcomes.
const (
	PostgresWon Outcome = "postgres_won" // the Postgres change was written over Salesforce's
	// PostgresKept: the policy kept the Postgres change, which is not written yet (a failed change,
	// sent when an admin retries it); it becomes PostgresWon once a write of its row succeeds.
	PostgresKept Outcome = "postgres_kept"
	// PostgresDismissed: a kept Postgres change an admin dismissed before it was written.
	PostgresDismissed Outcome = "postgres_dismissed"
	SalesforceWon     Outcome = "salesforce_won"  // the Postgres change was not sent; the row took Salesforce's values
	DeleteStands      Outcome = "delete_stands"   // the record stays deleted: a delete is never undone by a policy
	Held              Outcome = "held"            // waiting for an admin (manual policy)
	KeptPostgres      Outcome = "kept_postgres"   // an admin kept the Postgres change: it is queued to be sent
	KeptSalesforce    Outcome = "kept_salesforce" // an admin kept Salesforce's version
)

// Label is the outcome in words.
func (o Outcome) Label() string {
	switch o {
	case PostgresWon:
		return "Postgres change written"
	case PostgresKept:
		return "Postgres change kept, not written yet"
	case PostgresDismissed:
		return "Postgres change kept, dismissed unwritten"
	case SalesforceWon:
		return "Salesforce version kept"
	case DeleteStands:
		return "Delete stands"
	case Held:
		return "Held: choose a side"
	case KeptPostgres:
		return "Admin kept Postgres"
	case KeptSalesforce:
		return "Admin kept Salesforce"
	}
	return string(o)
}

// Transition is a held conflict's resolution, applied with a compare-and-set on its outcome.
type Transition = lifecycle.Transition[Outcome]

// Resolutions of held conflicts.
var (
	KeepPostgres   = Transition{Name: "keep_postgres", From: []Outcome{Held}, To: KeptPostgres}
	KeepSalesforce = Transition{Name: "keep_salesforce", From: []Outcome{Held}, To: KeptSalesforce}
)

// Write settles a kept Postgres change once a write of its row succeeded; Dismiss once an admin
// dismissed its failed write.
var (
	Write   = Transition{Name: "write", From: []Outcome{PostgresKept}, To: PostgresWon}
	Dismiss = Transition{Name: "dismiss", From: []Outcome{PostgresKept}, To: PostgresDismissed}
)

// Conflict is one detected conflict.
type Conflict struct {
	ID               int64
	ConnectionID     int64
	MappingID        int64
	Object, Table    string
	RecordID         int64
	SFID             string
	TriggerLogID     int64
	Kind             Kind
	PostgresValues   map[string]any // field → the value Postgres's change wrote
	SalesforceValues map[string]any // field → the value Salesforce held when detected
	CapturedAt       time.Time
	SFModifiedAt     time.Time
	SFModifiedBy     string
	Policy           Policy
	Outcome          Outcome
	DetectedAt       time.Time
	ResolvedAt       *time.Time
	ResolvedBy       string
}

// Fields lists the fields of either version, sorted.
func (c Conflict) Fields() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]any{c.PostgresValues, c.SalesforceValues} {
		for f := range m {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	sortFold(out)
	return out
}

// Insert stores detected conflicts (in the writer's outcome transaction). A final outcome is
// resolved at detection, by "policy".
func Insert(ctx context.Context, tx pgx.Tx, cs []Conflict) error {
	for _, c := range cs {
		pg, _ := json.Marshal(nonNil(c.PostgresValues))
		sf, _ := json.Marshal(nonNil(c.SalesforceValues))
		var resolved any
		by := c.ResolvedBy
		if c.Outcome != Held {
			resolved = time.Now()
			if by == "" {
				by = "policy"
			}
		}
		if _, err := tx.Exec(ctx, `INSERT INTO conflicts (connection_id, mapping_id, object_name, table_name, record_id, sfid,
			trigger_log_id, kind, postgres_values, salesforce_values, captured_at, sf_modified_at, sf_modified_by, policy,
			outcome, resolved_at, resolved_by)
			VALUES ($1, NULLIF($2, 0), $3, $4, NULLIF($5, 0), $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
			c.ConnectionID, c.MappingID, c.Object, c.Table, c.RecordID, c.SFID, c.TriggerLogID, string(c.Kind), pg, sf,
			nullTime(c.CapturedAt), nullTime(c.SFModifiedAt), c.SFModifiedBy, string(c.Policy), string(c.Outcome), resolved, by); err != nil {
			return fmt.Errorf("record conflict on %s %s: %w", c.Object, c.SFID, err)
		}
	}
	return nil
}

// Written settles the conflicts whose kept Postgres change a later write of its row sent (Write):
// written maps a row id of the table to the id of its successful change, and only conflicts of
// that change or earlier ones of the row are settled (a retry captures the row anew, as a later
// change; merged writes send a row's earlier changes with its latest).
func Written(ctx context.Context, tx pgx.Tx, connectionID int64, table string, written map[int64]int64) error {
	if len(written) == 0 {
		return nil
	}
	recs, logIDs := make([]int64, 0, len(written)), make([]int64, 0, len(written))
	for rec, id := range written {
		recs, logIDs = append(recs, rec), append(logIDs, id)
	}
	if _, err := tx.Exec(ctx, `UPDATE conflicts c SET outcome = $5, resolved_at = now()
		FROM unnest($3::bigint[], $4::bigint[]) AS w(rec, logid)
		WHERE c.connection_id = $1 AND c.table_name = $2 AND c.record_id = w.rec AND c.trigger_log_id <= w.logid
		AND c.outcome = ANY($6)`, connectionID, table, recs, logIDs, string(Write.To), Write.FromStrings()); err != nil {
		return fmt.Errorf("settle the kept changes of %s written since: %w", table, err)
	}
	return nil
}

// Dismissed settles the conflicts whose kept Postgres change an admin dismissed unwritten (Dismiss):
// the failed write logID of a row of the table, or an earlier change of the row that a retry
// captured into it (no longer FAILED itself in the connection schema's trigger log; the conflict
// names the first).
func Dismissed(ctx context.Context, tx pgx.Tx, connectionID int64, schema, table string, rec, logID int64, by string) error {
	log := pgx.Identifier{schema, "_trigger_log"}.Sanitize()
	if _, err := tx.Exec(ctx, `UPDATE conflicts c SET outcome = $5, resolved_at = now(), resolved_by = $6
		WHERE c.connection_id = $1 AND c.table_name = $2 AND c.record_id = $3 AND c.outcome = ANY($7)
		AND (c.trigger_log_id = $4 OR (c.trigger_log_id < $4
			AND NOT EXISTS (SELECT 1 FROM `+log+` AS l WHERE l.id = c.trigger_log_id AND l.state = 'FAILED')))`,
		connectionID, table, rec, logID, string(Dismiss.To), by, Dismiss.FromStrings()); err != nil {
		return fmt.Errorf("settle the kept changes of %s row %d dismissed: %w", table, rec, err)
	}
	return nil
}

// Filter selects conflicts.
type Filter struct {
	ConnectionID int64
	MappingID    int64  // 0: every mapping
	Table        string // "": every table
	SFID         string // "": every record
	RecordID     int64  // 0: every row
	HeldOnly     bool
	Limit        int // 0: 500
}

// Querier is a pool or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const columns = `id, connection_id, COALESCE(mapping_id, 0), object_name, table_name, COALESCE(record_id, 0), sfid,
	trigger_log_id, kind, postgres_values, salesforce_values, COALESCE(captured_at, 'epoch'), COALESCE(sf_modified_at, 'epoch'),
	sf_modified_by, policy, outcome, detected_at, resolved_at, resolved_by`

func scan(row pgx.Row) (Conflict, error) {
	var c Conflict
	var kind, policy, outcome string
	var pg, sf []byte
	err := row.Scan(&c.ID, &c.ConnectionID, &c.MappingID, &c.Object, &c.Table, &c.RecordID, &c.SFID, &c.TriggerLogID, &kind,
		&pg, &sf, &c.CapturedAt, &c.SFModifiedAt, &c.SFModifiedBy, &policy, &outcome, &c.DetectedAt, &c.ResolvedAt, &c.ResolvedBy)
	c.Kind, c.Policy, c.Outcome = Kind(kind), Policy(policy), Outcome(outcome)
	_ = json.Unmarshal(pg, &c.PostgresValues)
	_ = json.Unmarshal(sf, &c.SalesforceValues)
	if c.CapturedAt.Unix() == 0 {
		c.CapturedAt = time.Time{}
	}
	if c.SFModifiedAt.Unix() == 0 {
		c.SFModifiedAt = time.Time{}
	}
	return c, err
}

// List returns a connection's conflicts, newest first.
func List(ctx context.Context, q Querier, f Filter) ([]Conflict, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 500
	}
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM conflicts
		WHERE connection_id = $1 AND ($2 = 0 OR mapping_id = $2) AND ($3 = '' OR table_name = $3) AND ($4 = '' OR sfid = $4)
		  AND ($5 = 0 OR record_id = $5) AND (NOT $6 OR outcome = 'held')
		ORDER BY detected_at DESC, id DESC LIMIT $7`, f.ConnectionID, f.MappingID, f.Table, f.SFID, f.RecordID, f.HeldOnly, limit)
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conflict, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list conflicts: %w", err)
	}
	return out, nil
}

// Since returns a connection's conflicts (of one mapping unless mappingID is 0) detected since a
// time, or resolved by an admin since then, newest first: what Activity shows of them.
func Since(ctx context.Context, q Querier, connectionID, mappingID int64, since time.Time, limit int) ([]Conflict, error) {
	if limit <= 0 {
		limit = 500
	}
	// Two branches so the detection one reads the connection's index by time; a row appears once
	// (the second branch takes only conflicts detected before the window).
	rows, err := q.Query(ctx, `(SELECT `+columns+` FROM conflicts
			WHERE connection_id = $1 AND ($2 = 0 OR mapping_id = $2) AND detected_at >= $3 ORDER BY detected_at DESC, id DESC LIMIT $4)
		UNION ALL
		(SELECT `+columns+` FROM conflicts
			WHERE connection_id = $1 AND ($2 = 0 OR mapping_id = $2) AND detected_at < $3 AND resolved_at >= $3 AND outcome = ANY($5)
			ORDER BY resolved_at DESC, id DESC LIMIT $4)`,
		connectionID, mappingID, since, limit, []string{string(KeptPostgres), string(KeptSalesforce)})
	if err != nil {
		return nil, fmt.Errorf("list conflicts since %s: %w", since.Format(time.RFC3339), err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Conflict, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("list conflicts since %s: %w", since.Format(time.RFC3339), err)
	}
	return out, nil
}

// ByAdmin reports whether an admin resolved the conflict (it was held), rather than its policy.
func (c Conflict) ByAdmin() bool { return c.Outcome == KeptPostgres || c.Outcome == KeptSalesforce }

// Get returns one conflict of a connection (of any connection when connectionID is 0).
func Get(ctx context.Context, q Querier, connectionID, id int64) (Conflict, error) {
	c, err := scan(q.QueryRow(ctx, `SELECT `+columns+` FROM conflicts WHERE ($1 = 0 OR connection_id = $1) AND id = $2`, connectionID, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, failure.E(failure.NotFound, "conflict %d not found", id)
	}
	return c, err
}

// Counts returns a connection's conflicts by mapping id and outcome.
func Counts(ctx context.Context, q Querier, connectionID int64) (map[int64]map[Outcome]int, error) {
	rows, err := q.Query(ctx, `SELECT COALESCE(mapping_id, 0), outcome, count(*) FROM conflicts WHERE connection_id = $1 GROUP BY 1, 2`, connectionID)
	if err != nil {
		return nil, fmt.Errorf("count conflicts: %w", err)
	}
	defer rows.Close()
	out := map[int64]map[Outcome]int{}
	for rows.Next() {
		var m int64
		var o string
		var n int
		if err := rows.Scan(&m, &o, &n); err != nil {
			return nil, err
		}
		if out[m] == nil {
			out[m] = map[Outcome]int{}
		}
		out[m][Outcome(o)] = n
	}
	return out, rows.Err()
}

// Resolved returns the resolutions admins chose for held conflicts of the trigger-log rows (row id
// → outcome), so the writer sends a kept change without detecting the same conflict again.
func Resolved(ctx context.Context, q Querier, connectionID int64, logIDs []int64) (map[int64]Outcome, error) {
	out := map[int64]Outcome{}
	if len(logIDs) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT trigger_log_id, outcome FROM conflicts WHERE connection_id = $1 AND trigger_log_id = ANY($2)
		AND outcome IN ('kept_postgres', 'kept_salesforce')`, connectionID, logIDs)
	if err != nil {
		return nil, fmt.Errorf("read conflict resolutions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var o string
		if err := rows.Scan(&id, &o); err != nil {
			return nil, err
		}
		out[id] = Outcome(o)
	}
	return out, rows.Err()
}

// Resolve applies an admin's resolution to a held conflict of a connection (of any connection when
// connectionID is 0), compare-and-set on its outcome: a conflict already resolved is refused with
// failure.Conflict.
func Resolve(ctx context.Context, tx pgx.Tx, connectionID, id int64, t Transition, by string) (Conflict, error) {
	c, err := scan(tx.QueryRow(ctx, `UPDATE conflicts SET outcome = $4, resolved_at = now(), resolved_by = $5
		WHERE ($1 = 0 OR connection_id = $1) AND id = $2 AND outcome = ANY($3) RETURNING `+columns,
		connectionID, id, t.FromStrings(), string(t.To), by))
	if errors.Is(err, pgx.ErrNoRows) {
		if _, gerr := Get(ctx, tx, connectionID, id); gerr != nil {
			return c, gerr
		}
		return c, failure.E(failure.Conflict, "conflict %d is not held: it was resolved already", id)
	}
	if err != nil {
		return c, fmt.Errorf("resolve conflict %d: %w", id, err)
	}
	return c, nil
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

func sortFold(s []string) {
	slices.SortFunc(s, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}
