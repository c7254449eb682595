// Package account holds the dashboard's users: roles, password checks, the one-time setup link that
// creates the first admin, and sign-in throttling.
package account

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/audit"
	"pgforce/sync/failure"
	"pgforce/sync/store"
)

// Role is what a user may do.
type Role string

// Roles.
const (
	Admin  Role = "admin"  // may change anything
	Viewer Role = "viewer" // may look at everything, change nothing
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Admin, Viewer:
		return r, nil
	}
	return "", failure.InvalidField("role", "role must be admin or viewer, got %q", s)
}

// User is a dashboard account.
type User struct {
	ID          int64
	Email       string
	Role        Role
	CreatedAt   time.Time
	LastLoginAt *time.Time
}

// CanAct reports whether the user may change things.
func (u User) CanAct() bool { return u.Role == Admin }

// Service manages users.
type Service struct {
	pool     *pgxpool.Pool
	throttle Throttle
	now      func() time.Time
}

// New returns a Service over the pgforce schema, throttling sign-ins with DefaultThrottle.
func New(pool *pgxpool.Pool) *Service { return NewWithThrottle(pool, DefaultThrottle) }

// NewWithThrottle returns a Service that throttles sign-ins with t.
func NewWithThrottle(pool *pgxpool.Pool, t Throttle) *Service {
	return &Service{pool: pool, throttle: t, now: time.Now}
}

// NormalizeEmail trims and lower-cases an address and checks its shape.
func NormalizeEmail(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return "", failure.InvalidField("email", "Enter an email address.")
	}
	if len(s) > 254 {
		return "", failure.InvalidField("email", "The email address is too long.")
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s, "@") {
		return "", failure.InvalidField("email", "%q is not a valid email address.", s)
	}
	return s, nil
}

// ValidatePassword checks the password policy.
func ValidatePassword(pw string) error {
	n := len([]rune(pw))
	if n < MinPasswordLen {
		return failure.InvalidField("password", "The password must have at least %d characters.", MinPasswordLen)
	}
	if len(pw) > MaxPasswordLen {
		return failure.InvalidField("password", "The password must have at most %d characters.", MaxPasswordLen)
	}
	return nil
}

// Create adds a user and records it in the audit trail (in the same transaction).
func (s *Service) Create(ctx context.Context, actor audit.Actor, email, password string, role Role) (User, error) {
	var u User
	err := store.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		u, err = createUser(ctx, tx, email, password, role)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.UserAdd, Target: u.Email, After: map[string]any{"email": u.Email, "role": u.Role}})
	})
	return u, err
}

func createUser(ctx context.Context, tx pgx.Tx, email, password string, role Role) (User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return User{}, err
	}
	if _, err := ParseRole(string(role)); err != nil {
		return User{}, err
	}
	if err := ValidatePassword(password); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(password)
	if err != nil {
		return User{}, err
	}
	u := User{Email: email, Role: role}
	err = tx.QueryRow(ctx, `INSERT INTO users (email, password_hash, role) VALUES ($1, $2, $3) RETURNING id, created_at`,
		email, hash, string(role)).Scan(&u.ID, &u.CreatedAt)
	if store.IsCode(err, "23505") {
		return User{}, failure.InvalidField("email", "A user with the email %s already exists.", email)
	}
	if err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	return u, nil
}

// Count returns the number of users.
func (s *Service) Count(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

const userCols = `id, email, role, created_at, last_login_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	var role string
	err := row.Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &u.LastLoginAt)
	u.Role = Role(role)
	return u, err
}

// Get returns a user by id.
func (s *Service) Get(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	return u, store.NotFound(err, "user")
}

// List returns all users by email.
func (s *Service) List(ctx context.Context) ([]User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+userCols+` FROM users ORDER BY email`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
}

// Remove deletes a user by email. The last admin cannot be removed, so the instance stays manageable.
func (s *Service) Remove(ctx context.Context, actor audit.Actor, email string) error {
	email, err := NormalizeEmail(email)
	if err != nil {
		return err
	}
	return store.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		// Lock admins so two concurrent removals cannot both leave zero admins.
		if _, err := tx.Exec(ctx, `SELECT id FROM users WHERE role = 'admin' FOR UPDATE`); err != nil {
			return err
		}
		u, err := scanUser(tx.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE email = $1`, email))
		if err != nil {
			return store.NotFound(err, "user "+email)
		}
		if u.Role == Admin {
			var admins int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE role = 'admin'`).Scan(&admins); err != nil {
				return err
			}
			if admins == 1 {
				return failure.E(failure.Conflict, "%s is the last admin and cannot be removed; add another admin first.", email)
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, u.ID); err != nil {
			return fmt.Errorf("remove user: %w", err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.UserRemove, Target: email, Before: map[string]any{"email": email, "role": u.Role}})
	})
}

// ErrBadCredentials is returned for an unknown account or a wrong password alike.
var ErrBadCredentials = failure.E(failure.Unauthenticated, "The email or password is not correct.")

// Authenticate checks an email and password from a client address, applying the throttle (see
// Throttle). It returns ErrBadCredentials, the same refusal with the wait the throttle now imposes
// on the next attempt, or a RateLimited failure saying when to try again.
func (s *Service) Authenticate(ctx context.Context, email, password, clientIP string) (User, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	// An email no account can have (too long to store or index, a NUL byte, invalid UTF-8) is a
	// wrong email like any other: counted, but never sent to the database as itself.
	storable := len(email) <= 254 && utf8.ValidString(email) && strings.IndexByte(email, 0) < 0
	key := email
	if !storable {
		key = "invalid:" + keyring.HashToken(email)
	}
	address := clientAddress(clientIP)
	wait, err := s.throttle.claim(ctx, s.pool, s.now(), key, address)
	if err != nil {
		return User{}, err
	}
	var hash string
	var u User
	var role string
	err = pgx.ErrNoRows
	if storable {
		err = s.pool.QueryRow(ctx, `SELECT id, email, role, created_at, last_login_at, password_hash FROM users WHERE email = $1`, email).
			Scan(&u.ID, &u.Email, &role, &u.CreatedAt, &u.LastLoginAt, &hash)
	}
	u.Role = Role(role)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return User{}, fmt.Errorf("authenticate: %w", err)
	}
	if errors.Is(err, pgx.ErrNoRows) || len(password) > MaxPasswordLen {
		CheckPassword(dummyHash, password)
		hash = ""
	}
	if hash == "" || !CheckPassword(hash, password) {
		if wait > 0 {
			return User{}, &failure.Error{Kind: failure.Unauthenticated, After: wait,
				Message: ErrBadCredentials.Message + " After several failed attempts, wait " + waitText(wait) + " before the next one."}
		}
		return User{}, ErrBadCredentials
	}
	if err := s.throttle.succeeded(ctx, s.pool, key, address); err != nil {
		return User{}, err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE users SET last_login_at = now() WHERE id = $1`, u.ID); err != nil {
		return User{}, fmt.Errorf("record login: %w", err)
	}
	return u, nil
}

// Unlock lifts the sign-in delays of a user's account from every address, for an admin helping a
// user whose own mistakes (or someone's guesses from the same address) made them wait. It returns
// the number of addresses that had attempts; the change is audited.
func (s *Service) Unlock(ctx context.Context, actor audit.Actor, email string) (int64, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return 0, err
	}
	var n int64
	err = store.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)`, email).Scan(&exists); err != nil {
			return err
		}
		if !exists {
			return failure.E(failure.NotFound, "There is no user %s.", email)
		}
		if n, err = s.throttle.unlock(ctx, tx, email); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.UserUnlock, Target: email,
			Detail: fmt.Sprintf("sign-in delays lifted for %d address(es)", n)})
	})
	return n, err
}

// NewSetupLink replaces any outstanding setup token with a new one, valid once for 24 hours, and
// returns the token. It refuses when a user already exists.
func (s *Service) NewSetupLink(ctx context.Context) (string, error) {
	token := keyring.RandomToken(24)
	err := store.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return failure.E(failure.Conflict, "pgforce already has users; sign in instead.")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM setup_tokens`); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)`,
			keyring.HashToken(token), s.now().Add(24*time.Hour))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("create setup link: %w", err)
	}
	return token, nil
}

// ErrSetupLinkInvalid covers used, expired and unknown setup tokens.
var ErrSetupLinkInvalid = failure.E(failure.Forbidden, "This setup link is invalid, expired or already used. Restart pgforce to print a new one.")

// CheckSetupToken reports whether a setup token may still be used.
func (s *Service) CheckSetupToken(ctx context.Context, token string) error {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM users) AND EXISTS (
		SELECT 1 FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2)`,
		keyring.HashToken(token), s.now()).Scan(&ok)
	if err != nil {
		return fmt.Errorf("check setup link: %w", err)
	}
	if !ok {
		return ErrSetupLinkInvalid
	}
	return nil
}

// CompleteSetup spends the setup token and creates the first admin, atomically.
func (s *Service) CompleteSetup(ctx context.Context, token, email, password string) (User, error) {
	var u User
	err := store.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		// The row lock makes two concurrent submissions of the same link serialise; the second sees used_at.
		tag, err := tx.Exec(ctx, `UPDATE setup_tokens SET used_at = now()
			WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`, keyring.HashToken(token), s.now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() != 1 {
			return ErrSetupLinkInvalid
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrSetupLinkInvalid
		}
		u, err = createUser(ctx, tx, email, password, Admin)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.Actor{Name: u.Email, Kind: audit.ActorUser}, Action: audit.UserAdd,
			Target: u.Email, After: map[string]any{"email": u.Email, "role": u.Role}, Detail: "first admin, via the setup link"})
	})
	return u, err
}

type ctxKey struct{}

// WithUser returns a context carrying the signed-in user.
func WithUser(ctx context.Context, u User) context.Context {
	return context.WithValue(ctx, ctxKey{}, u)
}

// FromContext returns the signed-in user, if any.
func FromContext(ctx context.Context) (User, bool) {
	u, ok := ctx.Value(ctxKey{}).(User)
	return u, ok
}
