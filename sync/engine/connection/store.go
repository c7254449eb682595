package connection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/internal/keyring"
	"pgforce/sync/failure"
)

// Connection is a stored connection, tokens excluded.
type Connection struct {
	ID               int64
	Name             string
	Schema           string
	State            State
	StateReason      string
	StateChangedAt   time.Time
	OrgType          OrgType
	LoginURL         string
	APIVersion       string
	WriteAlgorithm   WriteAlgorithm
	InstanceURL      string
	OrgID            string
	OrgName          string
	Username         string
	UserID           string
	IdentityURL      string
	AuthorizedAt     *time.Time
	PollingSeconds   int
	MaxDailyAPICalls *int
	RetentionDays    int
	CreatedAt        time.Time
	StreamTransport  StreamTransport
	VerifyEveryHours int // how often each mapping is verified in full (0: never on a schedule)
}

const cols = `id, name, schema_name, state, state_reason, state_changed_at, org_type, login_url, api_version, write_algorithm,
	instance_url, org_id, org_name, sf_username, sf_user_id, identity_url, authorized_at, polling_seconds, max_daily_api_calls,
	trigger_log_retention_days, created_at, stream_transport, verify_every_hours`

func scan(row pgx.Row) (Connection, error) {
	var c Connection
	var state, orgType, algo, transport string
	err := row.Scan(&c.ID, &c.Name, &c.Schema, &state, &c.StateReason, &c.StateChangedAt, &orgType, &c.LoginURL, &c.APIVersion, &algo,
		&c.InstanceURL, &c.OrgID, &c.OrgName, &c.Username, &c.UserID, &c.IdentityURL, &c.AuthorizedAt, &c.PollingSeconds,
		&c.MaxDailyAPICalls, &c.RetentionDays, &c.CreatedAt, &transport, &c.VerifyEveryHours)
	c.State, c.OrgType, c.WriteAlgorithm, c.StreamTransport = State(state), OrgType(orgType), WriteAlgorithm(algo), StreamTransport(transport)
	return c, err
}

// rowQuerier is satisfied by pools and transactions.
type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Execer is a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Load loads a connection by id from a pool or transaction.
func Load(ctx context.Context, q rowQuerier, id int64) (Connection, error) {
	c, err := scan(q.QueryRow(ctx, `SELECT `+cols+` FROM connections WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, failure.E(failure.NotFound, "connection %d not found", id)
	}
	if err != nil {
		return c, fmt.Errorf("load connection %d: %w", id, err)
	}
	return c, nil
}

// List returns every connection by name.
func List(ctx context.Context, q rowQuerier) ([]Connection, error) {
	rows, err := q.Query(ctx, `SELECT `+cols+` FROM connections ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list connections: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Connection, error) { return scan(r) })
}

// Tokens are a connection's OAuth tokens in the clear (only in memory).
type Tokens struct {
	AccessToken, RefreshToken string
}

func tokenContext(id int64, which string) string { return fmt.Sprintf("connection:%d:%s", id, which) }

// SaveTokens seals and stores tokens. An empty refresh token keeps the stored one (Salesforce does
// not always rotate it).
func SaveTokens(ctx context.Context, tx pgx.Tx, kr *keyring.Keyring, id int64, t Tokens) error {
	access := kr.Seal([]byte(t.AccessToken), tokenContext(id, "access"))
	var refresh []byte
	if t.RefreshToken != "" {
		refresh = kr.Seal([]byte(t.RefreshToken), tokenContext(id, "refresh"))
	}
	_, err := tx.Exec(ctx, `UPDATE connections SET access_token = $2, refresh_token = COALESCE($3, refresh_token), updated_at = now() WHERE id = $1`,
		id, access, refresh)
	if err != nil {
		return fmt.Errorf("save tokens of connection %d: %w", id, err)
	}
	return nil
}

// LoadTokens opens a connection's stored tokens.
func LoadTokens(ctx context.Context, q rowQuerier, kr *keyring.Keyring, id int64) (Tokens, error) {
	var access, refresh []byte
	if err := q.QueryRow(ctx, `SELECT access_token, refresh_token FROM connections WHERE id = $1`, id).Scan(&access, &refresh); err != nil {
		return Tokens{}, fmt.Errorf("load tokens of connection %d: %w", id, err)
	}
	var t Tokens
	if access != nil {
		b, err := kr.Open(access, tokenContext(id, "access"))
		if err != nil {
			return Tokens{}, failure.Wrap(err, failure.Unauthenticated, "The stored Salesforce tokens cannot be decrypted with this instance's secret key; re-authorize the connection.")
		}
		t.AccessToken = string(b)
	}
	if refresh != nil {
		b, err := kr.Open(refresh, tokenContext(id, "refresh"))
		if err != nil {
			return Tokens{}, failure.Wrap(err, failure.Unauthenticated, "The stored Salesforce tokens cannot be decrypted with this instance's secret key; re-authorize the connection.")
		}
		t.RefreshToken = string(b)
	}
	return t, nil
}

// Apply moves the connection through t with a compare-and-set on its state and t's preconditions,
// and records the event in the same transaction. It returns the previous state, or a Conflict
// failure whose cause is a *lifecycle.Refusal when the connection is not in one of t.From or a
// precondition does not hold.
func Apply(ctx context.Context, tx pgx.Tx, id int64, t Transition, reason string) (State, error) {
	args := pgx.NamedArgs{"id": id, "to": string(t.To), "reason": reason}
	var prev string
	err := tx.QueryRow(ctx, `
		WITH cur AS (SELECT state FROM connections WHERE id = @id FOR UPDATE)
		UPDATE connections c SET state = @to, state_reason = @reason, state_changed_at = now(), updated_at = now()
		FROM cur WHERE c.id = @id AND `+t.Guard("cur.state", args)+`
		RETURNING cur.state`, args).Scan(&prev)
	if errors.Is(err, pgx.ErrNoRows) {
		return refusal(ctx, tx, id, t, args)
	}
	if err != nil {
		return "", fmt.Errorf("connection %d %s: %w", id, t.Name, err)
	}
	if !t.Quiet && State(prev) != t.To {
		level := "info"
		switch t.To {
		case SystemError, NeedAuthentication, DBUnavailable:
			level = "error"
		}
		msg := fmt.Sprintf("%s → %s", prev, t.To)
		if reason != "" {
			msg += ": " + reason
		}
		if _, err := tx.Exec(ctx, `INSERT INTO events (connection_id, level, kind, from_state, to_state, message) VALUES ($1, $2, 'state', $3, $4, $5)`,
			id, level, prev, string(t.To), msg); err != nil {
			return "", fmt.Errorf("record connection event: %w", err)
		}
	}
	return State(prev), nil
}

// Check tells whether t would apply to the connection now, without applying it: nil, or the Conflict
// Apply would return. Callers check before slow work (a call to the org) that would be wasted.
func Check(ctx context.Context, q rowQuerier, id int64, t Transition) error {
	args := pgx.NamedArgs{"id": id}
	var cur string
	var ok bool
	err := q.QueryRow(ctx, `SELECT c.state, `+t.Guard("c.state", args)+` FROM connections c WHERE c.id = @id`, args).Scan(&cur, &ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return failure.E(failure.NotFound, "connection %d not found", id)
	}
	if err != nil {
		return fmt.Errorf("check %s of connection %d: %w", t.Name, id, err)
	}
	if ok {
		return nil
	}
	_, err = refusal(ctx, q, id, t, args)
	return err
}

// refusal explains why t did not apply to the connection: its state, or an unmet precondition.
func refusal(ctx context.Context, q rowQuerier, id int64, t Transition, args pgx.NamedArgs) (State, error) {
	var cur string
	if err := q.QueryRow(ctx, `SELECT state FROM connections WHERE id = $1`, id).Scan(&cur); err != nil {
		return "", failure.E(failure.NotFound, "connection %d not found", id)
	}
	return State(cur), t.Explain(ctx, q, State(cur), "connections c WHERE c.id = @id", args, conflictMessage(t, State(cur)))
}

// conflictMessage explains, in the seed's terms, why an action is not possible now.
func conflictMessage(t Transition, cur State) string {
	switch t.Name {
	case "pause":
		if cur == Paused {
			return "The connection is already paused."
		}
		if cur == Busy {
			return "The connection is already pausing (BUSY): it will be PAUSED as soon as the work in flight is done."
		}
		return fmt.Sprintf("Connections can only be paused while syncing (IDLE, POLLING_DB_CHANGES or RECOVERY); this one is %s.", cur)
	case "resume":
		return fmt.Sprintf("Only a paused (or pausing) connection can be resumed; this one is %s.", cur)
	case "recover":
		return fmt.Sprintf("There is no error to recover from: the connection is %s.", cur)
	}
	return fmt.Sprintf("Cannot %s a connection in state %s.", t.Name, cur)
}
