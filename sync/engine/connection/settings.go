package connection

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"pgforce/sync/failure"
	"pgforce/sync/store"
)

// Row is what a new connection is created with.
type Row struct {
	Name, Schema string
	OrgType      OrgType
	LoginURL     string
	APIVersion   string
}

// Insert stores a new connection in state NEW and returns its id; a name or schema already taken is
// a Conflict.
func Insert(ctx context.Context, tx pgx.Tx, r Row) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO connections (name, schema_name, state, org_type, login_url, api_version)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, r.Name, r.Schema, string(New), string(r.OrgType), r.LoginURL, r.APIVersion).Scan(&id)
	if pgErr := (*pgconn.PgError)(nil); errors.As(err, &pgErr) && pgErr.Code == "23505" {
		if pgErr.ConstraintName == "connections_schema_name_key" {
			return 0, &failure.Error{Kind: failure.Conflict, Field: "schema", Message: fmt.Sprintf("Another connection already uses schema %q; choose another schema.", r.Schema)}
		}
		return 0, &failure.Error{Kind: failure.Conflict, Field: "name", Message: fmt.Sprintf("A connection named %q already exists; choose another name.", r.Name)}
	}
	if err != nil {
		return 0, fmt.Errorf("create connection: %w", err)
	}
	return id, nil
}

// Authorized is who and which org a completed authorization is for.
type Authorized struct {
	InstanceURL, IdentityURL string
	OrgID, OrgName           string
	UserID, Username         string
}

// SaveAuthorization records the org and user a connection is authorized as, now.
func SaveAuthorization(ctx context.Context, tx pgx.Tx, id int64, a Authorized) error {
	if _, err := tx.Exec(ctx, `UPDATE connections SET instance_url = $2, identity_url = $3, org_id = $4, org_name = $5,
		sf_user_id = $6, sf_username = $7, authorized_at = now(), updated_at = now() WHERE id = $1`,
		id, a.InstanceURL, a.IdentityURL, a.OrgID, a.OrgName, a.UserID, a.Username); err != nil {
		return fmt.Errorf("save authorization: %w", err)
	}
	return nil
}

// Setting is a stored setting an admin changes.
type Setting string

// Settings.
const (
	WriteAlgorithmSetting  Setting = "write_algorithm"
	APIVersionSetting      Setting = "api_version"
	PollingSetting         Setting = "polling_seconds"    // the polling interval new mappings start with
	StreamTransportSetting Setting = "stream_transport"   // how accelerated mappings stream (auto, pubsub, cometd)
	VerifySetting          Setting = "verify_every_hours" // how often mappings are verified in full (0: off)
)

// LockSetting returns the connection's state and a setting's value, locking the row for the rest of
// the transaction.
func LockSetting(ctx context.Context, tx pgx.Tx, id int64, s Setting) (State, any, error) {
	var state string
	var value any
	if err := tx.QueryRow(ctx, `SELECT state, `+string(s)+` FROM connections WHERE id = $1 FOR UPDATE`, id).Scan(&state, &value); err != nil {
		return "", nil, store.NotFound(err, "connection")
	}
	return State(state), value, nil
}

// SaveSetting stores a setting's new value.
func SaveSetting(ctx context.Context, tx pgx.Tx, id int64, s Setting, value any) error {
	if _, err := tx.Exec(ctx, `UPDATE connections SET `+string(s)+` = $2, updated_at = now() WHERE id = $1`, id, value); err != nil {
		return fmt.Errorf("save %s of connection %d: %w", s, id, err)
	}
	return nil
}

// LoadForUpdate returns a connection, locked for the rest of the transaction.
func LoadForUpdate(ctx context.Context, tx pgx.Tx, id int64) (Connection, error) {
	c, err := scan(tx.QueryRow(ctx, `SELECT `+cols+` FROM connections WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return c, failure.E(failure.NotFound, "connection %d not found", id)
	}
	if err != nil {
		return c, fmt.Errorf("load connection %d: %w", id, err)
	}
	return c, nil
}

// LockShared returns the connection's state and write algorithm, holding the row shared for the rest
// of the transaction: pause, reload and re-authorization change the row, so once such a change has
// committed, no work is started under the old state.
func LockShared(ctx context.Context, tx pgx.Tx, id int64) (State, WriteAlgorithm, error) {
	var state, algo string
	if err := tx.QueryRow(ctx, `SELECT state, write_algorithm FROM connections WHERE id = $1 FOR SHARE`, id).Scan(&state, &algo); err != nil {
		return "", "", fmt.Errorf("read connection state: %w", err)
	}
	return State(state), WriteAlgorithm(algo), nil
}

// Delete removes a connection; its mappings, events, leases and statistics go with the row (ON
// DELETE CASCADE).
func Delete(ctx context.Context, tx pgx.Tx, id int64) error {
	if _, err := tx.Exec(ctx, `DELETE FROM connections WHERE id = $1`, id); err != nil {
		return fmt.Errorf("delete connection %d: %w", id, err)
	}
	return nil
}

// IDsInSchemas lists the connections syncing into any of the schemas (the bench's, to check that
// none of them is in use before DeleteInSchemas).
func IDsInSchemas(ctx context.Context, q rowQuerier, schemas []string) ([]int64, error) {
	rows, err := q.Query(ctx, `SELECT id FROM connections WHERE schema_name = ANY($1) ORDER BY id`, schemas)
	if err != nil {
		return nil, fmt.Errorf("list the connections of schemas %v: %w", schemas, err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("list the connections of schemas %v: %w", schemas, err)
	}
	return ids, nil
}

// DeleteInSchemas removes the connections whose tables live in the given schemas, whatever their
// state (the benchmarks clear an earlier run's).
func DeleteInSchemas(ctx context.Context, q Execer, schemas []string) error {
	if _, err := q.Exec(ctx, `DELETE FROM connections WHERE schema_name = ANY($1)`, schemas); err != nil {
		return fmt.Errorf("delete the connections of schemas %v: %w", schemas, err)
	}
	return nil
}

// SaveAPIUsage stores the org's daily API usage as a client last saw it (Salesforce reports it on
// every response), so that processes which do not sync can read it without calls of their own.
func SaveAPIUsage(ctx context.Context, q Execer, id int64, used, max int) error {
	if _, err := q.Exec(ctx, `INSERT INTO api_usage (connection_id, used, max, seen_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (connection_id) DO UPDATE SET used = EXCLUDED.used, max = EXCLUDED.max, seen_at = EXCLUDED.seen_at`, id, used, max); err != nil {
		return fmt.Errorf("save API usage of connection %d: %w", id, err)
	}
	return nil
}

// APIUsage reads the org's daily API usage as last stored; max is 0 when it was never seen (nothing
// synced yet, or an org that does not report it).
func APIUsage(ctx context.Context, q rowQuerier, id int64) (used, max int, at time.Time, err error) {
	err = q.QueryRow(ctx, `SELECT used, max, seen_at FROM api_usage WHERE connection_id = $1`, id).Scan(&used, &max, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, time.Time{}, nil
	}
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("read API usage of connection %d: %w", id, err)
	}
	return used, max, at, nil
}
