package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// saveUsage stores the org's daily API usage as the client last saw it (Salesforce reports it on every
// response), so processes that do not sync (the CLI, metrics scrapes, diagnose) can read it without
// spending API calls of their own. Written only when it changed.
func (s *syncer) saveUsage(ctx context.Context) {
	s.mu.Lock()
	org := s.org
	s.mu.Unlock()
	if org == nil {
		return
	}
	used, max := org.Usage()
	if max <= 0 || (used == s.savedUsage[0] && max == s.savedUsage[1]) {
		return
	}
	_, err := s.e.opts.Pool.Exec(ctx, `INSERT INTO api_usage (connection_id, used, max, seen_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (connection_id) DO UPDATE SET used = EXCLUDED.used, max = EXCLUDED.max, seen_at = EXCLUDED.seen_at`, s.connID, used, max)
	if err != nil {
		s.e.logTransient("save API usage", err)
		return
	}
	s.savedUsage = [2]int{used, max}
}

// APIUsage reports the org's daily API usage as last seen by the syncer; max is 0 when it has not been
// seen yet (nothing synced, or an org that does not report it).
func (e *Engine) APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error) {
	err = e.opts.Pool.QueryRow(ctx, `SELECT used, max, seen_at FROM api_usage WHERE connection_id = $1`, connID).Scan(&used, &max, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, time.Time{}, nil
	}
	if err != nil {
		return 0, 0, time.Time{}, fmt.Errorf("read API usage of connection %d: %w", connID, err)
	}
	return used, max, at, nil
}

// APICalls counts the Salesforce API calls this process's syncer of a connection made since it
// started, by kind (nil when this process does not sync the connection).
func (e *Engine) APICalls(connID int64) map[string]int {
	e.mu.Lock()
	s := e.syncers[connID]
	e.mu.Unlock()
	if s == nil {
		return nil
	}
	s.mu.Lock()
	org := s.org
	s.mu.Unlock()
	if org == nil {
		return nil
	}
	return org.Calls()
}
