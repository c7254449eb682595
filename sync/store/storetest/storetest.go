// Package storetest gives each test its own migrated schema in the real test database, so tests run
// in parallel without seeing each other's rows. The database is never mocked.
package storetest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/migrations"
	"pgforce/sync/store"
)

// DefaultURL is the test database used when TEST_DATABASE_URL is unset.
const DefaultURL = "postgres://postgres@127.0.0.1:5432/pgforce_test?sslmode=disable"

// URL returns the test database URL.
func URL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return DefaultURL
}

var seq atomic.Int64

// SchemaName returns a fresh schema name for a test (safe identifier).
func SchemaName(t testing.TB) string {
	name := strings.ToLower(t.Name())
	var b strings.Builder
	for _, r := range name {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 30 {
		s = s[:30]
	}
	return fmt.Sprintf("t_%s_%d_%s", s, seq.Add(1), strings.ToLower(strings.ReplaceAll(keyring.RandomToken(4), "-", "_")))
}

// Pool returns a pool whose pgforce schema is fresh and fully migrated; the schema is dropped when
// the test ends.
func Pool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	pool, schema := EmptyPool(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("migrate test schema: %v", err)
	}
	return pool, schema
}

// EmptyPool is Pool without migrations applied.
func EmptyPool(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	schema := SchemaName(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := store.Open(ctx, store.Options{URL: URL(), Schema: schema, MaxConns: 8, AppName: schema}) // per test, so a test can find its own backends
	if err != nil {
		t.Fatalf("open test database (is Postgres running on 127.0.0.1:5432?): %v", err)
	}
	t.Cleanup(func() {
		pool.Close()
		DropSchema(t, schema)
	})
	return pool, schema
}

// DropSchema removes a test schema and everything in it.
func DropSchema(t testing.TB, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, URL())
	if err != nil {
		t.Logf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if err := store.DropSchema(ctx, conn, schema); err != nil {
		t.Logf("drop schema %s: %v", schema, err)
	}
}
