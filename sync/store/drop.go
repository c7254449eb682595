package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Execer runs statements: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// dropTablesPerStatement bounds the locks one statement of DropSchema takes: a mapped table brings
// about fifteen objects (indexes, sequence, TOAST, row types, triggers and their functions).
const dropTablesPerStatement = 100

// DropSchema drops a schema and everything in it, its tables a hundred at a time, each statement in
// a transaction of its own. One DROP SCHEMA CASCADE of a connection's thousand mapped tables locks
// every object they bring at once: more than the server's lock table holds with the default
// max_locks_per_transaction ("out of shared memory"), and meanwhile no other session can take a lock.
// A schema that does not exist is no error.
func DropSchema(ctx context.Context, db Execer, schema string) error {
	for {
		rows, err := db.Query(ctx, `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) FROM pg_tables
			WHERE schemaname = $1 LIMIT `+fmt.Sprint(dropTablesPerStatement), schema)
		var tables []string
		if err == nil {
			tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
		}
		if err != nil {
			return fmt.Errorf("list the tables of %s: %w", schema, err)
		}
		if len(tables) == 0 {
			break
		}
		if _, err := db.Exec(ctx, `DROP TABLE IF EXISTS `+strings.Join(tables, ", ")+` CASCADE`); err != nil {
			return fmt.Errorf("drop tables of %s: %w", schema, err)
		}
	}
	if _, err := db.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
		return fmt.Errorf("drop schema %s: %w", schema, err)
	}
	return nil
}
