package admin

import (
	"context"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/verify"
)

// Verifications asks for full verifications of mapped tables and their repairs; the connection's
// syncer runs them under its lease (package engine) and the results are read here.
type Verifications struct{ *base }

// Request asks for a verification of a mapping now. Refused while the mapping loads (a table being
// loaded holds nothing to judge yet) or while another verification of it is open.
func (s *Verifications) Request(ctx context.Context, actor audit.Actor, mappingID int64) (verify.Verification, error) {
	return store.TxResult(ctx, s.opts.Pool, func(tx pgx.Tx) (verify.Verification, error) {
		m, err := mapping.Load(ctx, tx, mappingID)
		if err != nil {
			return verify.Verification{}, err
		}
		if m.State.Loading() {
			return verify.Verification{}, failure.E(failure.Conflict, "The %s mapping is loading (%s): verify it once the load is done.", m.Object, m.State)
		}
		v, err := verify.Request(ctx, tx, m.ConnectionID, m.ID, actor.Name)
		if err != nil {
			return v, err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &m.ConnectionID, Action: audit.VerificationRequest, Target: m.Object}); err != nil {
			return v, err
		}
		return v, connection.Notify(ctx, tx, m.ConnectionID, m.ID)
	})
}

// Repair asks for a verification's findings to be fetched again from Salesforce.
func (s *Verifications) Repair(ctx context.Context, actor audit.Actor, verificationID int64) (verify.Verification, error) {
	return store.TxResult(ctx, s.opts.Pool, func(tx pgx.Tx) (verify.Verification, error) {
		v, err := verify.RequestRepair(ctx, tx, verificationID, actor.Name)
		if err != nil {
			return v, err
		}
		m, err := mapping.Load(ctx, tx, v.MappingID)
		if err != nil {
			return v, err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &v.ConnectionID, Action: audit.VerificationRepair, Target: m.Object,
			Detail: summaryOf(v)}); err != nil {
			return v, err
		}
		return v, connection.Notify(ctx, tx, v.ConnectionID, v.MappingID)
	})
}

func summaryOf(v verify.Verification) string { return v.StateReason }

// Get returns a verification.
func (s *Verifications) Get(ctx context.Context, id int64) (verify.Verification, error) {
	return verify.Load(ctx, s.opts.Pool, id)
}

// Latest returns each mapping's newest verification of a connection, by mapping id.
func (s *Verifications) Latest(ctx context.Context, connID int64) (map[int64]verify.Verification, error) {
	return verify.Latest(ctx, s.opts.Pool, connID)
}

// LatestOf returns a mapping's newest verification (false when it was never verified).
func (s *Verifications) LatestOf(ctx context.Context, mappingID int64) (verify.Verification, bool, error) {
	return verify.LatestOf(ctx, s.opts.Pool, mappingID)
}

// Findings returns up to limit of a verification's findings (every kind when kind is "").
func (s *Verifications) Findings(ctx context.Context, id int64, kind verify.Kind, limit int) ([]verify.Finding, error) {
	return verify.Findings(ctx, s.opts.Pool, id, kind, limit)
}

// SetSchedule sets how often each of the connection's mappings is verified in full (hours; 0 off).
func (s *Verifications) SetSchedule(ctx context.Context, actor audit.Actor, connID int64, hours int) error {
	if hours < 0 || hours > 8760 {
		return failure.InvalidField("verify_every_hours", "Verify every 1 to 8760 hours, or 0 to turn the schedule off.")
	}
	return store.Tx(ctx, s.opts.Pool, func(tx pgx.Tx) error {
		_, before, err := connection.LockSetting(ctx, tx, connID, connection.VerifySetting)
		if err != nil {
			return err
		}
		if err := connection.SaveSetting(ctx, tx, connID, connection.VerifySetting, hours); err != nil {
			return err
		}
		c, err := connection.Load(ctx, tx, connID)
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Entry{Actor: actor, ConnectionID: &connID, Action: audit.VerificationSchedule, Target: c.Name,
			Before: map[string]any{"verify_every_hours": before}, After: map[string]any{"verify_every_hours": hours}}); err != nil {
			return err
		}
		return connection.Notify(ctx, tx, connID, 0)
	})
}
