// Package migrations holds pgforce's schema as versioned SQL files, embedded in the binary and applied
// with tern: each file in its own transaction, under tern's advisory lock so that instances starting
// together do not race. Objects are created unqualified, in the schema first on the search_path (see
// store.Open), which lets each test run in a schema of its own.
package migrations

import (
	"context"
	"embed"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/tern/v2/migrate"
)

//go:embed *.sql
var files embed.FS

const versionTable = "schema_version"

func migrator(ctx context.Context, pool *pgxpool.Pool, fn func(*migrate.Migrator) error) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("migrations: acquire connection: %w", err)
	}
	defer conn.Release()
	m, err := migrate.NewMigrator(ctx, conn.Conn(), versionTable)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if err := m.LoadMigrations(files); err != nil {
		return fmt.Errorf("migrations: load: %w", err)
	}
	return fn(m)
}

// Up applies every migration not yet applied.
func Up(ctx context.Context, pool *pgxpool.Pool) error {
	return migrator(ctx, pool, func(m *migrate.Migrator) error {
		if err := m.Migrate(ctx); err != nil {
			return fmt.Errorf("migrations: apply: %w", err)
		}
		return nil
	})
}

// To migrates up or down to version (0 = empty schema).
func To(ctx context.Context, pool *pgxpool.Pool, version int32) error {
	return migrator(ctx, pool, func(m *migrate.Migrator) error {
		if err := m.MigrateTo(ctx, version); err != nil {
			return fmt.Errorf("migrations: migrate to %d: %w", version, err)
		}
		return nil
	})
}

// Status returns the applied and the latest known versions.
func Status(ctx context.Context, pool *pgxpool.Pool) (current, latest int32, err error) {
	err = migrator(ctx, pool, func(m *migrate.Migrator) error {
		current, err = m.GetCurrentVersion(ctx)
		latest = int32(len(m.Migrations))
		return err
	})
	return current, latest, err
}

// Latest is the number of embedded migrations.
func Latest() int {
	names, _ := fs.Glob(files, "*.sql")
	return len(names)
}
