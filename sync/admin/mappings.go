package admin

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/schemacheck"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce/soql"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// Mappings administers mappings: what can be mapped, creating, editing, reloading, aborting and
// deleting them, and the orphans and field drift the schema check finds.
type Mappings struct {
	*base
	states *mapping.StatesCache // what ListStates read last
}

// Objects lists the objects of a connection's org that can be mapped, filtered by a search term
// (name or label, case-insensitive), with whether each is already mapped.
func (s *Mappings) Objects(ctx context.Context, connID int64, search string) ([]orgclient.ObjectSummary, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return nil, err
	}
	org, err := s.orgFor(ctx, c)
	if err != nil {
		return nil, err
	}
	all, err := org.Objects(ctx)
	if err != nil {
		return nil, err
	}
	search = strings.ToLower(strings.TrimSpace(search))
	var out []orgclient.ObjectSummary
	for _, o := range all {
		if !o.Queryable {
			continue
		}
		if search != "" && !strings.Contains(strings.ToLower(o.Name), search) && !strings.Contains(strings.ToLower(o.Label), search) {
			continue
		}
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Label) < strings.ToLower(out[j].Label) })
	return out, nil
}

// Describe returns an object's fields for the field picker.
func (s *Mappings) Describe(ctx context.Context, connID int64, object string) (mapping.Object, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return mapping.Object{}, err
	}
	org, err := s.orgFor(ctx, c)
	if err != nil {
		return mapping.Object{}, err
	}
	return org.Describe(ctx, object)
}

// resolve validates a configuration against the org's current describe.
// An edit replaces prev (nil when creating): a field Salesforce removed that the edit keeps selected
// is not refused (see keepRemoved).
func (s *base) resolve(ctx context.Context, org orgclient.Org, object string, cfg mapping.Config, prev *mapping.Mapping, prefix string) (mapping.Object, mapping.Resolved, error) {
	obj, err := org.Describe(ctx, object)
	if err != nil {
		return obj, mapping.Resolved{}, err
	}
	env := mapping.Env{
		Describe:    func(o string) (mapping.Object, error) { return org.Describe(ctx, o) },
		CheckFilter: s.checkFilter(ctx, org),
	}
	var kept []table.Field
	if prev != nil {
		env.Previous = &prev.Config
		cfg, kept = keepRemoved(cfg, *prev, obj)
	}
	r, ps := mapping.Validate(cfg, obj, env, prefix)
	if len(ps) > 0 {
		return obj, r, ps.Failure()
	}
	for _, f := range kept {
		r.Config.Fields[f.Name] = struct{}{}
		r.Table = append(r.Table, f)
	}
	return obj, r, nil
}

// Each drift fix stands alone: an edit that fixes one drifted field (or none) is not refused because
// another field drifted too. The other keeps its column as it is and stays reported as drift until
// its own fix: keepRemoved keeps a field Salesforce removed that the edit leaves selected (its
// column, and its values, stay until the admin unmaps it), keepRetyped a field whose type changed
// that the edit does not recreate.
func keepRemoved(cfg mapping.Config, prev mapping.Mapping, obj mapping.Object) (mapping.Config, []table.Field) {
	out := cfg.Clone()
	var kept []table.Field
	for name := range cfg.Fields {
		if _, exists := obj.Field(name); exists || strings.Contains(name, ".") {
			continue
		}
		for _, f := range prev.AppliedFields {
			if strings.EqualFold(f.Name, name) {
				delete(out.Fields, name)
				kept = append(kept, f)
			}
		}
	}
	return out, kept
}

func keepRetyped(fields []table.Field, prev mapping.Mapping, recreate []string) []table.Field {
	out := slices.Clone(fields)
	for i, f := range out {
		for _, old := range prev.AppliedFields {
			if table.Column(old.Name) != table.Column(f.Name) {
				continue
			}
			was, _ := table.ColumnType(old)
			now, _ := table.ColumnType(f)
			if was != now && !table.Widens(was, now) && !slices.ContainsFunc(recreate, func(r string) bool { return strings.EqualFold(r, f.Name) }) {
				out[i] = old
			}
		}
	}
	return out
}

// checkFilter validates a record filter by asking Salesforce to count the matching records: the org
// itself is the authority on its SOQL, and the admin sees how many records the filter keeps.
func (s *base) checkFilter(ctx context.Context, org orgclient.Org) func(object, where string) error {
	return func(object, where string) error {
		// The filter is pasted into every query of the mapping: it must be one condition on its
		// own ("A = 1) OR (B = 2" or "A = 1 LIMIT 5" would change those queries).
		if _, err := soql.ParseCondition(where, s.opts.Now()); err != nil {
			code := "MALFORMED_QUERY"
			if se, ok := err.(*soql.Error); ok {
				code = se.Code
			}
			return fmt.Errorf("the filter is not one SOQL condition: %s: %s", code, err)
		}
		_, err := org.Count(ctx, "SELECT COUNT() FROM "+object+" WHERE "+where)
		if err != nil {
			return fmt.Errorf("Salesforce rejects the filter: %s", failure.Message(err))
		}
		return nil
	}
}

// Create creates the table and starts loading every record (every matching one with a filter).
func (s *Mappings) Create(ctx context.Context, actor audit.Actor, connID int64, object string, cfg mapping.Config) (mapping.Mapping, error) {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return mapping.Mapping{}, err
	}
	org, err := s.orgFor(ctx, c)
	if err != nil {
		return mapping.Mapping{}, err
	}
	obj, r, err := s.resolve(ctx, org, object, cfg, nil, "config")
	if err != nil {
		return mapping.Mapping{}, err
	}
	now := s.opts.Now().UTC()
	r.Config.AppliedAt = &now
	return store.TxResult(ctx, s.opts.Pool, func(tx pgx.Tx) (mapping.Mapping, error) {
		m, err := s.insertMapping(ctx, tx, c, obj.Name, r)
		if err != nil {
			return m, err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingCreate, Target: obj.Name, After: r.Config}); err != nil {
			return m, err
		}
		return m, connection.Notify(ctx, tx, c.ID, m.ID)
	})
}

func (s *base) insertMapping(ctx context.Context, tx pgx.Tx, c connection.Connection, object string, r mapping.Resolved) (mapping.Mapping, error) {
	m, err := mapping.Insert(ctx, tx, c.ID, object, r.Config, r.Table)
	if err != nil {
		return m, err
	}
	spec := table.Spec{Schema: c.Schema, Object: object, Fields: r.Table, Indexes: indexSpec(r.Config), ReadOnly: r.Config.Access == mapping.ReadOnly}
	if err := table.Create(ctx, tx, spec); err != nil {
		return m, err
	}
	return m, nil
}

func indexSpec(c mapping.Config) map[string]bool {
	out := map[string]bool{}
	for f, o := range c.Indexes {
		out[f] = o.Unique
	}
	return out
}

func specOf(c connection.Connection, m mapping.Mapping) table.Spec {
	return table.Spec{Schema: c.Schema, Object: m.Object, Fields: m.AppliedFields, Indexes: indexSpec(m.Config), ReadOnly: m.Config.Access == mapping.ReadOnly}
}

// Get returns one mapping.
func (s *Mappings) Get(ctx context.Context, id int64) (mapping.Mapping, error) {
	return mapping.Load(ctx, s.opts.Pool, id)
}

// List lists a connection's mappings.
func (s *Mappings) List(ctx context.Context, connID int64) ([]mapping.Mapping, error) {
	return mapping.List(ctx, s.opts.Pool, connID)
}

// ListStates lists a connection's mappings without their applied fields (mapping.ListStates), reading
// again only those that changed since the last list (mapping.StatesCache): the health checks behind
// every dashboard page ask for all of them on each refresh.
func (s *Mappings) ListStates(ctx context.Context, connID int64) ([]mapping.Mapping, error) {
	return s.states.ListStates(ctx, connID)
}

// Edit applies a new configuration with ALTER TABLE and loads the values of added fields.
// Fields listed in recreate whose type changed in Salesforce get their column dropped and re-added
// (the seed's two edits in one).
func (s *Mappings) Edit(ctx context.Context, actor audit.Actor, mappingID int64, cfg mapping.Config, recreate []string) (mapping.Mapping, error) {
	m, err := mapping.Load(ctx, s.opts.Pool, mappingID)
	if err != nil {
		return m, err
	}
	if m.State.Loading() {
		return m, failure.E(failure.Conflict, "The %s mapping is busy (%s); abort it or wait until it finishes before editing.", m.Object, m.State)
	}
	c, err := connection.Load(ctx, s.opts.Pool, m.ConnectionID)
	if err != nil {
		return m, err
	}
	org, err := s.orgFor(ctx, c)
	if err != nil {
		return m, err
	}
	_, r, err := s.resolve(ctx, org, m.Object, cfg, &m, "config")
	if err != nil {
		return m, err
	}
	r.Table = keepRetyped(r.Table, m, recreate)
	now := s.opts.Now().UTC()
	r.Config.AppliedAt = &now
	return store.TxResult(ctx, s.opts.Pool, func(tx pgx.Tx) (mapping.Mapping, error) {
		cur, err := lockForTableChange(ctx, tx, mappingID, "The %s mapping is busy (%s); abort it or wait until it finishes before editing.")
		if err != nil {
			return cur, err
		}
		if _, err := mapping.Apply(ctx, tx, cur.ID, mapping.AlterSchema, "edited by "+actor.Name); err != nil {
			return cur, err
		}
		next := specOf(c, cur)
		next.Fields, next.Indexes, next.ReadOnly = r.Table, indexSpec(r.Config), r.Config.Access == mapping.ReadOnly
		ch, err := table.Alter(ctx, tx, specOf(c, cur), next, recreate)
		if err != nil {
			return cur, failure.Wrap(err, failure.Invalid, "%s", err.Error())
		}
		if err := mapping.SaveConfig(ctx, tx, cur.ID, r.Config, r.Table); err != nil {
			return cur, err
		}
		backfill := fieldsNamed(r.Table, append(append([]string{}, ch.Added...), ch.Retyped...))
		if !cur.TableLoaded() {
			// Never completely loaded (aborted, or a reload that failed): an edit cannot make it synced;
			// it loads with its new fields.
			if err := mapping.ResetForReload(ctx, tx, cur.ID); err != nil {
				return cur, err
			}
			if _, err := mapping.Apply(ctx, tx, cur.ID, mapping.StartLoad, summarize(ch)+"; its table holds no completed load, so it loads now"); err != nil {
				return cur, err
			}
		} else if len(backfill) > 0 {
			backfill = append([]table.Field{{Name: "Id", Type: "id", Length: 18}}, backfill...)
			if err := mapping.RequestBackfill(ctx, tx, cur.ID, backfill); err != nil {
				return cur, err
			}
		} else if _, err := mapping.Apply(ctx, tx, cur.ID, mapping.Loaded, summarize(ch)); err != nil {
			return cur, err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingEdit, Target: cur.Object,
			Before: cur.Config, After: r.Config, Detail: summarize(ch)}); err != nil {
			return cur, err
		}
		if err := connection.Notify(ctx, tx, c.ID, cur.ID); err != nil {
			return cur, err
		}
		return mapping.Load(ctx, tx, cur.ID)
	})
}

func fieldsNamed(fields []table.Field, names []string) []table.Field {
	var out []table.Field
	for _, f := range fields {
		if slices.Contains(names, f.Name) {
			out = append(out, f)
		}
	}
	return out
}

func summarize(ch table.Change) string {
	var parts []string
	add := func(label string, xs []string) {
		if len(xs) > 0 {
			parts = append(parts, label+" "+strings.Join(xs, ", "))
		}
	}
	add("added", ch.Added)
	add("removed", ch.Dropped)
	add("widened", ch.Widened)
	add("recreated", ch.Retyped)
	add("indexed", ch.IndexesAdded)
	add("unindexed", ch.IndexesDropped)
	if len(parts) == 0 {
		return "no schema change"
	}
	return strings.Join(parts, "; ")
}

// PendingWrites counts a mapping's changes not yet written to Salesforce (for confirmations).
func (s *Mappings) PendingWrites(ctx context.Context, mappingID int64) (int64, error) {
	m, err := mapping.Load(ctx, s.opts.Pool, mappingID)
	if err != nil {
		return 0, err
	}
	c, err := connection.Load(ctx, s.opts.Pool, m.ConnectionID)
	if err != nil {
		return 0, err
	}
	return triggerlog.CountWaiting(ctx, s.opts.Pool, c.Schema, []string{m.Table})
}

// Reload empties the table, destroys its pending writes and loads every record again (new id
// values). Refused while the mapping is loading: abort first.
func (s *Mappings) Reload(ctx context.Context, actor audit.Actor, mappingID int64) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		m, err := lockForTableChange(ctx, tx, mappingID, "The %s mapping is busy (%s). Abort it first, or wait until it finishes.")
		if err != nil {
			return err
		}
		c, err := connection.Load(ctx, tx, m.ConnectionID)
		if err != nil {
			return err
		}
		if _, err := mapping.Apply(ctx, tx, m.ID, mapping.Reload, "reload requested by "+actor.Name); err != nil {
			return err
		}
		dropped, err := triggerlog.DiscardWaiting(ctx, tx, c.Schema, m.Table)
		if err != nil {
			return err
		}
		if err := table.Truncate(ctx, tx, c.Schema, m.Object); err != nil {
			return err
		}
		if err := mapping.ResetForReload(ctx, tx, m.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingReload, Target: m.Object,
			Detail: fmt.Sprintf("table truncated; %d pending writes discarded", dropped)}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, c.ID, m.ID)
	})
}

// Abort cancels whatever runs on a loading mapping and leaves it ABORTED (reload or delete it).
func (s *Mappings) Abort(ctx context.Context, actor audit.Actor, mappingID int64) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		m, err := mapping.LoadForUpdate(ctx, tx, mappingID)
		if err != nil {
			return err
		}
		if _, err := mapping.Apply(ctx, tx, m.ID, mapping.Abort, "aborted by "+actor.Name); err != nil {
			return err
		}
		if err := mapping.ClearRequest(ctx, tx, m.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &m.ConnectionID, Action: audit.MappingAbort, Target: m.Object,
			Before: map[string]any{"state": m.State}}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, m.ConnectionID, m.ID)
	})
}

// Delete drops the table and the mapping's pending writes. Refused while loading: abort first.
func (s *Mappings) Delete(ctx context.Context, actor audit.Actor, mappingID int64) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		m, err := lockForTableChange(ctx, tx, mappingID, "The %s mapping is loading data (%s). Abort it before deleting it.")
		if err != nil {
			return err
		}
		if m.State.Loading() {
			return failure.E(failure.Conflict, "The %s mapping is loading data (%s). Abort it before deleting it.", m.Object, m.State)
		}
		c, err := connection.Load(ctx, tx, m.ConnectionID)
		if err != nil {
			return err
		}
		dropped, err := triggerlog.DiscardWaiting(ctx, tx, c.Schema, m.Table)
		if err != nil {
			return err
		}
		dismissed, err := triggerlog.DismissFailedOfTable(ctx, tx, c.Schema, m.Table)
		if err != nil {
			return err
		}
		if err := table.Drop(ctx, tx, c.Schema, m.Object); err != nil {
			return err
		}
		if err := mapping.Delete(ctx, tx, m.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingDelete, Target: m.Object,
			Before: m.Config, Detail: fmt.Sprintf("table %s.%s dropped; %d pending writes discarded, %d failed writes dismissed", c.Schema, m.Table, dropped, dismissed)}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, c.ID, 0)
	})
}

// CheckSchema runs orphan and drift detection for a connection now (the dashboard's "check now").
func (s *Mappings) CheckSchema(ctx context.Context, connID int64) error {
	c, err := connection.Load(ctx, s.opts.Pool, connID)
	if err != nil {
		return err
	}
	org, err := s.orgFor(ctx, c)
	if err != nil {
		return err
	}
	return schemacheck.Run(ctx, s.opts.Pool, org, c)
}

// Recover restarts one mapping stopped by an error (the mapping-level Recover From Error): its load
// resumes when the load never finished, otherwise it catches up at once. It returns the state the
// mapping went to.
func (s *Mappings) Recover(ctx context.Context, actor audit.Actor, mappingID int64) (mapping.State, error) {
	return store.TxResult(ctx, s.opts.Pool, func(tx pgx.Tx) (mapping.State, error) {
		m, err := mapping.LoadForUpdate(ctx, tx, mappingID)
		if err != nil {
			return "", err
		}
		if !m.State.Stopped() {
			return "", failure.E(failure.Conflict, "There is no error to recover from: the %s mapping is %s.", m.Object, m.State)
		}
		to, err := recoverMapping(ctx, tx, m, "recovered by "+actor.Name)
		if err != nil {
			return "", err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &m.ConnectionID, Action: audit.MappingRecover, Target: m.Object,
			Before: map[string]any{"state": m.State}, After: map[string]any{"state": to}}); err != nil {
			return "", err
		}
		return to, connection.Notify(ctx, tx, m.ConnectionID, m.ID)
	})
}

// lockForTableChange locks a mapping's table, then its row, for an admin change to both (edit,
// reload, delete): in the order polls and loads take them, so the two never deadlock. A loading
// mapping is refused at once (the load holds its table until it is done); busy words the refusal.
func lockForTableChange(ctx context.Context, tx pgx.Tx, mappingID int64, busy string) (mapping.Mapping, error) {
	m, err := mapping.Load(ctx, tx, mappingID)
	if err != nil {
		return m, err
	}
	if m.State.Loading() {
		return m, failure.E(failure.Conflict, busy, m.Object, m.State)
	}
	c, err := connection.Load(ctx, tx, m.ConnectionID)
	if err != nil {
		return m, err
	}
	if err := table.Lock(ctx, tx, c.Schema, m.Object); err != nil {
		return m, err
	}
	return mapping.LoadForUpdate(ctx, tx, mappingID)
}
