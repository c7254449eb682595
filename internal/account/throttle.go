package account

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/failure"
	"pgforce/sync/store"
)

// Throttle slows sign-in guessing without letting anyone lock an account. Attempts are counted per
// account and client address together: past Free attempts since the last success, each attempt from
// that address at that account waits for a delay that doubles, up to MaxDelay, while the right
// password from any other address goes straight in. Each address also has a cap on failed attempts
// over all accounts (AddressCap per Window), so one address cannot spread its guesses across accounts.
// Counts live in Postgres, so every pgforce instance in front of the same database enforces the same
// limits.
type Throttle struct {
	Free       int           // attempts per account and address without a delay
	BaseDelay  time.Duration // the wait after attempt Free; it doubles with each further attempt
	MaxDelay   time.Duration // the longest wait
	Forget     time.Duration // an account and address with no attempt for this long start afresh
	AddressCap int           // failed attempts per address, at any account, within Window
	Window     time.Duration // the address window, from its first failure
}

// DefaultThrottle: 5 attempts per account and address, then waits of 1 s, 2 s, 4 s … up to 15 minutes,
// forgotten after an hour without an attempt; 20 failures per address in 15 minutes.
var DefaultThrottle = Throttle{Free: 5, BaseDelay: time.Second, MaxDelay: 15 * time.Minute, Forget: time.Hour,
	AddressCap: 20, Window: 15 * time.Minute}

// delay is the wait after the n-th attempt at an account from an address.
func (t Throttle) delay(n int) time.Duration {
	if n < t.Free {
		return 0
	}
	d := t.BaseDelay
	for range n - t.Free {
		if d >= t.MaxDelay {
			break
		}
		d *= 2
	}
	return min(d, t.MaxDelay)
}

// clientAddress is the address attempts are counted by: an IPv4 address, or the /64 of an IPv6
// address (one subscriber gets a whole /64, so counting single IPv6 addresses would count nothing).
func clientAddress(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// claim counts an attempt at email from address before its password is checked, so that parallel
// attempts cannot get past the count, and returns the wait it imposes on the next attempt. An attempt
// that must wait, or comes from an address over its cap, is refused (RateLimited) and not counted.
func (t Throttle) claim(ctx context.Context, pool *pgxpool.Pool, now time.Time, email, address string) (time.Duration, error) {
	// Counts past Forget or Window are read as zero below; deleting them here only keeps the tables
	// small, outside the claim's transaction so that it holds no other row locks.
	if _, err := pool.Exec(ctx, `DELETE FROM sign_in_attempts WHERE last_attempt <= $1`, now.Add(-t.Forget)); err != nil {
		return 0, fmt.Errorf("forget old sign-in attempts: %w", err)
	}
	if _, err := pool.Exec(ctx, `DELETE FROM sign_in_address_failures WHERE window_start <= $1`, now.Add(-t.Window)); err != nil {
		return 0, fmt.Errorf("forget old sign-in attempts: %w", err)
	}
	var wait time.Duration
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		// Two rows, locked in one order (the account and address's, then the address's), so claims
		// never deadlock.
		var attempts int
		var lastAttempt time.Time
		var notBefore *time.Time
		err := tx.QueryRow(ctx, `
			INSERT INTO sign_in_attempts AS a (email, address, attempts, last_attempt) VALUES ($1, $2, 0, $3)
			ON CONFLICT (email, address) DO UPDATE SET attempts = a.attempts
			RETURNING attempts, last_attempt, not_before`, email, address, now).Scan(&attempts, &lastAttempt, &notBefore)
		if err != nil {
			return err
		}
		if !lastAttempt.After(now.Add(-t.Forget)) {
			attempts, notBefore = 0, nil
		}
		var failures int
		var windowStart time.Time
		err = tx.QueryRow(ctx, `
			INSERT INTO sign_in_address_failures AS f (address, failures, window_start) VALUES ($1, 0, $2)
			ON CONFLICT (address) DO UPDATE SET failures = f.failures
			RETURNING failures, window_start`, address, now).Scan(&failures, &windowStart)
		if err != nil {
			return err
		}
		if !windowStart.After(now.Add(-t.Window)) {
			failures, windowStart = 0, now
		}
		if failures >= t.AddressCap {
			return rateLimited(windowStart.Add(t.Window).Sub(now), "Too many failed sign-in attempts from your network address.")
		}
		if notBefore != nil && notBefore.After(now) {
			return rateLimited(notBefore.Sub(now), "Too many failed sign-in attempts for this account from your network address.")
		}
		attempts++
		wait = t.delay(attempts)
		notBefore = nil
		if wait > 0 {
			nb := now.Add(wait)
			notBefore = &nb
		}
		if _, err := tx.Exec(ctx, `UPDATE sign_in_attempts SET attempts = $3, last_attempt = $4, not_before = $5 WHERE email = $1 AND address = $2`,
			email, address, attempts, now, notBefore); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE sign_in_address_failures SET failures = $2, window_start = $3 WHERE address = $1`, address, failures+1, windowStart)
		return err
	})
	var fe *failure.Error
	if errors.As(err, &fe) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("count sign-in attempt: %w", err)
	}
	return wait, nil
}

// succeeded forgets the account's attempts from the address and takes back this attempt's count
// against the address. Its earlier failures stay: signing in to one's own account between guesses
// at others does not reset the address's cap.
func (t Throttle) succeeded(ctx context.Context, pool *pgxpool.Pool, email, address string) error {
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM sign_in_attempts WHERE email = $1 AND address = $2`, email, address); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `UPDATE sign_in_address_failures SET failures = greatest(failures - 1, 0) WHERE address = $1`, address)
		return err
	})
	if err != nil {
		return fmt.Errorf("record sign-in: %w", err)
	}
	return nil
}

// unlock forgets every address's attempts at an account and reports how many addresses had some.
func (t Throttle) unlock(ctx context.Context, tx pgx.Tx, email string) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM sign_in_attempts WHERE email = $1`, email)
	if err != nil {
		return 0, fmt.Errorf("unlock sign-in: %w", err)
	}
	return tag.RowsAffected(), nil
}

func rateLimited(after time.Duration, what string) error {
	return &failure.Error{Kind: failure.RateLimited, After: after, Message: what + " Try again in " + waitText(after) + "."}
}

// waitText says how long to wait, rounded up: "1 second", "40 seconds", "3 minutes".
func waitText(d time.Duration) string {
	if d <= time.Minute {
		n := max(1, int(math.Ceil(d.Seconds())))
		return fmt.Sprintf("%d second%s", n, plural(n))
	}
	n := int(math.Ceil(d.Minutes()))
	return fmt.Sprintf("%d minute%s", n, plural(n))
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
