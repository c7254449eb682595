package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/sync/failure"
)

// Verification is one comparison of a mapped table with Salesforce, and its repair.
type Verification struct {
	ID           int64
	ConnectionID int64
	MappingID    int64
	State        State
	StateReason  string
	RequestedBy  string
	RequestedAt  time.Time
	StartedAt    *time.Time
	FinishedAt   *time.Time
	Holder       string
	Watermark    *time.Time
	SFRecords    *int64
	PGRows       *int64
	InFlight     int64
	Missing      int64
	Extra        int64
	Stale        int64
	Repaired     int64
}

// Drift is how many records differ.
func (v Verification) Drift() int64 { return v.Missing + v.Extra + v.Stale }

// Unrepaired is how many findings are still to fix.
func (v Verification) Unrepaired() int64 {
	if v.State == Repaired {
		return 0
	}
	return max(0, v.Drift()-v.Repaired)
}

// Querier is a pool or a transaction.
type Querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

const cols = `id, connection_id, mapping_id, state, state_reason, requested_by, requested_at, started_at, finished_at, holder,
	watermark, sf_records, pg_rows, in_flight, missing, extra, stale, repaired`

func scan(row pgx.Row) (Verification, error) {
	var v Verification
	var state string
	err := row.Scan(&v.ID, &v.ConnectionID, &v.MappingID, &state, &v.StateReason, &v.RequestedBy, &v.RequestedAt, &v.StartedAt, &v.FinishedAt,
		&v.Holder, &v.Watermark, &v.SFRecords, &v.PGRows, &v.InFlight, &v.Missing, &v.Extra, &v.Stale, &v.Repaired)
	v.State = State(state)
	return v, err
}

// Request asks for a verification of a mapping. It is refused (Conflict) while one is open.
func Request(ctx context.Context, q Querier, connID, mappingID int64, by string) (Verification, error) {
	v, err := scan(q.QueryRow(ctx, `INSERT INTO verifications (connection_id, mapping_id, state, requested_by)
		VALUES ($1, $2, $3, $4) RETURNING `+cols, connID, mappingID, string(Requested), by))
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return v, failure.E(failure.Conflict, "A verification of this mapping is already waiting or running; wait for it to finish.")
	}
	if err != nil {
		return v, fmt.Errorf("request verification: %w", err)
	}
	return v, nil
}

// Load returns a verification by id.
func Load(ctx context.Context, q Querier, id int64) (Verification, error) {
	v, err := scan(q.QueryRow(ctx, `SELECT `+cols+` FROM verifications WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, failure.E(failure.NotFound, "There is no verification %d.", id)
	}
	if err != nil {
		return v, fmt.Errorf("load verification %d: %w", id, err)
	}
	return v, nil
}

// Latest returns each mapping's newest verification of a connection, by mapping id.
func Latest(ctx context.Context, q Querier, connID int64) (map[int64]Verification, error) {
	rows, err := q.Query(ctx, `SELECT DISTINCT ON (mapping_id) `+cols+` FROM verifications WHERE connection_id = $1
		ORDER BY mapping_id, id DESC`, connID)
	if err != nil {
		return nil, fmt.Errorf("latest verifications: %w", err)
	}
	vs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Verification, error) { return scan(r) })
	if err != nil {
		return nil, fmt.Errorf("latest verifications: %w", err)
	}
	out := make(map[int64]Verification, len(vs))
	for _, v := range vs {
		out[v.MappingID] = v
	}
	return out, nil
}

// LatestOf returns a mapping's newest verification (ok false when it was never verified).
func LatestOf(ctx context.Context, q Querier, mappingID int64) (Verification, bool, error) {
	v, err := scan(q.QueryRow(ctx, `SELECT `+cols+` FROM verifications WHERE mapping_id = $1 ORDER BY id DESC LIMIT 1`, mappingID))
	if errors.Is(err, pgx.ErrNoRows) {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("latest verification: %w", err)
	}
	return v, true, nil
}

// Apply moves a verification through t with a compare-and-set on its state; a verification not in
// one of t.From is a Conflict (someone else moved it on).
func Apply(ctx context.Context, q Querier, id int64, t Transition, reason string) error {
	tag, err := q.Exec(ctx, `UPDATE verifications SET state = $2, state_reason = $3 WHERE id = $1 AND state = ANY($4)`,
		id, string(t.To), reason, t.from())
	if err != nil {
		return fmt.Errorf("verification %d %s: %w", id, t.Name, err)
	}
	if tag.RowsAffected() == 0 {
		v, err := Load(ctx, q, id)
		if err != nil {
			return err
		}
		return failure.E(failure.Conflict, "Cannot %s a verification that is %s.", t.Name, v.State)
	}
	return nil
}

// claim moves a verification through start (or start_repair) and records who runs it.
func claim(ctx context.Context, q Querier, id int64, t Transition, holder string) error {
	if err := Apply(ctx, q, id, t, ""); err != nil {
		return err
	}
	_, err := q.Exec(ctx, `UPDATE verifications SET holder = $2, started_at = COALESCE(started_at, now()) WHERE id = $1`, id, holder)
	return err
}

// Restart requeues a connection's verifications and repairs left running: called when a syncer takes
// the connection's lease, so whatever ran before (a crashed process, a lost lease) has stopped.
func Restart(ctx context.Context, q Querier, connID int64) (int64, error) {
	tag, err := q.Exec(ctx, `UPDATE verifications SET state = CASE state WHEN $2 THEN $3 ELSE $4 END,
			state_reason = 'restarted: the previous run (' || holder || ') stopped before it finished'
		WHERE connection_id = $1 AND state IN ($2, $5)`,
		connID, string(Verifying), string(Requested), string(RepairRequested), string(Repairing))
	if err != nil {
		return 0, fmt.Errorf("requeue verifications: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Pending returns the verifications and repairs a connection's syncer has to start, oldest first.
func Pending(ctx context.Context, q Querier, connID int64) ([]Verification, error) {
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM verifications WHERE connection_id = $1 AND state IN ($2, $3) ORDER BY id`,
		connID, string(Requested), string(RepairRequested))
	if err != nil {
		return nil, fmt.Errorf("pending verifications: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Verification, error) { return scan(r) })
}

// Due lists the mappings of a connection whose last full verification (of any outcome) is older than
// every, or that were never verified: the schedule requests those.
func Due(ctx context.Context, q Querier, connID int64, every time.Duration, mappingIDs []int64) ([]int64, error) {
	if every <= 0 || len(mappingIDs) == 0 {
		return nil, nil
	}
	rows, err := q.Query(ctx, `SELECT m.id FROM unnest($2::bigint[]) AS m(id)
		WHERE NOT EXISTS (SELECT 1 FROM verifications v WHERE v.connection_id = $1 AND v.mapping_id = m.id
			AND (v.state IN ('REQUESTED', 'VERIFYING', 'REPAIR_REQUESTED', 'REPAIRING') OR v.requested_at > now() - make_interval(secs => $3)))`,
		connID, mappingIDs, every.Seconds())
	if err != nil {
		return nil, fmt.Errorf("due verifications: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// Finding is one record that differs.
type Finding struct {
	SFID       string
	Kind       Kind
	SFModstamp *time.Time
	PGModstamp *time.Time
	Repaired   bool
}

// Kind is what differs about a record.
type Kind string

// Kinds of findings.
const (
	Missing Kind = "missing" // in Salesforce, not in the table
	Extra   Kind = "extra"   // in the table, not (or no longer) in Salesforce
	Stale   Kind = "stale"   // in both, the table's row older than the record
)

// Findings returns up to limit findings of a verification (all kinds when kind is ""), by sfid.
func Findings(ctx context.Context, q Querier, id int64, kind Kind, limit int) ([]Finding, error) {
	rows, err := q.Query(ctx, `SELECT sfid, kind, sf_modstamp, pg_modstamp, repaired FROM verification_findings
		WHERE verification_id = $1 AND ($2 = '' OR kind = $2) ORDER BY sfid LIMIT $3`, id, string(kind), limit)
	if err != nil {
		return nil, fmt.Errorf("list findings: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Finding, error) {
		var f Finding
		var kind string
		err := r.Scan(&f.SFID, &kind, &f.SFModstamp, &f.PGModstamp, &f.Repaired)
		f.Kind = Kind(kind)
		return f, err
	})
}
