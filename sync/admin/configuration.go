package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/store"
)

// Configuration exports and imports a connection's configuration in Heroku Connect's JSON format.
type Configuration struct{ *base }

// Export is Heroku Connect's configuration export (version 1).
type Export struct {
	Mappings   []ExportMapping  `json:"mappings"`
	Connection ExportConnection `json:"connection"`
	Version    int              `json:"version"`
}

// ExportMapping is one mapping of an export.
type ExportMapping struct {
	ObjectName string         `json:"object_name"`
	Config     mapping.Config `json:"config"`
}

// ExportConnection describes where the export came from (informational on import).
type ExportConnection struct {
	AppName           string          `json:"app_name"`
	OrganizationID    string          `json:"organization_id"`
	Name              string          `json:"name"`
	ExportedAt        string          `json:"exported_at"`
	APIVersion        string          `json:"api_version"`
	LogplexLogEnabled bool            `json:"logplex_log_enabled"`
	Features          map[string]bool `json:"features"`
}

// Export returns a connection's configuration in Heroku Connect's JSON format.
func (s *Configuration) Export(ctx context.Context, connID int64) ([]byte, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return nil, err
	}
	ms, err := mapping.List(ctx, s.opts.Pool, connID)
	if err != nil {
		return nil, err
	}
	out := Export{Version: 1, Mappings: []ExportMapping{}, Connection: ExportConnection{
		AppName: "pgforce", OrganizationID: c.OrgID, Name: "pgforce:" + c.Name + ":" + c.Schema,
		ExportedAt: s.opts.Now().UTC().Format("2006-01-02T15:04:05.000000-07:00"), APIVersion: c.APIVersion,
		Features: map[string]bool{"poll_db_no_merge": c.WriteAlgorithm == connection.Ordered, "disable_bulk_writes": false,
			"poll_external_ids": false, "rest_count_only": false, "ucs_basic_collation_index": false},
	}}
	for _, m := range ms {
		out.Mappings = append(out.Mappings, ExportMapping{ObjectName: m.Object, Config: m.Config})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("encode export: %w", err)
	}
	return buf.Bytes(), nil
}

// ImportPlan says what an import will do, before it does it.
type ImportPlan struct {
	Add       []PlannedMapping
	Edit      []PlannedMapping
	Unchanged []string
	Problems  mapping.Problems
	// Ignored lists what the file holds that import does not apply (it never deletes mappings).
	Notes []string
}

// PlannedMapping is one mapping an import adds or edits.
type PlannedMapping struct {
	Object  string
	Changes []string // human summary: "fields +Phone -Fax", "access read_only → read_write"
	config  mapping.Config
	fields  []table.Field
}

// maxImportBytes bounds an uploaded configuration.
const maxImportBytes = 5 << 20

// PlanImport parses and validates an export against the org without changing anything.
func (s *Configuration) PlanImport(ctx context.Context, connID int64, raw []byte) (ImportPlan, error) {
	var plan ImportPlan
	if len(raw) > maxImportBytes {
		return plan, failure.E(failure.Invalid, "The file is too large (limit %d MiB).", maxImportBytes>>20)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var in struct {
		Mappings   []json.RawMessage `json:"mappings"`
		Connection json.RawMessage   `json:"connection"`
		Version    *int              `json:"version"`
	}
	if err := dec.Decode(&in); err != nil {
		return plan, failure.E(failure.Invalid, "The file is not a Heroku Connect configuration: %s", jsonError(raw, err))
	}
	if in.Version == nil || *in.Version != 1 {
		plan.Problems = append(plan.Problems, mapping.Problem{Path: "version", Message: "must be 1"})
	}
	if in.Mappings == nil {
		plan.Problems = append(plan.Problems, mapping.Problem{Path: "mappings", Message: "is missing"})
	}
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return plan, err
	}
	org, err := s.orgFor(ctx, c)
	if err != nil {
		return plan, err
	}
	existing, err := mapping.List(ctx, s.opts.Pool, connID)
	if err != nil {
		return plan, err
	}
	seen := map[string]string{}
	for i, raw := range in.Mappings {
		path := fmt.Sprintf("mappings[%d]", i)
		var em struct {
			ObjectName string          `json:"object_name"`
			Config     json.RawMessage `json:"config"`
		}
		if err := json.Unmarshal(raw, &em); err != nil {
			plan.Problems = append(plan.Problems, mapping.Problem{Path: path, Message: "is not a mapping object"})
			continue
		}
		if strings.TrimSpace(em.ObjectName) == "" {
			plan.Problems = append(plan.Problems, mapping.Problem{Path: path + ".object_name", Message: "is missing"})
			continue
		}
		var cfg mapping.Config
		if err := json.Unmarshal(em.Config, &cfg); err != nil || em.Config == nil {
			plan.Problems = append(plan.Problems, mapping.Problem{Path: path + ".config", Message: "is missing or has a value of the wrong type: " + jsonError(em.Config, err)})
			continue
		}
		if prev, dup := seen[strings.ToLower(em.ObjectName)]; dup {
			plan.Problems = append(plan.Problems, mapping.Problem{Path: path + ".object_name", Message: fmt.Sprintf("%s is mapped twice (also at %s)", em.ObjectName, prev)})
			continue
		}
		seen[strings.ToLower(em.ObjectName)] = path
		obj, r, err := s.resolve(ctx, org, em.ObjectName, cfg, nil, path+".config")
		if err != nil {
			var ps mapping.Problems
			if asProblems(err, &ps) {
				plan.Problems = append(plan.Problems, ps...)
			} else {
				plan.Problems = append(plan.Problems, mapping.Problem{Path: path + ".object_name", Message: failure.Message(err)})
			}
			continue
		}
		idx := slices.IndexFunc(existing, func(m mapping.Mapping) bool { return strings.EqualFold(m.Object, obj.Name) })
		pm := PlannedMapping{Object: obj.Name, config: r.Config, fields: r.Table}
		if idx < 0 {
			pm.Changes = []string{fmt.Sprintf("new %s mapping, %d fields", r.Config.Access, len(r.Config.Fields))}
			plan.Add = append(plan.Add, pm)
			continue
		}
		if pm.Changes = diffConfig(existing[idx].Config, r.Config); len(pm.Changes) == 0 {
			plan.Unchanged = append(plan.Unchanged, obj.Name)
		} else {
			plan.Edit = append(plan.Edit, pm)
		}
	}
	for _, m := range existing {
		if _, inFile := seen[strings.ToLower(m.Object)]; !inFile {
			plan.Notes = append(plan.Notes, fmt.Sprintf("%s is not in the file and stays as it is (import never deletes mappings)", m.Object))
		}
	}
	return plan, nil
}

func asProblems(err error, ps *mapping.Problems) bool {
	var fe *failure.Error
	if errors.As(err, &fe) {
		if p, ok := fe.Err.(mapping.Problems); ok {
			*ps = p
			return true
		}
	}
	return false
}

// jsonError locates a JSON syntax error by line and column.
func jsonError(raw []byte, err error) string {
	if err == nil {
		return "missing"
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		line, col := 1, 1
		for _, b := range raw[:min(int(se.Offset), len(raw))] {
			if b == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Sprintf("%s at line %d, column %d", se.Error(), line, col)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Sprintf("the JSON ends early, at line %d, column %d (is the file truncated?)", bytes.Count(raw, []byte("\n"))+1, len(raw)-bytes.LastIndexByte(raw, '\n'))
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the file"
		}
		// Name JSON kinds, not Go types: an admin reads this.
		return fmt.Sprintf("%s should be %s, got %s", field, jsonKind(te.Type), te.Value)
	}
	return err.Error()
}

// jsonKind names what JSON value a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another kind of value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 && t.Name() == "RawMessage" {
			return "a JSON value"
		}
		return "a list"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another kind of value"
}

func diffConfig(a, b mapping.Config) []string {
	var out []string
	if a.Access != b.Access {
		out = append(out, fmt.Sprintf("access %s → %s", a.Access, b.Access))
	}
	if a.SFPollingSeconds != b.SFPollingSeconds {
		out = append(out, fmt.Sprintf("polling every %ds → %ds", a.SFPollingSeconds, b.SFPollingSeconds))
	}
	if a.SFNotifyEnabled != b.SFNotifyEnabled {
		out = append(out, fmt.Sprintf("accelerated %t → %t", a.SFNotifyEnabled, b.SFNotifyEnabled))
	}
	var added, removed []string
	for f := range b.Fields {
		if _, ok := a.Fields[f]; !ok {
			added = append(added, "+"+f)
		}
	}
	for f := range a.Fields {
		if _, ok := b.Fields[f]; !ok {
			removed = append(removed, "-"+f)
		}
	}
	slices.Sort(added)
	slices.Sort(removed)
	if len(added)+len(removed) > 0 {
		out = append(out, "fields "+strings.Join(append(added, removed...), " "))
	}
	if !reflect.DeepEqual(a.Indexes, b.Indexes) {
		out = append(out, "indexes changed")
	}
	if a.UpsertField != b.UpsertField {
		out = append(out, fmt.Sprintf("upsert field %q → %q", a.UpsertField, b.UpsertField))
	}
	if a.Filter() != b.Filter() {
		out = append(out, "record filter changed")
	}
	if a.ConflictPolicy() != b.ConflictPolicy() {
		out = append(out, fmt.Sprintf("conflict policy %q → %q", a.ConflictPolicy(), b.ConflictPolicy()))
	}
	return out
}

// ApplyImport validates the file again and applies the whole plan in one transaction: either every
// mapping is added or edited, or none is. Syncing starts at once.
func (s *Configuration) ApplyImport(ctx context.Context, actor audit.Actor, connID int64, raw []byte) (ImportPlan, error) {
	plan, err := s.PlanImport(ctx, connID, raw)
	if err != nil {
		return plan, err
	}
	if len(plan.Problems) > 0 {
		return plan, plan.Problems.Failure()
	}
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return plan, err
	}
	now := s.opts.Now().UTC()
	err = store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		prev, err := connection.Apply(ctx, tx, connID, connection.StartImport, fmt.Sprintf("%d to add, %d to edit", len(plan.Add), len(plan.Edit)))
		if err != nil {
			return err
		}
		for _, pm := range plan.Add {
			pm.config.AppliedAt = &now
			if _, err := s.insertMapping(ctx, tx, c, pm.Object, mapping.Resolved{Config: pm.config, Table: pm.fields}); err != nil {
				return fmt.Errorf("add %s: %w", pm.Object, err)
			}
		}
		for _, pm := range plan.Edit {
			if err := s.importEdit(ctx, tx, c, pm, now); err != nil {
				return fmt.Errorf("edit %s: %w", pm.Object, err)
			}
		}
		// Back to where it was: an import into a paused connection stays paused.
		back := connection.Transition{Name: "finish_import", From: []connection.State{connection.ImportConfiguration}, To: prev}
		if _, err := connection.Apply(ctx, tx, connID, back, ""); err != nil {
			return err
		}
		var adds, edits []string
		for _, pm := range plan.Add {
			adds = append(adds, pm.Object)
		}
		for _, pm := range plan.Edit {
			edits = append(edits, pm.Object+" ("+strings.Join(pm.Changes, "; ")+")")
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.ConfigImport, Target: c.Name,
			After: json.RawMessage(raw), Detail: fmt.Sprintf("added: %s; edited: %s", orNone(adds), orNone(edits))}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, connID, 0)
	})
	return plan, err
}

func orNone(xs []string) string {
	if len(xs) == 0 {
		return "none"
	}
	return strings.Join(xs, ", ")
}

func (s *Configuration) importEdit(ctx context.Context, tx pgx.Tx, c connection.Connection, pm PlannedMapping, now time.Time) error {
	cur, err := mapping.ByObject(ctx, tx, c.ID, pm.Object)
	if err != nil {
		return err
	}
	if cur.State.Loading() {
		return failure.E(failure.Conflict, "the %s mapping is loading (%s); abort it or wait, then import again", cur.Object, cur.State)
	}
	if _, err := mapping.Apply(ctx, tx, cur.ID, mapping.AlterSchema, "imported configuration"); err != nil {
		return err
	}
	next := specOf(c, cur)
	next.Fields, next.Indexes, next.ReadOnly = pm.fields, indexSpec(pm.config), pm.config.Access == mapping.ReadOnly
	ch, err := table.Alter(ctx, tx, specOf(c, cur), next, nil)
	if err != nil {
		return failure.Wrap(err, failure.Invalid, "%s", err.Error())
	}
	pm.config.AppliedAt = &now
	if err := mapping.SaveConfig(ctx, tx, cur.ID, pm.config, pm.fields); err != nil {
		return err
	}
	if added := fieldsNamed(pm.fields, ch.Added); len(added) > 0 {
		backfill := append([]table.Field{{Name: "Id", Type: "id", Length: 18}}, added...)
		return mapping.RequestBackfill(ctx, tx, cur.ID, backfill)
	}
	_, err = mapping.Apply(ctx, tx, cur.ID, mapping.Loaded, summarize(ch))
	return err
}
