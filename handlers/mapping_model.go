package handlers

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/report"
	"pgforce/views"
)

// modeText describes how a mapping hears of Salesforce changes.
func modeText(pollingSeconds int, accelerated bool) string {
	if accelerated {
		return "accelerated"
	}
	return fmt.Sprintf("every %d min", max(1, pollingSeconds/60))
}

// progressOf computes a running load's progress, rate and remaining time from one source: the rows
// the load has copied so far — the pages it finished (done) plus what the COPY running now has written
// (copying; a REST load is one COPY, a Bulk API load one per result page). A rate needs a few seconds
// of loading to mean anything.
func progressOf(state mapping.State, done, copying int64, expected *int64, started *time.Time, now time.Time) *views.Progress {
	if !state.Loading() {
		return nil
	}
	if state == mapping.LoadingBulkJob {
		done += copying
	} else {
		done = max(done, copying)
	}
	p := &views.Progress{Done: done}
	if expected != nil {
		p.Expected = *expected
	}
	if started != nil {
		if secs := now.Sub(*started).Seconds(); secs >= 2 && done > 0 {
			p.Rate = float64(done) / secs
			if p.Expected > done {
				p.ETA = time.Duration(float64(p.Expected-done) / p.Rate * float64(time.Second))
			}
		}
	}
	return p
}

// pgRows returns a table's row count for display (nil when the table does not exist).
func pgRows(tc report.TableCounts) *int64 {
	if tc.Missing {
		return nil
	}
	n := tc.Rows
	return &n
}

// mappingRow is one line of the Mappings table.
func mappingRow(m report.MappingSummary, tc report.TableCounts, problems []views.Problem, now time.Time) views.MappingRow {
	var worst *views.Problem
	if len(problems) > 0 {
		worst = &problems[0]
	}
	return views.MappingRow{Problem: worst,
		ID: m.ID, Object: m.Object, Table: m.Table, Access: string(m.Access), Mode: modeText(m.PollingSeconds, m.Accelerated),
		State: syncedBadge(m.State, m.PollingSeconds, m.Accelerated), SFRows: m.SFCount, PGRows: pgRows(tc), PGEstimated: tc.Estimated,
		Pending: tc.Pending, Failed: tc.Failed, LastSync: m.LastPollAt, Progress: progressOf(m.State, m.LoadDone, tc.Copying, m.LoadExpected, m.LoadStartedAt, now), SFRowsAt: m.SFCountAt,
	}
}

// mappingLive is the self-refreshing part of a mapping's page.
func mappingLive(m mapping.Mapping, tc report.TableCounts, problems []views.Problem, now time.Time) views.MappingLive {
	return views.MappingLive{Problems: problems,
		ID: m.ID, State: syncedBadge(m.State, m.Config.SFPollingSeconds, m.Config.Accelerated()), Reason: m.StateReason, StateSince: m.StateChangedAt, Loading: m.State.Loading(), Stopped: m.State.Stopped(), Aborted: m.State == mapping.Aborted, Object: m.Object,
		Progress: progressOf(m.State, m.LoadDone, tc.Copying, m.LoadExpected, m.LoadStartedAt, now), SFRows: m.SFCount, SFRowsAt: m.SFCountAt, PGRows: pgRows(tc),
		LastLoad:    lastLoad(m),
		PGEstimated: tc.Estimated, Pending: tc.Pending, Failed: tc.Failed, LastPollAt: m.LastPollAt, NextPollAt: m.NextPollAt,
	}
}

// lastLoad says how the last completed load went ("" while none completed or one runs).
func lastLoad(m mapping.Mapping) string {
	if m.State.Loading() || m.LoadStartedAt == nil || m.LoadFinishedAt == nil || m.LoadFinishedAt.Before(*m.LoadStartedAt) {
		return ""
	}
	took := m.LoadFinishedAt.Sub(*m.LoadStartedAt)
	s := fmt.Sprintf("%s records in %s", views.Count(m.LoadDone), views.Duration(took))
	if took >= 2*time.Second && m.LoadDone > 0 {
		s += " (" + views.Rate(float64(m.LoadDone)/took.Seconds()) + ")"
	}
	return s
}

// typeText shows a Salesforce field type: "string(255)", "reference → Account".
func typeText(f mapping.Field) string {
	switch {
	case len(f.ReferenceTo) > 0:
		return f.Type + " → " + strings.Join(f.ReferenceTo, ", ")
	case f.Length > 0 && f.Type != "textarea":
		return fmt.Sprintf("%s(%d)", f.Type, f.Length)
	case f.Precision > 0:
		return fmt.Sprintf("%s(%d,%d)", f.Type, f.Precision, f.Scale)
	}
	return f.Type
}

// formChoices are the admin's choices in the mapping form (or a mapping's configuration).
type formChoices struct {
	fields, indexed, recreate map[string]bool
}

func setOf(xs []string) map[string]bool {
	out := make(map[string]bool, len(xs))
	for _, x := range xs {
		out[x] = true
	}
	return out
}

// defaultForm is the Create Mapping form for an object: read-only, polling at the connection's
// default, the locked system fields and the recommended fields chosen.
func defaultForm(obj mapping.Object, pollingSeconds int) (views.MappingForm, formChoices) {
	f := views.MappingForm{Object: obj.Name, Label: obj.Label, Table: table.Name(obj.Name), Access: string(mapping.ReadOnly), Mode: "polling",
		PollingMinutes: max(2, pollingSeconds/60)}
	ch := formChoices{fields: map[string]bool{}, indexed: map[string]bool{"SystemModstamp": true}, recreate: map[string]bool{}}
	// Case and many custom objects have no Name: preselect only what the object really has.
	for _, name := range mapping.RecommendedFields {
		if _, ok := obj.Field(name); ok {
			ch.fields[name] = true
		}
	}
	return f, ch
}

// configForm fills the form from a stored configuration.
func configForm(m mapping.Mapping) (views.MappingForm, formChoices) {
	cfg := m.Config
	f := views.MappingForm{MappingID: m.ID, Object: m.Object, Label: m.Object, Table: m.Table, Access: string(cfg.Access), Mode: "polling",
		PollingMinutes: max(2, cfg.SFPollingSeconds/60), UpsertField: cfg.UpsertField, RecordFilter: cfg.Filter(),
		ConflictPolicy: cfg.ConflictPolicy()}
	if cfg.Accelerated() {
		f.Mode = "accelerated"
	}
	ch := formChoices{fields: map[string]bool{}, indexed: map[string]bool{}, recreate: map[string]bool{}}
	for name := range cfg.Fields {
		ch.fields[name] = true
	}
	for name := range cfg.Indexes {
		ch.indexed[name] = true
	}
	return f, ch
}

// parseMappingForm reads the posted form into the form model, the admin's choices and a configuration.
func parseMappingForm(c echo.Context) (views.MappingForm, formChoices, mapping.Config, error) {
	if _, err := c.FormParams(); err != nil {
		return views.MappingForm{}, formChoices{}, mapping.Config{}, failure.Wrap(err, failure.Invalid, "The form could not be read.")
	}
	form := c.Request().PostForm
	f := views.MappingForm{Object: c.FormValue("object"), Access: c.FormValue("access"), Mode: c.FormValue("mode"),
		UpsertField: c.FormValue("upsert_field"), RecordFilter: strings.TrimSpace(c.FormValue("record_filter")),
		ConflictPolicy: c.FormValue("conflict_policy"), Errors: views.FormErrors{}}
	ch := formChoices{fields: setOf(form["field"]), indexed: setOf(form["index"]), recreate: setOf(form["recreate"])}
	minutes, err := strconv.Atoi(strings.TrimSpace(c.FormValue("polling_minutes")))
	if err != nil {
		f.Errors["polling_minutes"] = "Enter the polling interval in whole minutes, from 2 to 60."
		minutes = 10
	}
	f.PollingMinutes = minutes
	cfg := mapping.NewConfig(form["field"]...)
	cfg.Access = mapping.Access(f.Access)
	cfg.SFPollingSeconds = minutes * 60
	cfg.SFNotifyEnabled = f.Mode == "accelerated"
	cfg.UpsertField = f.UpsertField
	for name := range ch.indexed {
		if ch.fields[name] || slices.Contains(mapping.SystemFields, name) {
			cfg.Indexes[name] = mapping.IndexOption{Unique: name == "Id"}
		}
	}
	if f.RecordFilter != "" || f.ConflictPolicy != "" {
		cfg.PGForce = &mapping.Extra{RecordFilter: f.RecordFilter, ConflictPolicy: f.ConflictPolicy}
	}
	if len(f.Errors) > 0 {
		return f, ch, cfg, failure.E(failure.Invalid, "Check the polling interval.")
	}
	return f, ch, cfg, nil
}

// fillFields lays out the field picker: the object's fields in describe order (system fields locked
// and first), plus mapped fields that no longer exist in Salesforce, plus drift marks.
func fillFields(f *views.MappingForm, obj mapping.Object, ch formChoices, drift []mapping.Drift) {
	f.Fields, f.UpsertChoices = nil, nil
	if obj.Label != "" {
		f.Label = obj.Label
	}
	retyped := map[string]string{}
	for _, d := range drift {
		if !d.Widen && !d.Removed {
			retyped[strings.ToLower(d.Field)] = d.Was + " → " + d.Now
		}
	}
	row := func(fd mapping.Field) views.FieldChoice {
		locked := obj.Required(fd.Name)
		return views.FieldChoice{
			Name: fd.Name, Label: fd.Label, Type: typeText(fd), Locked: locked, Checked: locked || ch.fields[fd.Name],
			Indexed: fd.Name == "Id" || ch.indexed[fd.Name], RequiredOnCreate: fd.RequiredOnCreate() && !locked && obj.Createable,
			ExternalID: fd.ExternalID, Drift: retyped[strings.ToLower(fd.Name)], Recreate: ch.recreate[fd.Name],
		}
	}
	var system, rest []views.FieldChoice
	for _, fd := range obj.Fields {
		r := row(fd)
		if r.Locked {
			system = append(system, r)
		} else {
			rest = append(rest, r)
		}
		if fd.ExternalID && !strings.EqualFold(fd.Name, "Id") {
			f.UpsertChoices = append(f.UpsertChoices, fd.Name)
		}
	}
	f.Fields = append(system, rest...)
	var gone []string
	for name := range ch.fields {
		if _, ok := obj.Field(name); !ok && !strings.Contains(name, ".") {
			gone = append(gone, name)
		}
	}
	slices.Sort(gone)
	for _, name := range gone {
		f.Fields = append(f.Fields, views.FieldChoice{Name: name, Label: name, Type: "—", Checked: true, Indexed: ch.indexed[name], Missing: true})
	}
}

// problemErrors places validation problems at their form fields; what has no place goes to the top.
func problemErrors(err error, errs views.FormErrors) {
	var ps mapping.Problems
	if !errors.As(err, &ps) {
		var fe *failure.Error
		if errors.As(err, &fe) && fe.Field != "" {
			errs[fe.Field] = fe.Message
			return
		}
		errs[""] = failure.Message(err)
		return
	}
	var unplaced []string
	for _, p := range ps {
		path := strings.TrimPrefix(p.Path, "config.")
		key := ""
		switch {
		case path == "access":
			key = "access"
		case path == "sf_polling_seconds":
			key = "polling_minutes"
		case path == "upsert_field":
			key = "upsert_field"
		case path == "pgforce.record_filter":
			key = "record_filter"
		case path == "pgforce.conflict_policy":
			key = "conflict_policy"
		case strings.HasPrefix(path, "fields."):
			key = "field:" + strings.TrimPrefix(path, "fields.")
		case strings.HasPrefix(path, "indexes."):
			key = "field:" + strings.TrimPrefix(path, "indexes.")
		}
		if key == "" {
			unplaced = append(unplaced, p.Path+": "+p.Message)
			continue
		}
		if prev, ok := errs[key]; ok {
			errs[key] = prev + "; " + p.Message
		} else {
			errs[key] = p.Message
		}
	}
	msg := "The mapping was not saved: fix what is marked below."
	if len(unplaced) > 0 {
		msg += " " + strings.Join(unplaced, "; ")
	}
	errs[""] = msg
}

// fieldRows lists a mapping's applied fields with their columns and indexes.
func fieldRows(m mapping.Mapping) []views.FieldRow {
	var out []views.FieldRow
	for _, f := range m.AppliedFields {
		typ, err := table.ColumnType(f)
		if err != nil {
			typ = f.Type
		}
		idx, indexed := m.Config.Indexes[f.Name]
		out = append(out, views.FieldRow{Name: f.Name, Column: table.Column(f.Name), Type: typ,
			Indexed: indexed || f.Name == "Id" || f.Name == "SystemModstamp", Unique: idx.Unique || f.Name == "Id",
			Upsert: m.Config.UpsertField != "" && strings.EqualFold(m.Config.UpsertField, f.Name)})
	}
	return out
}

// driftRows lists changed field definitions with the one-click fix for each.
func driftRows(m mapping.Mapping) []views.DriftRow {
	var out []views.DriftRow
	for _, d := range m.Drift {
		kind := "recreate"
		switch {
		case d.Removed:
			kind = "remove"
		case d.Widen:
			kind = "widen"
		case d.Required:
			kind = "map"
		}
		out = append(out, views.DriftRow{Field: d.Field, Was: d.Was, Now: d.Now, Fix: d.Fix, Kind: kind})
	}
	return out
}

// eventRows converts events for the tables.
func eventRows(es []mapping.Event) []views.EventRow {
	out := make([]views.EventRow, 0, len(es))
	for _, e := range es {
		r := views.EventRow{At: e.At, Object: e.Object, Level: e.Level, Kind: e.Kind, Message: e.Message}
		if e.MappingID != nil {
			r.MappingID = *e.MappingID
		}
		out = append(out, r)
	}
	return out
}

// logRows converts trigger-log entries; byTable links them to their mappings.
func logRows(es []report.LogEntry, byTable map[string]int64) []views.LogRow {
	out := make([]views.LogRow, 0, len(es))
	for _, e := range es {
		out = append(out, views.LogRow{ID: e.ID, At: e.UpdatedAt, Table: e.Table, MappingID: byTable[e.Table], RecordID: e.RecordID,
			Action: e.Action, State: e.State, SFID: e.SFID, Values: e.Values, Message: e.Message, Archived: e.Archived})
	}
	return out
}
