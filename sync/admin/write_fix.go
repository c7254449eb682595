package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// FixAndRetry fixes a failed write's row and sends it again in one step ("Save and resend"): the
// row's columns in set (mapped fields, by Salesforce field or column name; "" stores NULL) are
// updated as pgforce (nothing is captured), then the row is captured anew as Retry does. Audited as
// a retry naming the fields changed.
func (s *Writes) FixAndRetry(ctx context.Context, actor audit.Actor, connID, logID int64, set map[string]string) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return err
		}
		w, err := triggerlog.LockFailed(ctx, tx, c.Schema, logID)
		if err != nil {
			return err
		}
		if w.Action == triggerlog.Delete && len(set) > 0 {
			return failure.E(failure.Invalid, "Write %d is a delete: there is no row to fix.", logID)
		}
		cols, err := s.fixColumns(ctx, tx, connID, w.Table, set)
		if err != nil {
			return err
		}
		if len(cols) > 0 {
			if err := apply.AsSync(ctx, tx); err != nil {
				return err
			}
			names := slices.Sorted(maps.Keys(cols))
			quoted := make([]string, len(names))
			obj := map[string]any{}
			for i, n := range names {
				quoted[i] = table.Ident(n)
				if v := cols[n]; v != "" {
					obj[n] = v
				} else {
					obj[n] = nil
				}
			}
			raw, _ := json.Marshal(obj)
			tbl := table.Ident(c.Schema, w.Table)
			tag, err := tx.Exec(ctx, `UPDATE `+tbl+` t SET (`+strings.Join(quoted, ", ")+`) = (SELECT `+strings.Join(quoted, ", ")+
				` FROM jsonb_populate_record(NULL::`+tbl+`, $2::jsonb)) WHERE t.id = $1`, w.RecordID, raw)
			if err != nil {
				return failure.Wrap(err, failure.Invalid, "The values do not fit the row's columns: %s", pgMessage(err))
			}
			if tag.RowsAffected() == 0 {
				return failure.E(failure.Conflict, "The row (%s id %d) no longer exists; there is nothing to fix.", w.Table, w.RecordID)
			}
			// The capture below must see the row as an application's change again.
			if _, err := tx.Exec(ctx, `SELECT set_config('xmlbinary', 'base64', true)`); err != nil {
				return err
			}
		}
		if _, err := triggerlog.ResendFailed(ctx, tx, c.Schema, logID); err != nil {
			return err
		}
		detail := ""
		if len(cols) > 0 {
			detail = "fixed " + strings.Join(slices.Sorted(maps.Keys(cols)), ", ")
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.WriteRetry,
			Target: fmt.Sprintf("%s id %d (write %d)", w.Table, w.RecordID, logID), Detail: detail}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, connID, 0)
	})
}

// fixColumns maps the fields an admin set to the mapped table's columns, refusing any other.
func (s *Writes) fixColumns(ctx context.Context, tx pgx.Tx, connID int64, tableName string, set map[string]string) (map[string]string, error) {
	out := map[string]string{}
	if len(set) == 0 {
		return out, nil
	}
	ms, err := mapping.List(ctx, tx, connID)
	if err != nil {
		return nil, err
	}
	allowed := map[string]bool{}
	for _, m := range ms {
		if m.Table != tableName {
			continue
		}
		for _, f := range m.AppliedFields {
			if !slices.Contains(mapping.SystemFields, f.Name) {
				allowed[table.Column(f.Name)] = true
			}
		}
	}
	for name, v := range set {
		col := table.Column(name)
		if !allowed[col] {
			return nil, failure.InvalidField(name, "%s is not a mapped field of %s that can be fixed", name, tableName)
		}
		out[col] = v
	}
	return out, nil
}

// pgMessage is a database error's message without the driver's prefix.
func pgMessage(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i >= 0 && strings.HasPrefix(msg, "ERROR") {
		return msg[i+2:]
	}
	return msg
}
