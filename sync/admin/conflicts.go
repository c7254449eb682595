package admin

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// Conflicts lists the conflicts the writer detected and resolves the held ones (manual policy).
type Conflicts struct{ *base }

// List returns a connection's conflicts, newest first.
func (s *Conflicts) List(ctx context.Context, f conflict.Filter) ([]conflict.Conflict, error) {
	if _, err := connection.Load(ctx, s.opts.Pool, f.ConnectionID); err != nil {
		return nil, err
	}
	return conflict.List(ctx, s.opts.Pool, f)
}

// Get returns one conflict.
func (s *Conflicts) Get(ctx context.Context, connID, id int64) (conflict.Conflict, error) {
	return conflict.Get(ctx, s.opts.Pool, connID, id)
}

// Counts returns a connection's conflicts by mapping and outcome (the metrics).
func (s *Conflicts) Counts(ctx context.Context, connID int64) (map[int64]map[conflict.Outcome]int, error) {
	return conflict.Counts(ctx, s.opts.Pool, connID)
}

// Side is the version an admin keeps.
type Side string

// Sides.
const (
	KeepPostgres   Side = "postgres"
	KeepSalesforce Side = "salesforce"
)

// ParseSide reads "postgres" or "salesforce" (also keep-postgres, keep_salesforce...).
func ParseSide(s string) (Side, error) {
	switch s {
	case "postgres", "keep-postgres", "keep_postgres", "pg":
		return KeepPostgres, nil
	case "salesforce", "keep-salesforce", "keep_salesforce", "sf":
		return KeepSalesforce, nil
	}
	return "", failure.InvalidField("keep", "keep postgres or salesforce, not %q", s)
}

// Resolve keeps one side of a held conflict of a connection (connID 0: whichever it belongs to): the
// held change is queued again and the writer sends it (Postgres kept) or drops it and the row takes
// Salesforce's version (Salesforce kept). Audited.
func (s *Conflicts) Resolve(ctx context.Context, actor audit.Actor, connID, id int64, side Side) (conflict.Conflict, error) {
	t := conflict.KeepPostgres
	if side == KeepSalesforce {
		t = conflict.KeepSalesforce
	}
	return store.TxResult(ctx, s.opts.Pool, func(tx pgx.Tx) (conflict.Conflict, error) {
		cf, err := conflict.Resolve(ctx, tx, connID, id, t, actor.Name)
		if err != nil {
			return cf, err
		}
		connID = cf.ConnectionID
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return cf, err
		}
		if _, err := triggerlog.DecideHeld(ctx, tx, c.Schema, cf.TriggerLogID); err != nil {
			return cf, err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.ConflictResolve,
			Target: fmt.Sprintf("%s %s (conflict %d, write %d)", cf.Object, cf.SFID, cf.ID, cf.TriggerLogID), Detail: "kept " + string(side)}); err != nil {
			return cf, err
		}
		return cf, connection.Notify(ctx, tx, connID, 0)
	})
}
