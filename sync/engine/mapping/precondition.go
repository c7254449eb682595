package mapping

import "pgforce/sync/lifecycle"

// Preconditions of mapping transitions, on the mapping's row m (see lifecycle.Precondition).
var (
	// tableLoaded: a mapping is in sync only if its table holds a completed load — the last load (or
	// reload) finished and left a high-water mark, from which every poll since has caught up. A reload
	// that failed after the table was emptied leaves no mark, so nothing can call that table synced.
	tableLoaded = lifecycle.Precondition{
		Name:    "table_loaded",
		SQL:     `m.watermark IS NOT NULL AND m.load_finished_at IS NOT NULL AND (m.load_started_at IS NULL OR m.load_finished_at >= m.load_started_at)`,
		Message: "Its table does not hold a completed load (the last load or reload did not finish), so it must load again before it can be in sync.",
	}
)

// TableLoaded reports what tableLoaded checks in the database, for choosing a transition to try.
func (m Mapping) TableLoaded() bool {
	return m.Watermark != nil && m.LoadFinishedAt != nil && (m.LoadStartedAt == nil || !m.LoadFinishedAt.Before(*m.LoadStartedAt))
}
