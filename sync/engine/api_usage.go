package engine

import (
	"context"

	"pgforce/sync/engine/connection"
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
	if err := connection.SaveAPIUsage(ctx, s.e.opts.Pool, s.connID, used, max); err != nil {
		s.e.logTransient("save API usage", err)
		return
	}
	s.savedUsage = [2]int{used, max}
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
