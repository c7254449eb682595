// Package store opens pgforce's Postgres pool and runs work in transactions.
package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/failure"
)

// Options for Open.
type Options struct {
	URL      string // postgres:// URL
	Schema   string // pgforce's own schema; first on the search_path
	MaxConns int32  // 0 = pgx default
	AppName  string // shown in pg_stat_activity
}

// Open connects to the database in opts.URL, creating the database when it does not exist yet, and
// makes sure opts.Schema exists. Every connection has search_path = schema, public, so pgforce's own
// queries need no schema prefix while mapped tables live elsewhere.
func Open(ctx context.Context, opts Options) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize() + ", public"
	cfg.ConnConfig.RuntimeParams["application_name"] = cmpOr(opts.AppName, "pgforce")
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if err := createDatabaseIfMissing(ctx, cfg.ConnConfig); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := pool.Exec(pingCtx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()); err != nil {
		// Two instances starting together may both try; the loser sees a unique violation.
		if !isCode(err, "23505", "42P06") {
			pool.Close()
			return nil, fmt.Errorf("create schema %s: %w", opts.Schema, err)
		}
	}
	return pool, nil
}

func createDatabaseIfMissing(ctx context.Context, cc *pgx.ConnConfig) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err == nil {
		return conn.Close(ctx)
	}
	if !isCode(err, "3D000") { // invalid_catalog_name: the database does not exist
		return fmt.Errorf("connect to database %q on %s: %w", cc.Database, cc.Host, err)
	}
	admin := cc.Copy()
	admin.Database = "postgres"
	aconn, aerr := pgx.ConnectConfig(ctx, admin)
	if aerr != nil {
		return fmt.Errorf("database %q does not exist and the server's postgres database is unreachable to create it: %w", cc.Database, aerr)
	}
	defer aconn.Close(ctx)
	_, err = aconn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{cc.Database}.Sanitize())
	if err != nil && !isCode(err, "42P04", "23505") { // created concurrently by another process
		return fmt.Errorf("create database %q: %w", cc.Database, err)
	}
	return nil
}

// isCode reports whether err is a Postgres error with one of the SQLSTATE codes.
func isCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	for _, c := range codes {
		if pgErr.Code == c {
			return true
		}
	}
	return false
}

// IsCode reports whether err is a Postgres error with one of the SQLSTATE codes.
func IsCode(err error, codes ...string) bool { return isCode(err, codes...) }

// Tx runs fn in a transaction, committing when fn returns nil.
func Tx(ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, fn)
}

// NotFound turns pgx.ErrNoRows into a NotFound failure naming what was looked for.
func NotFound(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return failure.E(failure.NotFound, "%s not found", what)
	}
	return err
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TxResult runs fn in a transaction and returns its value.
func TxResult[T any](ctx context.Context, pool *pgxpool.Pool, fn func(pgx.Tx) (T, error)) (T, error) {
	var out T
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		out, err = fn(tx)
		return err
	})
	return out, err
}
