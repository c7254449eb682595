// Package lease gives one pgforce instance at a time the right to sync a connection: a row per
// connection holding the holder's name and an expiry, renewed by heartbeat. When the holder dies its
// lease expires and another instance takes over; a holder that cannot renew stops syncing before
// anyone else may start.
package lease

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Default timings: a dead holder is replaced within TTL plus one acquisition round (well under 15 s).
const (
	DefaultTTL       = 10 * time.Second
	DefaultHeartbeat = 2 * time.Second
)

// Manager acquires and renews leases for one instance.
type Manager struct {
	pool   *pgxpool.Pool
	holder string
	ttl    time.Duration
}

// New returns a Manager acting as holder (a unique name per process).
func New(pool *pgxpool.Pool, holder string, ttl time.Duration) *Manager {
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	return &Manager{pool: pool, holder: holder, ttl: ttl}
}

// HolderName is a unique name for this process as a lease holder: "HOST-PID-TOKEN", TOKEN being 8
// random hex digits. Operators (and tests) read the process id as the second field from the end,
// so the token must never contain a "-" (a base64url token did now and then, and the name then
// named no process).
func HolderName() string {
	host, _ := os.Hostname()
	token := make([]byte, 4)
	_, _ = rand.Read(token) // crypto/rand.Read never fails (Go 1.24+)
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(token))
}

// Holder is this instance's name.
func (m *Manager) Holder() string { return m.holder }

// TTL is how long a lease lasts without renewal.
func (m *Manager) TTL() time.Duration { return m.ttl }

// TryAcquire takes the connection's lease if it is free, expired, or already ours (then it renews it).
// It returns whether this instance holds the lease now.
func (m *Manager) TryAcquire(ctx context.Context, connID int64) (bool, error) {
	// Renewal changes only expires_at, so it is not held up by the fence (see Check).
	tag, err := m.pool.Exec(ctx, `UPDATE leases SET expires_at = now() + $3::interval WHERE connection_id = $1 AND holder = $2 AND expires_at > now()`,
		connID, m.holder, m.ttl)
	if err != nil {
		return false, fmt.Errorf("renew lease of connection %d: %w", connID, err)
	}
	if tag.RowsAffected() == 1 {
		return true, nil
	}
	// The row can be locked by its previous holder's release, itself waiting for that holder's last
	// transaction: give up for this round rather than hold up the instance's other connections.
	// A lease another instance holds is not tried at all: ON CONFLICT DO UPDATE locks the row even
	// when its WHERE then refuses, and that lock (holder is a key) waits for the holder's fenced
	// work, a load for minutes, so an instance under its share lost a second per busy connection
	// every round.
	var holder string
	err = pgx.BeginFunc(ctx, m.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '1s'`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `
		INSERT INTO leases AS l (connection_id, holder, acquired_at, expires_at)
		SELECT $1, $2, now(), now() + $3::interval
		WHERE NOT EXISTS (SELECT 1 FROM leases WHERE connection_id = $1 AND holder <> $2 AND expires_at > now())
		ON CONFLICT (connection_id) DO UPDATE SET
			holder = EXCLUDED.holder,
			acquired_at = CASE WHEN l.holder = EXCLUDED.holder THEN l.acquired_at ELSE now() END,
			expires_at = EXCLUDED.expires_at
		WHERE l.holder = EXCLUDED.holder OR l.expires_at < now()
		RETURNING holder`, connID, m.holder, m.ttl).Scan(&holder)
	})
	var pgErr *pgconn.PgError
	if errors.Is(err, pgx.ErrNoRows) || (errors.As(err, &pgErr) && pgErr.Code == "55P03") { // lock_not_available
		return false, nil
	}
	if err != nil {
		// The connection may have been deleted (foreign key): nobody can hold it.
		return false, fmt.Errorf("acquire lease of connection %d: %w", connID, err)
	}
	return holder == m.holder, nil
}

// Release gives the lease up at once (graceful shutdown), so another instance need not wait for expiry.
func (m *Manager) Release(ctx context.Context, connID int64) error {
	_, err := m.pool.Exec(ctx, `DELETE FROM leases WHERE connection_id = $1 AND holder = $2`, connID, m.holder)
	if err != nil {
		return fmt.Errorf("release lease of connection %d: %w", connID, err)
	}
	return nil
}

// ErrLost is returned by Check when this instance no longer holds the lease.
var ErrLost = errors.New("lease lost: another pgforce instance now syncs this connection")

// Check is the fence: called inside a transaction that changes synced state (claims trigger-log rows,
// advances watermarks, loads a table), it locks the lease row and fails unless this instance holds an
// unexpired lease. A holder that lost its lease can therefore never commit work a new holder also
// does. The lock is FOR KEY SHARE: holder is part of a unique key (migration 005), so a takeover
// waits for the transaction, but this instance's renewals, which change only expires_at, do not.
func (m *Manager) Check(ctx context.Context, tx pgx.Tx, connID int64) error {
	var ok bool
	err := tx.QueryRow(ctx, `SELECT holder = $2 AND expires_at > now() FROM leases WHERE connection_id = $1 FOR KEY SHARE`, connID, m.holder).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !ok) {
		return ErrLost
	}
	if err != nil {
		return fmt.Errorf("check lease of connection %d: %w", connID, err)
	}
	return nil
}

// CheckSyncing is Check that also reads, in the same statement, the connection's state (its
// connections.state, for the caller to judge): work that must not be applied once the connection
// was paused learns both in one round trip of its own transaction.
func (m *Manager) CheckSyncing(ctx context.Context, tx pgx.Tx, connID int64) (state string, err error) {
	var ok bool
	err = tx.QueryRow(ctx, `SELECT l.holder = $2 AND l.expires_at > now(), c.state FROM leases l JOIN connections c ON c.id = l.connection_id
		WHERE l.connection_id = $1 FOR KEY SHARE OF l`, connID, m.holder).Scan(&ok, &state)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && !ok) {
		return "", ErrLost
	}
	if err != nil {
		return "", fmt.Errorf("check lease of connection %d: %w", connID, err)
	}
	return state, nil
}

// Holder returns who holds a connection's lease and until when ("" if nobody).
func Holder(ctx context.Context, pool *pgxpool.Pool, connID int64) (string, time.Time, error) {
	var holder string
	var until time.Time
	err := pool.QueryRow(ctx, `SELECT holder, expires_at FROM leases WHERE connection_id = $1 AND expires_at > now()`, connID).Scan(&holder, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", time.Time{}, nil
	}
	return holder, until, err
}

// LockForDelete locks a connection's lease row for the rest of the transaction, for deleting the
// connection: the syncer's work holds the lease row (the fence) and then writes rows that point at
// the connection, so a deletion must wait on the lease before it locks the connection, or the two
// deadlock.
func LockForDelete(ctx context.Context, tx pgx.Tx, connID int64) error {
	if _, err := tx.Exec(ctx, `SELECT 1 FROM leases WHERE connection_id = $1 FOR UPDATE`, connID); err != nil {
		return fmt.Errorf("lock the lease of connection %d: %w", connID, err)
	}
	return nil
}

// Announce records that this instance is alive and returns how many instances are (those seen
// within the lease TTL, this one included): the connections are shared among them.
func (m *Manager) Announce(ctx context.Context) (int, error) {
	var live int
	err := m.pool.QueryRow(ctx, `WITH me AS (
			INSERT INTO instances (name, seen_at) VALUES ($1, now())
			ON CONFLICT (name) DO UPDATE SET seen_at = now())
		SELECT count(*) + 1 FROM instances WHERE name <> $1 AND seen_at > now() - $2::interval`, m.holder, m.ttl).Scan(&live)
	if err != nil {
		return 1, fmt.Errorf("announce instance %s: %w", m.holder, err)
	}
	// Instances gone for good are forgotten after a while.
	if _, err := m.pool.Exec(ctx, `DELETE FROM instances WHERE seen_at < now() - interval '1 hour'`); err != nil {
		return live, fmt.Errorf("forget instances gone: %w", err)
	}
	return live, nil
}

// Leave removes this instance from the live ones (graceful shutdown): the others take its share at once.
func (m *Manager) Leave(ctx context.Context) error {
	if _, err := m.pool.Exec(ctx, `DELETE FROM instances WHERE name = $1`, m.holder); err != nil {
		return fmt.Errorf("leave as instance %s: %w", m.holder, err)
	}
	return nil
}

// Share is how many of m connections each of n live instances holds: about m/n, rounded up, so
// that every connection has a holder.
func Share(connections, instances int) int {
	if instances <= 1 {
		return connections
	}
	return (connections + instances - 1) / instances
}
