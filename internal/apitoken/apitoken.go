// Package apitoken holds the bearer tokens of the REST API and the metrics endpoint. Admins create
// them (CLI or dashboard); the secret is shown once and only its SHA-256 is stored, so a database dump
// cannot be replayed against the API. Tokens are revoked, never deleted, so the audit trail keeps
// naming them.
package apitoken

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/audit"
	"pgforce/sync/failure"
	"pgforce/sync/store"
)

// Role is what a token may do.
type Role string

// Roles.
const (
	Admin   Role = "admin"   // every API call, changes included
	Viewer  Role = "viewer"  // read-only API calls
	Metrics Role = "metrics" // only /metrics, for a Prometheus scraper
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(strings.ToLower(strings.TrimSpace(s))); r {
	case Admin, Viewer, Metrics:
		return r, nil
	}
	return "", failure.InvalidField("role", "role must be admin, viewer or metrics, got %q", s)
}

// Prefix starts every secret, so leaked tokens are easy to recognise (and to scan repositories for).
const Prefix = "pgf_"

// Token is a stored token, without its secret.
type Token struct {
	ID         int64      `json:"id"`
	Name       string     `json:"name"`
	Role       Role       `json:"role"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// Actor names the token in the audit trail.
func (t Token) Actor() audit.Actor { return audit.Actor{Name: "token:" + t.Name, Kind: audit.ActorAPI} }

// Service manages tokens.
type Service struct{ pool *pgxpool.Pool }

// New returns a Service over pgforce's schema.
func New(pool *pgxpool.Pool) *Service { return &Service{pool: pool} }

const cols = `id, name, role, created_at, last_used_at, revoked_at`

func scan(row pgx.Row) (Token, error) {
	var t Token
	var role string
	err := row.Scan(&t.ID, &t.Name, &role, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt)
	t.Role = Role(role)
	return t, err
}

// Create makes a token and returns it with its secret, which is not stored and cannot be shown again.
func (s *Service) Create(ctx context.Context, actor audit.Actor, name string, role Role) (Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 100 {
		return Token{}, "", failure.InvalidField("name", "Give the token a name of 1 to 100 characters (e.g. the script or scraper using it).")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return Token{}, "", err
	}
	secret := Prefix + keyring.RandomToken(32)
	t, err := store.TxResult(ctx, s.pool, func(tx pgx.Tx) (Token, error) {
		t, err := scan(tx.QueryRow(ctx, `INSERT INTO api_tokens (name, role, token_hash) VALUES ($1, $2, $3) RETURNING `+cols,
			name, string(role), keyring.HashToken(secret)))
		if store.IsCode(err, "23505") {
			return t, failure.E(failure.Conflict, "A token named %q already exists; revoke it first or choose another name.", name)
		}
		if err != nil {
			return t, fmt.Errorf("create token %q: %w", name, err)
		}
		return t, audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.TokenCreate, Target: name, After: map[string]any{"name": name, "role": role}})
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// List returns every token, live ones first, by name.
func (s *Service) List(ctx context.Context) ([]Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+cols+` FROM api_tokens ORDER BY revoked_at IS NOT NULL, name, id`)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Token, error) { return scan(r) })
}

// Revoke ends a live token by name; requests with it are refused from then on.
func (s *Service) Revoke(ctx context.Context, actor audit.Actor, name string) error {
	return store.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		t, err := scan(tx.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE name = $1 AND revoked_at IS NULL RETURNING `+cols, strings.TrimSpace(name)))
		if errors.Is(err, pgx.ErrNoRows) {
			return failure.E(failure.NotFound, "There is no live token named %q.", name)
		}
		if err != nil {
			return fmt.Errorf("revoke token %q: %w", name, err)
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, Action: audit.TokenRevoke, Target: t.Name, Before: map[string]any{"name": t.Name, "role": t.Role}})
	})
}

// errRefused is the one answer for a missing, unknown or revoked token: which one it was is not
// revealed to the caller.
var errRefused = failure.E(failure.Unauthenticated, "Send a valid API token: Authorization: Bearer <token> (create one with `pgforce token create`).")

// Authenticate returns the live token with this secret. Its last use is recorded at most once a
// minute, so busy scrapers do not turn every request into a write.
func (s *Service) Authenticate(ctx context.Context, secret string) (Token, error) {
	if !strings.HasPrefix(secret, Prefix) {
		return Token{}, errRefused
	}
	t, err := scan(s.pool.QueryRow(ctx, `SELECT `+cols+` FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, keyring.HashToken(secret)))
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, errRefused
	}
	if err != nil {
		return Token{}, fmt.Errorf("check API token: %w", err)
	}
	if t.LastUsedAt == nil || time.Since(*t.LastUsedAt) > time.Minute {
		if _, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, t.ID); err != nil {
			return Token{}, fmt.Errorf("record API token use: %w", err)
		}
	}
	return t, nil
}

type ctxKey struct{}

// WithToken puts the authenticated token into a request context.
func WithToken(ctx context.Context, t Token) context.Context {
	return context.WithValue(ctx, ctxKey{}, t)
}

// FromContext returns the request's token, if it was authenticated with one.
func FromContext(ctx context.Context) (Token, bool) {
	t, ok := ctx.Value(ctxKey{}).(Token)
	return t, ok
}
