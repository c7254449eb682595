package account

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/failure"
)

// Throttle limits failed sign-ins. Counters live in Postgres so that every pgforce instance in front of
// the same database enforces the same limit.
type Throttle struct {
	Window       time.Duration // failures are counted over this window
	AccountLimit int           // failures per account within Window before it is locked
	AddressLimit int           // failures per client address within Window before it is locked
	LockoutFor   time.Duration // how long a lock lasts
}

// DefaultThrottle: 5 failures per account or 20 per address in 15 minutes lock for 15 minutes.
var DefaultThrottle = Throttle{Window: 15 * time.Minute, AccountLimit: 5, AddressLimit: 20, LockoutFor: 15 * time.Minute}

func (t Throttle) limitFor(key string) int {
	if strings.HasPrefix(key, "ip:") {
		return t.AddressLimit
	}
	return t.AccountLimit
}

func lockedError(key string, until, now time.Time) error {
	mins := int(math.Ceil(until.Sub(now).Minutes()))
	what := "this account"
	if strings.HasPrefix(key, "ip:") {
		what = "your network address"
	}
	return &failure.Error{Kind: failure.RateLimited, After: until.Sub(now),
		Message: fmt.Sprintf("Too many failed sign-in attempts for %s. Try again in %d minute%s.", what, mins, plural(mins))}
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func (t Throttle) check(ctx context.Context, pool *pgxpool.Pool, now time.Time, keys []string) error {
	rows, err := pool.Query(ctx, `SELECT key, locked_until FROM login_throttle WHERE key = ANY($1) AND locked_until > $2`, keys, now)
	if err != nil {
		return fmt.Errorf("check sign-in throttle: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var key string
		var until time.Time
		if err := rows.Scan(&key, &until); err != nil {
			return err
		}
		return lockedError(key, until, now)
	}
	return rows.Err()
}

// fail counts a failure for every key and returns a RateLimited error if this failure locked one.
func (t Throttle) fail(ctx context.Context, pool *pgxpool.Pool, now time.Time, keys []string) error {
	for _, key := range keys {
		var failures int
		// Start a new window when the old one is over; lock when the limit is reached.
		err := pool.QueryRow(ctx, `
			INSERT INTO login_throttle AS t (key, failures, window_start) VALUES ($1, 1, $2)
			ON CONFLICT (key) DO UPDATE SET
				failures = CASE WHEN t.window_start < $2 - $3::interval THEN 1 ELSE t.failures + 1 END,
				window_start = CASE WHEN t.window_start < $2 - $3::interval THEN $2 ELSE t.window_start END
			RETURNING failures`, key, now, t.Window).Scan(&failures)
		if err != nil {
			return fmt.Errorf("count failed sign-in: %w", err)
		}
		if failures >= t.limitFor(key) {
			until := now.Add(t.LockoutFor)
			if _, err := pool.Exec(ctx, `UPDATE login_throttle SET locked_until = $2, failures = 0, window_start = $3 WHERE key = $1`, key, until, now); err != nil {
				return fmt.Errorf("lock sign-in: %w", err)
			}
			return lockedError(key, until, now)
		}
	}
	return nil
}

func (t Throttle) reset(ctx context.Context, pool *pgxpool.Pool, key string) error {
	if _, err := pool.Exec(ctx, `DELETE FROM login_throttle WHERE key = $1`, key); err != nil {
		return fmt.Errorf("reset sign-in throttle: %w", err)
	}
	return nil
}
