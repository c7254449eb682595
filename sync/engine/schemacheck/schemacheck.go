// Package schemacheck compares a connection's mappings with its org's describe: mappings whose object
// is gone (orphans) and fields whose definition changed since the table was built (drift). Nothing is
// changed automatically: the mapping is flagged with the fix the seed prescribes. The syncer runs it
// every Interval, and for one mapping at once when Postgres refuses a value from Salesforce (a
// field that grew or changed type: Explain); an admin runs it on demand.
package schemacheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce"
	"pgforce/sync/store"
)

// Interval is how often a syncer compares its mappings with the org's describe, 96 times a day: one
// describe global with If-Modified-Since (304 while no metadata changed), and one describe per
// mapping only when something did.
const Interval = 15 * time.Minute

// Run detects orphaned mappings (objects removed or renamed in Salesforce) and field drift of a
// connection's mappings, and flags them.
func Run(ctx context.Context, pool *pgxpool.Pool, org orgclient.Org, c connection.Connection) error {
	return RunSince(ctx, pool, org, c, time.Time{})
}

// RunSince is Run for a periodic check whose last complete run began at since (zero: none). When
// the org says that no object's metadata changed after it (orgclient.MetadataWatcher: one API call),
// only mappings created or edited after it are compared with their describe; the others are as the
// last run found them.
func RunSince(ctx context.Context, pool *pgxpool.Pool, org orgclient.Org, c connection.Connection, since time.Time) error {
	var objects []orgclient.ObjectSummary
	modified := true
	var err error
	if w, ok := org.(orgclient.MetadataWatcher); ok && !since.IsZero() {
		objects, modified, err = w.ObjectsModifiedSince(ctx, since)
	} else {
		objects, err = org.Objects(ctx)
	}
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
		if !modified {
			if editedAfter(m, since) {
				if _, err := Check(ctx, pool, org, m); err != nil {
					return err
				}
			}
			continue
		}
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
		if _, err := Check(ctx, pool, org, m); err != nil {
			return err
		}
	}
	return nil
}

// editedAfter reports whether a mapping was created or its configuration applied after t (an edit
// clears its drift: what it left drifted is found again).
func editedAfter(m mapping.Mapping, t time.Time) bool {
	for _, at := range []*time.Time{&m.CreatedAt, m.AppliedAt, m.Config.AppliedAt} {
		if at != nil && at.After(t) {
			return true
		}
	}
	return false
}

// Check compares one mapping with its object's current describe and records the drift found (the
// mapping's drift and, when it changed, its history).
func Check(ctx context.Context, pool *pgxpool.Pool, org orgclient.Org, m mapping.Mapping) ([]mapping.Drift, error) {
	obj, err := org.Describe(ctx, m.Object)
	if err != nil {
		return nil, err
	}
	drift := Drift(m, obj)
	return drift, recordDrift(ctx, pool, m, drift)
}

// Explain turns Postgres's refusal of a value from Salesforce (too long for its column, out of its
// numeric range, not of its type), or Salesforce's refusal of a mapped field (INVALID_FIELD: it was
// removed), into the drift that caused it: the mapping's fields are checked against the object's
// describe at once, and the error names each drifted field with its fix. Any other error, or one no
// drift explains, is returned as it is.
func Explain(ctx context.Context, pool *pgxpool.Pool, org orgclient.Org, m mapping.Mapping, err error) error {
	var pe *pgconn.PgError
	var se *salesforce.Error
	var why string
	switch {
	case errors.As(err, &pe) && strings.HasPrefix(pe.Code, "22"): // class 22: data exception
		why = "Postgres refused a value from Salesforce: " + pe.Message
	case errors.As(err, &se) && se.Code == "INVALID_FIELD":
		why = "Salesforce refused the query: " + se.Message
	default:
		return err
	}
	drift, cerr := Check(ctx, pool, org, m)
	if cerr != nil || len(drift) == 0 {
		return err
	}
	return failure.Wrap(err, failure.Invalid, "%s (%s)", Describe(drift), why)
}

// Describe says what drifted, field by field, with each fix.
func Describe(drift []mapping.Drift) string {
	parts := make([]string, 0, len(drift))
	for _, d := range drift {
		switch {
		case d.Removed:
			parts = append(parts, fmt.Sprintf("field %s drifted: it no longer exists in Salesforce. %s", d.Field, d.Fix))
		case d.Required:
			parts = append(parts, fmt.Sprintf("field %s drifted: %s", d.Field, d.Fix))
		default:
			parts = append(parts, fmt.Sprintf("field %s drifted: its column is %s, Salesforce's definition needs %s. %s", d.Field, d.Was, d.Now, d.Fix))
		}
	}
	return strings.Join(parts, " ")
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
		if table.Widens(was, now) {
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
		return mapping.RecordEvent(ctx, tx, m, "warn", "drift", "Field definitions changed in Salesforce: "+Describe(drift)+" Nothing was changed.")
	})
}
