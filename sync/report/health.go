package report

import (
	"context"
	"fmt"
	"maps"
	"time"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/triggerlog"
)

// TableIndexes says which of the columns the sync looks rows up by are indexed in a mapped table.
type TableIndexes struct {
	Missing        bool // the table does not exist
	SFID           bool // an index leads with sfid
	SFIDUnique     bool // ... and it is unique
	SystemModstamp bool // an index leads with systemmodstamp
}

// IndexesReadEvery is how long SyncIndexes answers from what it last read of a schema's indexes:
// they change only when someone alters a table, and reading them costs a catalog lookup per index
// (at a thousand mapped tables, a quarter of a Mappings page refreshed every two seconds). A dropped
// index shows up within this time.
const IndexesReadEvery = 10 * time.Second

// indexesRead is what SyncIndexes last read of a schema's tables.
type indexesRead struct {
	at     time.Time
	tables map[string]TableIndexes
}

// SyncIndexes checks, for tables of a connection's schema, the indexes every write and poll relies on:
// rows are matched by sfid on each poll, and systemmodstamp bounds every incremental read. What it
// read is reused for IndexesReadEvery.
func (r *Reader) SyncIndexes(ctx context.Context, schema string, tables []string) (map[string]TableIndexes, error) {
	if len(tables) == 0 {
		return map[string]TableIndexes{}, nil
	}
	r.mu.Lock()
	last := r.indexes[schema]
	r.mu.Unlock()
	if last != nil && r.now().Sub(last.at) < IndexesReadEvery {
		out := make(map[string]TableIndexes, len(tables))
		for _, t := range tables {
			ti, ok := last.tables[t]
			if !ok {
				last = nil // a table not read then (mapped since): read them all again
				break
			}
			out[t] = ti
		}
		if last != nil {
			return out, nil
		}
	}
	at := r.now()
	out, err := r.readSyncIndexes(ctx, schema, tables)
	if err != nil {
		return nil, err
	}
	read := &indexesRead{at: at, tables: maps.Clone(out)}
	r.mu.Lock()
	if r.indexes == nil {
		r.indexes = map[string]*indexesRead{}
	}
	r.indexes[schema] = read
	r.mu.Unlock()
	return out, nil
}

func (r *Reader) readSyncIndexes(ctx context.Context, schema string, tables []string) (map[string]TableIndexes, error) {
	out := make(map[string]TableIndexes, len(tables))
	for _, t := range tables {
		out[t] = TableIndexes{Missing: true}
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
	var err error
	b.Pending, b.OldestPending, b.Live, err = triggerlog.Depth(ctx, r.pool, schema)
	return b, err
}

// SyncedTotal is the number of records a mapping synced in one direction since it was created.
type SyncedTotal = mapping.SyncedTotal

// SyncedTotals sums the activity statistics of every mapping still configured, per direction.
func (r *Reader) SyncedTotals(ctx context.Context) ([]SyncedTotal, error) {
	return mapping.SyncedTotals(ctx, r.pool)
}
