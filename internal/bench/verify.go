package bench

import (
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"time"

	"pgforce/sync/engine/apply"
	"pgforce/sync/verify"
)

// driftInjected is how many rows the verification figure deletes behind pgforce's back: the
// verification must find exactly those.
const driftInjected = 100

// measureVerify loads an object of Rows records created an hour ago (so every record is judged, none
// in flight), deletes a few rows behind pgforce's back, and times a full verification through the
// running engine: records compared per second, the API calls it made, and whether it found exactly
// the injected drift. The reference is the initial load of the same records.
func measureVerify(ctx context.Context, e *env, r *Report) error {
	const object = "Verify__c"
	n := e.opts.Rows
	if err := e.org.addObject(ctx, object, LoadFields()); err != nil {
		return err
	}
	e.progress("generating %d %s records stamped an hour ago", n, object)
	if err := e.org.do(ctx, http.MethodPost, "/generate", map[string]any{"Object": object, "Count": n, "Seed": 11, "StampedAgo": 3600}, nil); err != nil {
		return err
	}
	m, loadTook, err := e.createMapping(ctx, e.conn.ID, object, loadConfig(), 30*time.Minute)
	if err != nil {
		return err
	}
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := apply.AsSync(ctx, tx); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DELETE FROM `+e.tableIdent(m)+` WHERE id IN (SELECT id FROM `+e.tableIdent(m)+` ORDER BY id LIMIT $1)`, driftInjected); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	before, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	debug.FreeOSMemory()
	stopRSS := rssPeak()
	start := time.Now()
	v, err := e.adm.Verifications.Request(ctx, actor, m.ID)
	if err != nil {
		return err
	}
	e.progress("verifying %d records", n)
	err = until(ctx, "the verification", 30*time.Minute, func() (bool, error) {
		var err error
		v, err = e.adm.Verifications.Get(ctx, v.ID)
		return err == nil && !v.State.Open(), err
	})
	took, peak := time.Since(start), stopRSS()
	if err != nil {
		return err
	}
	after, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	calls := 0
	for kind, c := range after {
		calls += c - before[kind]
	}
	rate := float64(n) / took.Seconds()
	found := v.State == verify.DriftFound && v.Missing == driftInjected && v.Extra == 0 && v.Stale == 0
	e.progress("verified in %v: %s (%d API calls, peak RSS %d MiB)", took.Round(time.Millisecond), v.StateReason, calls, peak>>20)
	r.Figures = append(r.Figures, Figure{Name: fmt.Sprintf("verification of %d records", n), Value: rate, Unit: "records/s",
		Measured: fmt.Sprintf("%.0f records/s (%.1f s), %d API calls, peak RSS %d MiB; found %d missing, %d extra, %d stale",
			rate, took.Seconds(), calls, peak>>20, v.Missing, v.Extra, v.Stale),
		Reference: fmt.Sprintf("the initial load of the same records: %.0f rows/s (%.1f s)", float64(n)/loadTook.Seconds(), loadTook.Seconds()),
		Goal:      fmt.Sprintf("finds exactly the %d rows deleted behind pgforce's back; memory bounded (< 256 MiB)", driftInjected),
		Met:       found && peak < 256<<20})
	return nil
}
