package report

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// TableIndexes says which of the columns the sync looks rows up by are indexed in a mapped table.
type TableIndexes struct {
	Missing        bool // the table does not exist
	SFID           bool // an index leads with sfid
	SFIDUnique     bool // ... and it is unique
	SystemModstamp bool // an index leads with systemmodstamp
}

// SyncIndexes checks, for tables of a connection's schema, the indexes every write and poll relies on:
// rows are matched by sfid on each poll, and systemmodstamp bounds every incremental read.
func (r *Reader) SyncIndexes(ctx context.Context, schema string, tables []string) (map[string]TableIndexes, error) {
	out := make(map[string]TableIndexes, len(tables))
	for _, t := range tables {
		out[t] = TableIndexes{Missing: true}
	}
	if len(tables) == 0 {
		return out, nil
	}
	rows, err := r.pool.Query(ctx, `SELECT c.relname, COALESCE(a.attname, ''), COALESCE(i.indisunique, false)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_index i ON i.indrelid = c.oid
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0]
		WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')`, schema, tables)
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", schema, err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, column string
		var unique bool
		if err := rows.Scan(&table, &column, &unique); err != nil {
			return nil, fmt.Errorf("list indexes of %s: %w", schema, err)
		}
		ti := out[table]
		ti.Missing = false
		switch column {
		case "sfid":
			ti.SFID = true
			ti.SFIDUnique = ti.SFIDUnique || unique
		case "systemmodstamp":
			ti.SystemModstamp = true
		}
		out[table] = ti
	}
	return out, rows.Err()
}

// Backlog is the state of a connection's trigger log: changes waiting to be written to Salesforce.
type Backlog struct {
	Pending       int64      // NEW, PENDING and REQUEUE rows
	OldestPending *time.Time // capture time of the oldest one
	Live          int64      // every row of the live log (processed rows wait there until archived)
}

// Backlog reads the depth of a connection schema's trigger log.
func (r *Reader) Backlog(ctx context.Context, schema string) (Backlog, error) {
	var b Backlog
	err := r.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state = ANY($1)), min(created_at) FILTER (WHERE state = ANY($1)), count(*)
		FROM `+ident(schema, "_trigger_log"), pendingStates).Scan(&b.Pending, &b.OldestPending, &b.Live)
	if err != nil {
		return b, fmt.Errorf("read the trigger log of %s: %w", schema, err)
	}
	return b, nil
}

// SyncedTotal is the number of records a mapping synced in one direction since it was created.
type SyncedTotal struct {
	ConnectionID int64
	MappingID    int64
	Direction    string // SFToPG or PGToSF
	Records      int64
	Errors       int64
	APICalls     int64
}

// SyncedTotals sums the activity statistics of every mapping still configured, per direction.
func (r *Reader) SyncedTotals(ctx context.Context) ([]SyncedTotal, error) {
	rows, err := r.pool.Query(ctx, `SELECT s.connection_id, s.mapping_id, s.direction, sum(s.records)::bigint, sum(s.errors)::bigint, sum(s.api_calls)::bigint
		FROM sync_stats s JOIN mappings m ON m.id = s.mapping_id
		GROUP BY s.connection_id, s.mapping_id, s.direction ORDER BY s.connection_id, s.mapping_id, s.direction`)
	if err != nil {
		return nil, fmt.Errorf("sum sync statistics: %w", err)
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (SyncedTotal, error) {
		var t SyncedTotal
		return t, row.Scan(&t.ConnectionID, &t.MappingID, &t.Direction, &t.Records, &t.Errors, &t.APICalls)
	})
}
