package admin

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// Writes acts on database changes Salesforce refused (FAILED trigger-log rows).
type Writes struct{ *base }

// Retry sends a failed write again, Heroku Connect's way: the row's current values are captured anew
// and the failed entry is marked REQUEUED (triggerlog.ResendFailed). Fix the row first if Salesforce
// refused its values.
func (s *Writes) Retry(ctx context.Context, actor audit.Actor, connID, logID int64) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return err
		}
		w, err := triggerlog.ResendFailed(ctx, tx, c.Schema, logID)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.WriteRetry,
			Target: fmt.Sprintf("%s id %d (write %d)", w.Table, w.RecordID, logID)}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, connID, 0)
	})
}

// Ignore dismisses a failed write (FAILED → IGNORED); the row keeps its values in Postgres.
func (s *Writes) Ignore(ctx context.Context, actor audit.Actor, connID, logID int64) error {
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return err
		}
		w, err := triggerlog.DismissFailed(ctx, tx, c.Schema, logID)
		if err != nil {
			return err
		}
		if err := conflict.Dismissed(ctx, tx, connID, c.Schema, w.Table, w.RecordID, w.ID, actor.Name); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.WriteIgnore,
			Target: fmt.Sprintf("%s id %d (write %d)", w.Table, w.RecordID, logID)})
	})
}
