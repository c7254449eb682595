// Package schemacheck compares a connection's mappings with its org's describe: mappings whose object
// is gone (orphans) and fields whose definition changed since the table was built (drift). Nothing is
// changed automatically: the mapping is flagged with the fix the seed prescribes. The syncer runs it
// every SchemaCheckInterval; an admin runs it on demand.
package schemacheck

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
)

// Interval is how often a syncer compares its mappings with the org's describe.
const Interval = 6 * time.Hour

// Run detects orphaned mappings (objects removed or renamed in Salesforce) and field drift of a
// connection's mappings, and flags them.
func Run(ctx context.Context, pool *pgxpool.Pool, org orgclient.Org, c connection.Connection) error {
	objects, err := org.Objects(ctx)
	if err != nil {
		return err
	}
	exists := map[string]bool{}
	for _, o := range objects {
		exists[strings.ToLower(o.Name)] = true
	}
	ms, err := mapping.List(ctx, pool, c.ID)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if !exists[strings.ToLower(m.Object)] {
			if err := MarkOrphan(ctx, pool, m); err != nil {
				return err
			}
			continue
		}
		if m.OrphanedAt != nil {
			if err := mapping.SetOrphaned(ctx, pool, m.ID, false); err != nil {
				return err
			}
		}
		obj, err := org.Describe(ctx, m.Object)
		if err != nil {
			return err
		}
		if err := recordDrift(ctx, pool, m, Drift(m, obj)); err != nil {
			return err
		}
	}
	return nil
}

// MarkOrphan flags a mapping whose object is gone from Salesforce: orphaned, and BAD_CONFIG with
// the reason unless it is loading.
func MarkOrphan(ctx context.Context, pool *pgxpool.Pool, m mapping.Mapping) error {
	if m.OrphanedAt != nil {
		return nil
	}
	return store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if err := mapping.SetOrphaned(ctx, tx, m.ID, true); err != nil {
			return err
		}
		if !m.State.Loading() {
			if _, err := mapping.Apply(ctx, tx, m.ID, mapping.Misconfigured, fmt.Sprintf("Salesforce object %s no longer exists (removed or renamed): orphaned mapping; remove it in Settings → Orphaned Mappings", m.Object)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Drift compares the fields a table was built from with the object's current describe.
func Drift(m mapping.Mapping, obj mapping.Object) []mapping.Drift {
	var out []mapping.Drift
	for _, applied := range m.AppliedFields {
		if strings.Contains(applied.Name, ".") {
			continue // parent external ids live on another object
		}
		was, _ := table.ColumnType(applied)
		f, ok := obj.Field(applied.Name)
		if !ok {
			out = append(out, mapping.Drift{Field: applied.Name, Was: was, Removed: true,
				Fix: "The field no longer exists in Salesforce: edit the mapping, deselect it and save."})
			continue
		}
		now, err := table.ColumnType(table.Field{Name: f.Name, Type: f.Type, Length: f.Length, Precision: f.Precision, Scale: f.Scale, Digits: f.Digits})
		if err != nil || now == was {
			continue
		}
		d := mapping.Drift{Field: applied.Name, Was: was, Now: now}
		if widensType(was, now) {
			d.Widen = true
			d.Fix = "The field grew in Salesforce: edit the mapping and click Save."
		} else {
			d.Fix = "The field's type changed in Salesforce: edit the mapping, deselect the field and save, then select it again and save (or choose \"recreate column\" when editing)."
		}
		out = append(out, d)
	}
	if m.Config.Access == mapping.ReadWrite && obj.Createable {
		for _, f := range mapping.MissingRequired(obj, m.Config.Fields) {
			out = append(out, mapping.Drift{Field: f, Was: "not mapped", Now: "required to create records", Required: true,
				Fix: mapping.RequiredMessage(m.Object, f) + ": every insert from Postgres is refused until then."})
		}
	}
	return out
}

func widensType(was, now string) bool {
	var o, n int
	if _, err := fmt.Sscanf(was, "varchar(%d)", &o); err != nil {
		return false
	}
	if now == "text" {
		return true
	}
	_, err := fmt.Sscanf(now, "varchar(%d)", &n)
	return err == nil && n > o
}

func recordDrift(ctx context.Context, pool *pgxpool.Pool, m mapping.Mapping, drift []mapping.Drift) error {
	before, _ := json.Marshal(m.Drift)
	after, _ := json.Marshal(drift)
	if string(before) == string(after) || (len(m.Drift) == 0 && len(drift) == 0) {
		return nil
	}
	return store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if err := mapping.SaveDrift(ctx, tx, m.ID, drift); err != nil {
			return err
		}
		if len(drift) == 0 {
			return nil
		}
		var names []string
		for _, d := range drift {
			names = append(names, d.Field)
		}
		return mapping.RecordEvent(ctx, tx, m, "warn", "drift", fmt.Sprintf("Field definitions changed in Salesforce: %s. Nothing was changed; see the mapping for the fix.", strings.Join(names, ", ")))
	})
}
