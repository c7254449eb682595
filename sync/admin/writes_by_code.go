package admin

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

// RetryByCode sends again, as Retry does, every unresolved failed write of a mapping that Salesforce
// refused with code (the first code of its error; "" for failures naming none), in one transaction
// audited once. It returns how many were queued.
func (s *Writes) RetryByCode(ctx context.Context, actor audit.Actor, mappingID int64, code string) (int, error) {
	return s.byCode(ctx, actor, mappingID, code, audit.WriteRetry, "retried", func(ctx context.Context, tx pgx.Tx, c connection.Connection, id int64) error {
		_, err := triggerlog.ResendFailed(ctx, tx, c.Schema, id)
		return err
	})
}

// IgnoreByCode dismisses, as Ignore does, every unresolved failed write of a mapping that Salesforce
// refused with code, in one transaction audited once. It returns how many were ignored.
func (s *Writes) IgnoreByCode(ctx context.Context, actor audit.Actor, mappingID int64, code string) (int, error) {
	return s.byCode(ctx, actor, mappingID, code, audit.WriteIgnore, "ignored", func(ctx context.Context, tx pgx.Tx, c connection.Connection, id int64) error {
		w, err := triggerlog.DismissFailed(ctx, tx, c.Schema, id)
		if err != nil {
			return err
		}
		return conflict.Dismissed(ctx, tx, c.ID, c.Schema, w.Table, w.RecordID, w.ID, actor.Name)
	})
}

func (s *Writes) byCode(ctx context.Context, actor audit.Actor, mappingID int64, code string, action audit.Action, verb string,
	op func(context.Context, pgx.Tx, connection.Connection, int64) error) (int, error) {
	var n int
	err := store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		m, err := mapping.Load(ctx, tx, mappingID)
		if err != nil {
			return err
		}
		c, err := connection.Load(ctx, tx, m.ConnectionID)
		if err != nil {
			return err
		}
		ids, err := triggerlog.FailedWithCode(ctx, tx, c.Schema, m.Table, code)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			return failure.E(failure.NotFound, "%s has no failed write refused with %s.", m.Object, codeName(code))
		}
		for _, id := range ids {
			if err := op(ctx, tx, c, id); err != nil {
				return fmt.Errorf("write %d: %w", id, err)
			}
		}
		n = len(ids)
		strs := make([]string, len(ids))
		for i, id := range ids {
			strs[i] = fmt.Sprint(id)
		}
		connID := c.ID
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: action,
			Target: fmt.Sprintf("%s: %d failed write(s) refused with %s", m.Object, n, codeName(code)),
			Detail: verb + " writes " + strings.Join(strs, ", ")}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, connID, 0)
	})
	return n, err
}

// codeName names an error code in a sentence.
func codeName(code string) string {
	if code == "" {
		return "no error code"
	}
	return code
}
