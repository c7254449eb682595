package report

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"pgforce/sync/conflict"
	"pgforce/sync/triggerlog"
)

// Kinds of timeline entries that are not rows of the events table: they are read from where they
// are kept (the conflicts table, the trigger log) so Activity shows them in one list with the events.
const (
	KindConflict     = "conflict"
	KindWriteFailure = "write_failure"
)

// TimelineMapping is a mapping of the connection: its failed writes are read from its table.
type TimelineMapping struct {
	ID     int64
	Object string
	Table  string
}

// TimelineFilter selects timeline entries; zero values mean no filter.
type TimelineFilter struct {
	Since     time.Time
	Mappings  []TimelineMapping // every mapping of the connection
	MappingID int64
	Level     string // info, warn, error
	Kind      string // an event kind, KindConflict or KindWriteFailure
	Limit     int    // default 500
}

// TimelineEntry is one line of Activity: an event, a conflict (detected, or resolved by an admin) or
// a write Salesforce refused.
type TimelineEntry struct {
	At        time.Time
	MappingID int64
	Object    string
	Level     string
	Kind      string
	Message   string
	// Table and RecordID name the row of a conflict or a failed write (RecordID 0: not known).
	Table    string
	RecordID int64
	// Conflict is the conflict of a KindConflict entry.
	Conflict *conflict.Conflict
	// Write is the trigger-log entry of a KindWriteFailure entry; its State says whether the
	// failure is still unresolved (FAILED).
	Write *LogEntry
}

// Timeline is Activity's list and the kinds its filter offers.
type Timeline struct {
	Kinds   []string // every kind present in the window, whatever the filter
	Entries []TimelineEntry
}

// Timeline returns a connection's events, conflicts and refused writes since f.Since matching f,
// newest first, at most f.Limit of them. Each source is read through its index by time and cut at
// the limit before merging.
func (r *Reader) Timeline(ctx context.Context, connID int64, schema string, f TimelineFilter) (Timeline, error) {
	if f.Limit <= 0 {
		f.Limit = 500
	}
	var t Timeline
	byTable := map[string]TimelineMapping{}
	var tables []string
	for _, m := range f.Mappings {
		byTable[m.Table] = m
		if f.MappingID == 0 || m.ID == f.MappingID {
			tables = append(tables, m.Table)
		}
	}
	wants := func(kind string) bool { return f.Kind == "" || f.Kind == kind }
	var conflicts, failures bool // found any (unfiltered, that is whether there are any)
	if f.Kind != KindConflict && f.Kind != KindWriteFailure {
		events, err := r.Events(ctx, connID, EventFilter{Since: f.Since, MappingID: f.MappingID, Level: f.Level, Kind: f.Kind, Limit: f.Limit})
		if err != nil {
			return t, err
		}
		for _, e := range events {
			te := TimelineEntry{At: e.At, Object: e.Object, Level: e.Level, Kind: e.Kind, Message: e.Message}
			if e.MappingID != nil {
				te.MappingID = *e.MappingID
			}
			t.Entries = append(t.Entries, te)
		}
	}
	if wants(KindConflict) && (f.Level == "" || f.Level == "warn" || f.Level == "info") {
		cs, err := conflict.Since(ctx, r.pool, connID, f.MappingID, f.Since, f.Limit)
		if err != nil {
			return t, err
		}
		conflicts = len(cs) > 0
		for _, c := range cs {
			for _, te := range conflictEntries(c, f.Since) {
				if f.Level == "" || f.Level == te.Level {
					t.Entries = append(t.Entries, te)
				}
			}
		}
	}
	if wants(KindWriteFailure) && (f.Level == "" || f.Level == "error") && len(tables) > 0 {
		ws, err := triggerlog.RefusedSince(ctx, r.pool, schema, tables, f.Since, f.Limit)
		if err != nil {
			return t, err
		}
		failures = len(ws) > 0
		for _, w := range ws {
			t.Entries = append(t.Entries, failureEntry(w, byTable[w.Table]))
		}
	}
	var err error
	if f.MappingID == 0 && f.Level == "" && f.Kind == "" {
		// Unfiltered, the lists just read say whether there are conflicts and failed writes.
		t.Kinds, err = r.timelineKinds(ctx, connID, schema, f, &conflicts, &failures)
	} else {
		t.Kinds, err = r.timelineKinds(ctx, connID, schema, f, nil, nil)
	}
	if err != nil {
		return t, err
	}
	// Newest first; entries of one instant keep their source's order (a stable sort).
	slices.SortStableFunc(t.Entries, func(a, b TimelineEntry) int { return b.At.Compare(a.At) })
	if len(t.Entries) > f.Limit {
		t.Entries = t.Entries[:f.Limit]
	}
	return t, nil
}

// timelineKinds lists the event kinds of the window plus conflict and write_failure when there are
// any, of every mapping: the filter offers only kinds there is something of. Whether there are
// conflicts or failed writes is looked up unless the caller knows (a non-nil answer).
func (r *Reader) timelineKinds(ctx context.Context, connID int64, schema string, f TimelineFilter, conflicts, failures *bool) ([]string, error) {
	kinds, err := r.EventKinds(ctx, connID, f.Since)
	if err != nil {
		return nil, err
	}
	if conflicts == nil {
		cs, err := conflict.Since(ctx, r.pool, connID, 0, f.Since, 1)
		if err != nil {
			return nil, err
		}
		conflicts = new(len(cs) > 0)
	}
	if *conflicts {
		kinds = append(kinds, KindConflict)
	}
	if failures == nil {
		tables := make([]string, len(f.Mappings))
		for i, m := range f.Mappings {
			tables[i] = m.Table
		}
		ws, err := triggerlog.RefusedSince(ctx, r.pool, schema, tables, f.Since, 1)
		if err != nil {
			return nil, err
		}
		failures = new(len(ws) > 0)
	}
	if *failures {
		kinds = append(kinds, KindWriteFailure)
	}
	slices.Sort(kinds)
	return slices.Compact(kinds), nil
}

// conflictEntries are what Activity shows of a conflict in the window: its detection with what the
// policy did (or that it is held for an admin), and an admin's resolution.
func conflictEntries(c conflict.Conflict, since time.Time) []TimelineEntry {
	base := TimelineEntry{MappingID: c.MappingID, Object: c.Object, Kind: KindConflict, Table: c.Table, RecordID: c.RecordID, Conflict: &c}
	record := strings.TrimSpace(c.Object + " " + cmp.Or(c.SFID, fmt.Sprintf("row %d", c.RecordID)))
	var out []TimelineEntry
	if !c.DetectedAt.Before(since) {
		e := base
		e.At, e.Level = c.DetectedAt, "warn"
		if c.Outcome == conflict.Held || c.ByAdmin() {
			e.Message = fmt.Sprintf("Conflict on %s: %s. %s policy: held until an admin keeps one side.", record, c.Kind.Label(), c.Policy.Label())
		} else {
			e.Message = fmt.Sprintf("Conflict on %s: %s. %s policy: %s.", record, c.Kind.Label(), c.Policy.Label(), c.Outcome.Label())
		}
		out = append(out, e)
	}
	if c.ByAdmin() && c.ResolvedAt != nil && !c.ResolvedAt.Before(since) {
		e := base
		e.At, e.Level = *c.ResolvedAt, "info"
		e.Message = fmt.Sprintf("Conflict on %s resolved by %s: %s.", record, cmp.Or(c.ResolvedBy, "an admin"), c.Outcome.Label())
		out = append(out, e)
	}
	return out
}

// failureEntry is a write Salesforce refused: the row, Salesforce's code and message, and what
// became of the failure since.
func failureEntry(w LogEntry, m TimelineMapping) TimelineEntry {
	at := w.UpdatedAt
	if w.ProcessedAt != nil {
		at = *w.ProcessedAt
	}
	code, text := triggerlog.ErrorText(w.Message)
	said := text
	if code != "" {
		said = strings.TrimSuffix(code+": "+text, ": ")
	}
	msg := fmt.Sprintf("Salesforce refused the %s of %s row %d", strings.ToLower(cmp.Or(w.Action, "change")), w.Table, w.RecordID)
	if said != "" {
		msg += ": " + said
	}
	switch triggerlog.State(w.State) {
	case triggerlog.Requeued:
		msg += " (resolved since: sent again)"
	case triggerlog.Ignored:
		msg += " (dismissed since)"
	}
	return TimelineEntry{At: at, MappingID: m.ID, Object: cmp.Or(m.Object, w.Table), Level: "error", Kind: KindWriteFailure, Message: msg,
		Table: w.Table, RecordID: w.RecordID, Write: &w}
}
