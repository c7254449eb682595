package mapping

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// StatesCache answers ListStates for the dashboard, which asks for every mapping of a connection on
// each refresh of a page (every two seconds per open tab), while only a few of a thousand mappings
// change between two refreshes (the polls that ran). It keeps each mapping as last read with its
// row version (xmin) and, on each list, reads in one statement every mapping's id and version and the
// columns of only the rows whose version it does not hold: a mapping created, edited, deleted, moved
// to another state or polled has a new version (every UPDATE writes a new row version), so the list
// is exactly what ListStates says in that statement's snapshot, without decoding a thousand
// configurations again.
//
// It reads through a pool, never in a transaction: a row version is immutable once committed, but a
// transaction may update a row twice under one xmin, and its own reads would see both.
type StatesCache struct {
	pool *pgxpool.Pool
	mu   sync.Mutex
	// conns holds, by connection, the mappings read last, by id.
	conns map[int64]map[int64]*versioned
	// decoded counts the rows whose columns were read (tests check what a list read again).
	decoded int
}

// versioned is a mapping as read in one row version; never changed once kept.
type versioned struct {
	xmin uint32
	m    Mapping
}

// NewStatesCache returns a cache reading through pool.
func NewStatesCache(pool *pgxpool.Pool) *StatesCache {
	return &StatesCache{pool: pool, conns: map[int64]map[int64]*versioned{}}
}

// ListStates is mapping.ListStates of a connection, reading again only the mappings that changed
// since the last list. The mappings it returns are copies: changing one changes nothing kept.
func (c *StatesCache) ListStates(ctx context.Context, connID int64) ([]Mapping, error) {
	c.mu.Lock()
	known := c.conns[connID]
	c.mu.Unlock()
	ids, xmins := make([]int64, 0, len(known)), make([]uint32, 0, len(known))
	for id, v := range known {
		ids, xmins = append(ids, id), append(xmins, v.xmin)
	}
	// The columns are read in a lateral subquery that returns nothing for a version already held, so
	// the server does not even extract them; unchanged rows carry only their id, version and the
	// statement's now() (what ReadAt says).
	rows, err := c.pool.Query(ctx, `SELECT m.id, m.xmin, now(), s.*
		FROM mappings m
		LEFT JOIN unnest($2::bigint[], $3::xid[]) AS k(kept_id, kept_xmin) ON k.kept_id = m.id AND k.kept_xmin = m.xmin
		LEFT JOIN LATERAL (SELECT `+statesCols+` WHERE k.kept_id IS NULL) s ON true
		WHERE m.connection_id = $1 ORDER BY m.object_name`, connID, ids, xmins)
	if err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	defer rows.Close()
	out := make([]Mapping, 0, len(known))
	next := make(map[int64]*versioned, len(known))
	var skip []any
	decoded := 0
	for rows.Next() {
		var id int64
		var xmin uint32
		var readAt time.Time
		if skip == nil {
			skip = make([]any, len(rows.FieldDescriptions()))
		}
		skip[0], skip[1], skip[2] = &id, &xmin, &readAt
		// The version's columns are NULL when it is held (the subquery's id is the 4th column).
		if rows.RawValues()[3] == nil {
			if err := rows.Scan(skip...); err != nil {
				return nil, fmt.Errorf("list mappings: %w", err)
			}
			v, ok := known[id]
			if !ok || v.xmin != xmin {
				return nil, fmt.Errorf("list mappings: mapping %d version %d is not held", id, xmin)
			}
			next[id] = v
			m := v.m.clone()
			m.ReadAt = readAt
			out = append(out, m)
			continue
		}
		m, err := scanVersioned(rows, &id, &xmin, &readAt)
		if err != nil {
			return nil, fmt.Errorf("list mappings: %w", err)
		}
		next[id] = &versioned{xmin: xmin, m: m}
		out = append(out, m.clone())
		decoded++
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list mappings: %w", err)
	}
	// What this read saw replaces what was kept: a mapping deleted since is no longer held. A list
	// finishing after a newer one keeps older versions, which the next list reads again.
	c.mu.Lock()
	c.conns[connID] = next
	c.decoded += decoded
	c.mu.Unlock()
	return out, nil
}

// scanVersioned reads a row of id, version, now() and statesCols.
func scanVersioned(rows pgx.Rows, id *int64, xmin *uint32, readAt *time.Time) (Mapping, error) {
	return scanState(prefixed{rows: rows, prefix: []any{id, xmin, readAt}})
}

// prefixed scans the leading columns of a row into prefix and the rest as asked.
type prefixed struct {
	rows   pgx.Rows
	prefix []any
}

func (p prefixed) Scan(dest ...any) error {
	return p.rows.Scan(append(slices.Clip(p.prefix), dest...)...)
}

// clone copies a mapping with slices of its own.
func (m Mapping) clone() Mapping {
	m.Drift, m.Backfill, m.PubSubReplayID = slices.Clone(m.Drift), slices.Clone(m.Backfill), slices.Clone(m.PubSubReplayID)
	m.AppliedFields = slices.Clone(m.AppliedFields)
	m.Config = m.Config.clone()
	return m
}
