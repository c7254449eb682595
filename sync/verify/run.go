package verify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"pgforce/sync/failure"
)

// Run carries out a requested verification: it starts it, compares, and records the outcome. When ctx
// ends first (shutdown, a lost lease) the verification goes back to REQUESTED, to be run again by
// whoever syncs the connection next; any other failure is recorded as FAILED with its reason.
func Run(ctx context.Context, env Env, tbl Table, id int64, holder string) (Result, error) {
	if err := claim(ctx, env.Pool, id, Start, holder); err != nil {
		return Result{}, err
	}
	env.Progress = progressOf(env, id, Verifying)
	res, err := Compare(ctx, env, tbl, id)
	if err != nil {
		return res, stop(ctx, env, id, Requeue, Fail, err)
	}
	t := Pass
	if res.Drift() > 0 {
		t = Find
	}
	if err := Apply(ctx, env.Pool, id, t, summary(res)); err != nil {
		return res, err
	}
	_, err = env.Pool.Exec(ctx, `UPDATE verifications SET finished_at = now(), watermark = $2, sf_records = $3, pg_rows = $4,
		in_flight = $5, missing = $6, extra = $7, stale = $8 WHERE id = $1`,
		id, res.Watermark, res.SFRecords, res.PGRows, res.InFlight, res.Missing, res.Extra, res.Stale)
	return res, err
}

// stop records why work on a verification ended early: requeued when ctx ended (the work is redone
// later), failed with a message otherwise.
func stop(ctx context.Context, env Env, id int64, requeue, fail Transition, cause error) error {
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if ctx.Err() != nil {
		if err := Apply(bg, env.Pool, id, requeue, "interrupted: "+cause.Error()); err != nil {
			return errors.Join(cause, err)
		}
		return cause
	}
	msg := failure.Message(cause)
	if failure.KindOf(cause) == failure.Internal {
		msg = cause.Error() // an admin reads this in the dashboard: what failed matters more than tidiness
	}
	if err := Apply(bg, env.Pool, id, fail, msg); err != nil {
		return errors.Join(cause, err)
	}
	if fail.Name == Fail.Name {
		if _, err := env.Pool.Exec(bg, `UPDATE verifications SET finished_at = now() WHERE id = $1`, id); err != nil {
			return errors.Join(cause, err)
		}
	}
	return cause
}

// progressOf writes progress into the verification's reason while it is in state.
func progressOf(env Env, id int64, state State) func(string) {
	return func(msg string) {
		if env.Progress != nil {
			env.Progress(msg)
		}
		_, _ = env.Pool.Exec(context.Background(), `UPDATE verifications SET state_reason = $2 WHERE id = $1 AND state = $3`, id, msg, string(state))
	}
}

// RequestRepair asks for the findings of a verification to be repaired.
func RequestRepair(ctx context.Context, q Querier, id int64, by string) (Verification, error) {
	v, err := Load(ctx, q, id)
	if err != nil {
		return v, err
	}
	if v.State != DriftFound {
		return v, failure.E(failure.Conflict, "Only a verification that found drift can be repaired; this one is %s.", v.State)
	}
	if err := Apply(ctx, q, id, AskRepair, fmt.Sprintf("repair requested by %s", by)); err != nil {
		return v, err
	}
	return Load(ctx, q, id)
}
