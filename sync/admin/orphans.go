package admin

import (
	"context"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// Orphans lists mappings whose Salesforce object no longer exists.
func (s *Mappings) Orphans(ctx context.Context, connID int64) ([]mapping.Mapping, error) {
	ms, err := mapping.List(ctx, s.opts.Pool, connID)
	if err != nil {
		return nil, err
	}
	var out []mapping.Mapping
	for _, m := range ms {
		if m.OrphanedAt != nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// RemoveOrphans deletes the configuration of orphaned mappings; their tables are dropped only when
// dropTables is set (the admin confirmed), otherwise kept for the data they hold.
func (s *Mappings) RemoveOrphans(ctx context.Context, actor audit.Actor, connID int64, dropTables bool) (int, error) {
	return store.TxResult(ctx, s.opts.Pool, func(tx pgx.Tx) (int, error) {
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return 0, err
		}
		orphans, err := mapping.LockOrphans(ctx, tx, connID)
		if err != nil {
			return 0, err
		}
		var names []string
		for _, o := range orphans {
			if _, err := triggerlog.DiscardWaiting(ctx, tx, c.Schema, o.Table); err != nil {
				return 0, err
			}
			if _, err := triggerlog.DismissFailedOfTable(ctx, tx, c.Schema, o.Table); err != nil {
				return 0, err
			}
			if dropTables {
				if err := table.Drop(ctx, tx, c.Schema, o.Object); err != nil {
					return 0, err
				}
			}
			if err := mapping.Delete(ctx, tx, o.ID); err != nil {
				return 0, err
			}
			names = append(names, o.Object)
		}
		if len(orphans) == 0 {
			return 0, failure.E(failure.Conflict, "There are no orphaned mappings to remove.")
		}
		detail := "tables kept"
		if dropTables {
			detail = "tables dropped"
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.OrphansRemove,
			Target: strings.Join(names, ", "), Detail: detail}); err != nil {
			return 0, err
		}
		return len(orphans), connection.Notify(ctx, tx, connID, 0)
	})
}
