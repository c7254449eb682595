package admin

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// deletableStates are the connection states in which nothing is in flight: deleting then cannot cut
// a write batch or a recovery in half.
var deletableStates = []connection.State{connection.New, connection.Idle, connection.Paused}

// MappingState is a mapping's object and state, as DeleteRefusal needs them.
type MappingState struct {
	Object string
	State  mapping.State
}

// DeleteRefusal says why Delete refuses the connection now (nil when it would not): it is BUSY, not
// NEW, IDLE or PAUSED, or one of its mappings is loading. The dashboard's confirmation asks the same.
func DeleteRefusal(c connection.Connection, ms []MappingState) error {
	if c.State == connection.Busy {
		return failure.E(failure.Conflict, "The connection %s is still pausing (BUSY): delete it once it is PAUSED, in a moment.", c.Name)
	}
	if !slices.Contains(deletableStates, c.State) {
		return failure.E(failure.Conflict, "Pause the connection %s before deleting it (it is %s).", c.Name, c.State)
	}
	for _, m := range ms {
		if m.State.Loading() {
			return failure.E(failure.Conflict, "The %s mapping is loading data (%s). Abort it before deleting the connection.", m.Object, m.State)
		}
	}
	return nil
}

// Delete removes a connection, its mappings, events and leases (retiring the old connection
// after a sandbox refresh, or a connection set up by mistake). With dropSchema the connection's
// schema goes too, mapped tables and trigger log included; without it the tables stay for the data
// they hold, but their capture triggers are removed so application writes stop queueing changes that
// nothing would ever send. Refused unless the connection is NEW, IDLE or PAUSED and no mapping is
// loading: pause it (or abort the loads) first.
func (s *Connections) Delete(ctx context.Context, actor audit.Actor, connID int64, dropSchema bool) error {
	// The refresh token is revoked after the commit, best effort: a deleted connection must not leave
	// a live grant in the org, but an unreachable org must not block the deletion either.
	tokens, _ := connection.LoadTokens(ctx, s.opts.Pool, s.opts.Keyring, connID)
	var deleted connection.Connection
	var dropped string // the schema's name once retired, to drop after the commit
	err := store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		if err := lease.LockForDelete(ctx, tx, connID); err != nil {
			return err
		}
		c, err := connection.LoadForUpdate(ctx, tx, connID)
		if err != nil {
			return err
		}
		ms, err := mapping.List(ctx, tx, connID)
		if err != nil {
			return err
		}
		states := make([]MappingState, len(ms))
		for i, m := range ms {
			states[i] = MappingState{Object: m.Object, State: m.State}
		}
		if err := DeleteRefusal(c, states); err != nil {
			return err
		}
		if dropSchema {
			// Renamed here, dropped after the commit a hundred tables at a time (store.DropSchema):
			// the deletion stays one transaction, and its name is free for a new connection at once.
			if dropped, err = retireSchema(ctx, tx, c); err != nil {
				return err
			}
		} else {
			for _, m := range ms {
				if err := triggerlog.DropTableTriggers(ctx, tx, c.Schema, m.Table); err != nil {
					return fmt.Errorf("remove capture triggers of %s.%s: %w", c.Schema, m.Table, err)
				}
			}
		}
		// Mappings, events, leases and sync statistics go with the row (ON DELETE CASCADE).
		if err := connection.Delete(ctx, tx, connID); err != nil {
			return err
		}
		detail := fmt.Sprintf("%d mappings removed; schema %s kept with its tables", len(ms), c.Schema)
		if dropSchema {
			detail = fmt.Sprintf("%d mappings removed; schema %s dropped", len(ms), c.Schema)
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.ConnectionDelete, Target: c.Name,
			Before: map[string]any{"schema": c.Schema, "state": c.State, "org_id": c.OrgID, "mappings": len(ms)}, Detail: detail}); err != nil {
			return err
		}
		deleted = c
		// Every instance reconciles on the notification and stops the connection's syncer.
		return connection.Notify(ctx, tx, connID, 0)
	})
	if err != nil {
		return err
	}
	s.forget(connID)
	if dropped != "" {
		if err := store.DropSchema(ctx, s.opts.Pool, dropped); err != nil {
			return fmt.Errorf("connection %s deleted, but its schema %s (renamed %s) could not be dropped; pgforce drops it when it next starts: %w",
				deleted.Name, deleted.Schema, dropped, err)
		}
	}
	if tokens.RefreshToken != "" {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := s.opts.Orgs.Revoke(rctx, deleted, tokens.RefreshToken); err != nil {
			s.opts.Log.Warn("revoke the deleted connection's Salesforce token", "connection", deleted.Name, "err", err)
		}
	}
	return nil
}

// RetiredSchemaPrefix starts the name a deleted connection's schema takes until it is dropped.
const RetiredSchemaPrefix = "pgforce_deleted_"

// retireSchema renames a deleted connection's schema (when it exists) to a name of its own, which
// locks the schema, not the thousand tables in it. It returns the new name, or "".
func retireSchema(ctx context.Context, tx pgx.Tx, c connection.Connection) (string, error) {
	var exists bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, c.Schema).Scan(&exists); err != nil {
		return "", fmt.Errorf("look up schema %s: %w", c.Schema, err)
	}
	if !exists {
		return "", nil
	}
	name := fmt.Sprintf("%s%d_%d", RetiredSchemaPrefix, c.ID, time.Now().UnixNano())
	if _, err := tx.Exec(ctx, `ALTER SCHEMA `+table.Ident(c.Schema)+` RENAME TO `+table.Ident(name)); err != nil {
		return "", fmt.Errorf("retire schema %s of connection %s: %w", c.Schema, c.Name, err)
	}
	return name, nil
}

// DropRetiredSchemas drops the schemas of deleted connections that an interrupted deletion left
// (renamed, not yet dropped). pgforce runs it as it starts.
func DropRetiredSchemas(ctx context.Context, db store.Execer) error {
	rows, err := db.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)`, RetiredSchemaPrefix)
	var names []string
	if err == nil {
		names, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if err != nil {
		return fmt.Errorf("list the schemas of deleted connections: %w", err)
	}
	for _, n := range names {
		if err := store.DropSchema(ctx, db, n); err != nil {
			return err
		}
	}
	return nil
}
