package engine

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/soql"
	"pgforce/sync/store"
)

// orgCache keeps one org client per connection for administrative calls (describes are cached there).
type orgCache struct {
	mu      sync.Mutex
	clients map[int64]cachedOrg
}

type cachedOrg struct {
	key string
	org Org
}

// orgFor returns an org client for administrative calls on a connection.
func (e *Engine) orgFor(ctx context.Context, c connection.Connection) (Org, error) {
	if c.State == connection.New || c.AuthorizedAt == nil {
		return nil, failure.E(failure.Conflict, "Authorize the connection with Salesforce first.")
	}
	key := fmt.Sprintf("%s|%s", c.AuthorizedAt.Format(time.RFC3339Nano), c.APIVersion)
	e.orgs.mu.Lock()
	if e.orgs.clients == nil {
		e.orgs.clients = map[int64]cachedOrg{}
	}
	if co, ok := e.orgs.clients[c.ID]; ok && co.key == key {
		e.orgs.mu.Unlock()
		return co.org, nil
	}
	e.orgs.mu.Unlock()
	tokens, err := connection.LoadTokens(ctx, e.opts.Pool, e.opts.Keyring, c.ID)
	if err != nil {
		return nil, err
	}
	org, err := e.opts.Orgs.Open(ctx, c, tokens, func(ctx context.Context, access, refresh string) error {
		return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
			return connection.SaveTokens(ctx, tx, e.opts.Keyring, c.ID, connection.Tokens{AccessToken: access, RefreshToken: refresh})
		})
	})
	if err != nil {
		return nil, err
	}
	e.orgs.mu.Lock()
	e.orgs.clients[c.ID] = cachedOrg{key: key, org: org}
	e.orgs.mu.Unlock()
	return org, nil
}

// Objects lists the objects of a connection's org that can be mapped, filtered by a search term
// (name or label, case-insensitive), with whether each is already mapped.
func (e *Engine) Objects(ctx context.Context, connID int64, search string) ([]ObjectSummary, error) {
	c, err := connection.Load(ctx, e.opts.Pool, connID)
	if err != nil {
		return nil, err
	}
	org, err := e.orgFor(ctx, c)
	if err != nil {
		return nil, err
	}
	all, err := org.Objects(ctx)
	if err != nil {
		return nil, err
	}
	search = strings.ToLower(strings.TrimSpace(search))
	var out []ObjectSummary
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
func (e *Engine) Describe(ctx context.Context, connID int64, object string) (mapping.Object, error) {
	c, err := connection.Load(ctx, e.opts.Pool, connID)
	if err != nil {
		return mapping.Object{}, err
	}
	org, err := e.orgFor(ctx, c)
	if err != nil {
		return mapping.Object{}, err
	}
	return org.Describe(ctx, object)
}

// resolve validates a configuration against the org's current describe.
func (e *Engine) resolve(ctx context.Context, org Org, object string, cfg mapping.Config, prefix string) (mapping.Object, mapping.Resolved, error) {
	obj, err := org.Describe(ctx, object)
	if err != nil {
		return obj, mapping.Resolved{}, err
	}
	env := mapping.Env{
		Describe:    func(o string) (mapping.Object, error) { return org.Describe(ctx, o) },
		CheckFilter: e.checkFilter(ctx, org),
	}
	r, ps := mapping.Validate(cfg, obj, env, prefix)
	if len(ps) > 0 {
		return obj, r, ps.Failure()
	}
	return obj, r, nil
}

// checkFilter validates a record filter by asking Salesforce to count the matching records: the org
// itself is the authority on its SOQL, and the admin sees how many records the filter keeps.
func (e *Engine) checkFilter(ctx context.Context, org Org) func(object, where string) error {
	return func(object, where string) error {
		// The filter is pasted into every query of the mapping: it must be one condition on its
		// own ("A = 1) OR (B = 2" or "A = 1 LIMIT 5" would change those queries).
		if _, err := soql.ParseCondition(where, e.opts.Now()); err != nil {
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

// CreateMapping creates the table and starts loading every record (every matching one with a filter).
func (e *Engine) CreateMapping(ctx context.Context, actor audit.Actor, connID int64, object string, cfg mapping.Config) (mapping.Mapping, error) {
	c, err := connection.Load(ctx, e.opts.Pool, connID)
	if err != nil {
		return mapping.Mapping{}, err
	}
	org, err := e.orgFor(ctx, c)
	if err != nil {
		return mapping.Mapping{}, err
	}
	obj, r, err := e.resolve(ctx, org, object, cfg, "config")
	if err != nil {
		return mapping.Mapping{}, err
	}
	now := e.opts.Now().UTC()
	r.Config.AppliedAt = &now
	return store.TxResult(ctx, e.opts.Pool, func(tx pgx.Tx) (mapping.Mapping, error) {
		m, err := e.insertMapping(ctx, tx, c, obj.Name, r)
		if err != nil {
			return m, err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingCreate, Target: obj.Name, After: r.Config}); err != nil {
			return m, err
		}
		return m, notify(ctx, tx, c.ID, m.ID)
	})
}

func (e *Engine) insertMapping(ctx context.Context, tx pgx.Tx, c connection.Connection, object string, r mapping.Resolved) (mapping.Mapping, error) {
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

// Mapping returns one mapping.
func (e *Engine) Mapping(ctx context.Context, id int64) (mapping.Mapping, error) {
	return mapping.Load(ctx, e.opts.Pool, id)
}

// Mappings lists a connection's mappings.
func (e *Engine) Mappings(ctx context.Context, connID int64) ([]mapping.Mapping, error) {
	return mapping.List(ctx, e.opts.Pool, connID)
}

// EditMapping applies a new configuration with ALTER TABLE and loads the values of added fields.
// Fields listed in recreate whose type changed in Salesforce get their column dropped and re-added
// (the seed's two edits in one).
func (e *Engine) EditMapping(ctx context.Context, actor audit.Actor, mappingID int64, cfg mapping.Config, recreate []string) (mapping.Mapping, error) {
	m, err := mapping.Load(ctx, e.opts.Pool, mappingID)
	if err != nil {
		return m, err
	}
	if m.State.Loading() {
		return m, failure.E(failure.Conflict, "The %s mapping is busy (%s); abort it or wait until it finishes before editing.", m.Object, m.State)
	}
	c, err := connection.Load(ctx, e.opts.Pool, m.ConnectionID)
	if err != nil {
		return m, err
	}
	org, err := e.orgFor(ctx, c)
	if err != nil {
		return m, err
	}
	_, r, err := e.resolve(ctx, org, m.Object, cfg, "config")
	if err != nil {
		return m, err
	}
	now := e.opts.Now().UTC()
	r.Config.AppliedAt = &now
	return store.TxResult(ctx, e.opts.Pool, func(tx pgx.Tx) (mapping.Mapping, error) {
		cur, err := mapping.LoadForUpdate(ctx, tx, mappingID)
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
		if len(backfill) > 0 {
			backfill = append([]table.Field{{Name: "Id", Type: "id", Length: 18}}, backfill...)
			if _, err := tx.Exec(ctx, `UPDATE mappings SET backfill = $2, requested_action = 'resync' WHERE id = $1`, cur.ID, backfill); err != nil {
				return cur, err
			}
		} else if _, err := mapping.Apply(ctx, tx, cur.ID, mapping.Loaded, summarize(ch)); err != nil {
			return cur, err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingEdit, Target: cur.Object,
			Before: cur.Config, After: r.Config, Detail: summarize(ch)}); err != nil {
			return cur, err
		}
		if err := notify(ctx, tx, c.ID, cur.ID); err != nil {
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

// discardPendingWrites removes a table's changes not yet written to Salesforce (reload and delete
// destroy them, as the seed warns).
func discardPendingWrites(ctx context.Context, tx pgx.Tx, schema, tableName string) (int64, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM `+table.Ident(schema, "_trigger_log")+` WHERE table_name = $1 AND state IN ('NEW', 'PENDING', 'REQUEUE')`, tableName)
	if err != nil {
		return 0, fmt.Errorf("discard pending writes of %s: %w", tableName, err)
	}
	return tag.RowsAffected(), nil
}

// PendingWrites counts a mapping's changes not yet written to Salesforce (for confirmations).
func (e *Engine) PendingWrites(ctx context.Context, mappingID int64) (int64, error) {
	m, err := mapping.Load(ctx, e.opts.Pool, mappingID)
	if err != nil {
		return 0, err
	}
	c, err := connection.Load(ctx, e.opts.Pool, m.ConnectionID)
	if err != nil {
		return 0, err
	}
	var n int64
	err = e.opts.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table.Ident(c.Schema, "_trigger_log")+` WHERE table_name = $1 AND state IN ('NEW', 'PENDING', 'REQUEUE')`, m.Table).Scan(&n)
	return n, err
}

// ReloadMapping empties the table, destroys its pending writes and loads every record again (new id
// values). Refused while the mapping is loading: abort first.
func (e *Engine) ReloadMapping(ctx context.Context, actor audit.Actor, mappingID int64) error {
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		m, err := mapping.LoadForUpdate(ctx, tx, mappingID)
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
		dropped, err := discardPendingWrites(ctx, tx, c.Schema, m.Table)
		if err != nil {
			return err
		}
		if err := table.Truncate(ctx, tx, c.Schema, m.Object); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mappings SET watermark = NULL, watermark_id = '', load_done = 0, load_expected = NULL,
			load_started_at = NULL, load_finished_at = NULL, requested_action = 'reload' WHERE id = $1`, m.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingReload, Target: m.Object,
			Detail: fmt.Sprintf("table truncated; %d pending writes discarded", dropped)}); err != nil {
			return err
		}
		return notify(ctx, tx, c.ID, m.ID)
	})
}

// AbortMapping cancels whatever runs on a loading mapping and leaves it ABORTED (reload or delete it).
func (e *Engine) AbortMapping(ctx context.Context, actor audit.Actor, mappingID int64) error {
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		m, err := mapping.LoadForUpdate(ctx, tx, mappingID)
		if err != nil {
			return err
		}
		if _, err := mapping.Apply(ctx, tx, m.ID, mapping.Abort, "aborted by "+actor.Name); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE mappings SET requested_action = NULL WHERE id = $1`, m.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &m.ConnectionID, Action: audit.MappingAbort, Target: m.Object,
			Before: map[string]any{"state": m.State}}); err != nil {
			return err
		}
		return notify(ctx, tx, m.ConnectionID, m.ID)
	})
}

// DeleteMapping drops the table and the mapping's pending writes. Refused while loading: abort first.
func (e *Engine) DeleteMapping(ctx context.Context, actor audit.Actor, mappingID int64) error {
	return store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
		m, err := mapping.LoadForUpdate(ctx, tx, mappingID)
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
		dropped, err := discardPendingWrites(ctx, tx, c.Schema, m.Table)
		if err != nil {
			return err
		}
		if err := table.Drop(ctx, tx, c.Schema, m.Object); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM mappings WHERE id = $1`, m.ID); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &c.ID, Action: audit.MappingDelete, Target: m.Object,
			Before: m.Config, Detail: fmt.Sprintf("table %s.%s dropped; %d pending writes discarded", c.Schema, m.Table, dropped)}); err != nil {
			return err
		}
		return notify(ctx, tx, c.ID, 0)
	})
}
