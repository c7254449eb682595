package table

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// DeferIndexes drops the indexes (and the constraints they back) of a table that tx has just
// truncated, and returns the function that builds them again, with the same names and definitions,
// once the rows are in: building an index over a million loaded rows costs a fraction of maintaining
// it row by row during COPY. Indexes with properties a definition does not carry (replica identity,
// CLUSTER, a tablespace, a comment, exclusion constraints) are left alone. tx must hold the table's exclusive lock (TRUNCATE
// takes it), so nobody sees the table without its indexes.
func DeferIndexes(ctx context.Context, tx pgx.Tx, schema, object string) (rebuild func(context.Context) error, err error) {
	tbl := Ident(schema, Name(object))
	rows, err := tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), COALESCE(c.conname, ''), COALESCE(pg_get_constraintdef(c.oid), '')
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid
		WHERE i.indrelid = $1::regclass
			-- What a rebuild from its definition would not restore stays in place (maintained row by row).
			AND NOT i.indisreplident AND NOT i.indisclustered AND ic.reltablespace = 0
			AND obj_description(i.indexrelid, 'pg_class') IS NULL
			AND (c.oid IS NULL OR c.contype IN ('p', 'u'))
		ORDER BY i.indexrelid`, tbl)
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s: %w", tbl, err)
	}
	type index struct{ name, def, constraint, constraintDef string }
	indexes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var ix index
		return ix, r.Scan(&ix.name, &ix.def, &ix.constraint, &ix.constraintDef)
	})
	if err != nil {
		return nil, fmt.Errorf("read indexes of %s: %w", tbl, err)
	}
	for _, ix := range indexes {
		stmt := "DROP INDEX " + ix.name // regclass text is already quoted and schema-qualified as needed
		if ix.constraint != "" {
			stmt = "ALTER TABLE " + tbl + " DROP CONSTRAINT " + Ident(ix.constraint)
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return nil, fmt.Errorf("defer index %s of %s: %w", ix.name, tbl, err)
		}
	}
	return func(ctx context.Context) error {
		for _, ix := range indexes {
			stmt := ix.def
			if ix.constraint != "" {
				stmt = "ALTER TABLE " + tbl + " ADD CONSTRAINT " + Ident(ix.constraint) + " " + ix.constraintDef
			}
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return fmt.Errorf("build index %s of %s: %w", ix.name, tbl, err)
			}
		}
		return nil
	}, nil
}
