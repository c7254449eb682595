package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/verify"
)

// DefaultCountCheckEvery is how often a syncing mapping's counts are compared with Salesforce's.
const DefaultCountCheckEvery = 10 * time.Minute

// verifier runs a connection's verifications and repairs, one at a time, under the syncer's lease:
// the ones admins ask for and the ones the connection's schedule is due for. It is a child of the
// syncer (Start, Stop), woken by the same notifications.
type verifier struct {
	loop
	s    *syncer
	wake chan struct{}
}

func newVerifier(s *syncer) *verifier {
	v := &verifier{s: s, wake: make(chan struct{}, 1)}
	v.run = v.runLoop
	return v
}

func (v *verifier) poke() {
	select {
	case v.wake <- struct{}{}:
	default:
	}
}

func (v *verifier) runLoop(ctx context.Context) {
	e := v.s.e
	// Whatever ran before this syncer took the lease (a crashed process, a lost lease) has stopped.
	if n, err := verify.Restart(ctx, e.opts.Pool, v.s.connID); err != nil {
		e.logTransient("requeue verifications", err)
	} else if n > 0 {
		v.s.log.Info("verifications restarted", "count", n)
	}
	for {
		if err := v.round(ctx); err != nil && ctx.Err() == nil {
			e.logTransient("verify", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-v.wake:
		case <-time.After(e.opts.Tick * 5):
		}
	}
}

// round requests what the schedule is due for, then runs every pending verification and repair.
func (v *verifier) round(ctx context.Context) error {
	e := v.s.e
	c := v.s.currentConn()
	if !c.State.Syncing() {
		return nil
	}
	// States only: the verifier looks at every mapping each time the syncer is poked (a thousand
	// mappings created one after another), and reads the fields of the ones it verifies.
	ms, err := mapping.ListStates(ctx, e.opts.Pool, c.ID)
	if err != nil {
		return err
	}
	every := time.Duration(c.VerifyEveryHours) * time.Hour
	byID := map[int64]mapping.Mapping{}
	var settled []int64
	for _, m := range ms {
		byID[m.ID] = m
		// A table is first due a whole period after its load, like every later verification.
		if m.TableLoaded() && !m.State.Loading() && !m.State.Stopped() && e.opts.Now().Sub(*m.LoadFinishedAt) >= every {
			settled = append(settled, m.ID)
		}
	}
	due, err := verify.Due(ctx, e.opts.Pool, c.ID, every, settled)
	if err != nil {
		return err
	}
	for _, id := range due {
		if _, err := verify.Request(ctx, e.opts.Pool, c.ID, id, "schedule"); err != nil && !failure.Is(err, failure.Conflict) {
			return err
		}
	}
	pending, err := verify.Pending(ctx, e.opts.Pool, c.ID)
	if err != nil {
		return err
	}
	for _, p := range pending {
		if m, ok := byID[p.MappingID]; !ok || m.State.Loading() {
			continue // loading: judged once the load is done
		}
		m, err := mapping.Load(ctx, e.opts.Pool, p.MappingID)
		if failure.Is(err, failure.NotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return err
		}
		org, err := v.s.openOrg(ctx)
		if err != nil {
			return err
		}
		env, tbl := v.env(org, c, m), verifyTable(c, m)
		switch p.State {
		case verify.Requested:
			res, err := verify.Run(ctx, env, tbl, p.ID, e.opts.Instance)
			if err != nil {
				v.event(ctx, m, "warn", fmt.Sprintf("Verification of %s could not finish: %s", m.Object, failure.Message(err)))
				continue
			}
			level := "info"
			if res.Drift() > 0 {
				level = "warn"
			}
			v.event(ctx, m, level, fmt.Sprintf("Verification of %s: %d missing, %d extra, %d stale of %d records (%d changes in flight not judged)",
				m.Object, res.Missing, res.Extra, res.Stale, res.SFRecords, res.InFlight))
		case verify.RepairRequested:
			unlock := v.s.tables.lock(m.Table) // serialised with the table's polls and writes
			n, err := verify.Repair(ctx, env, tbl, p.ID, e.opts.Instance)
			unlock()
			if err != nil {
				v.event(ctx, m, "warn", fmt.Sprintf("Repair of %s stopped: %s", m.Object, failure.Message(err)))
				continue
			}
			v.event(ctx, m, "info", fmt.Sprintf("Repaired %s: %d records fetched again from Salesforce", m.Object, n))
		}
		e.opts.Signals.VerificationDone.Fire(p.ID)
	}
	return nil
}

func (v *verifier) event(ctx context.Context, m mapping.Mapping, level, msg string) {
	if err := mapping.RecordEvent(ctx, v.s.e.opts.Pool, m, level, "verify", msg); err != nil {
		v.s.e.logTransient("record event", err)
	}
}

// env is verification's view of the runtime: the org, the lease as the fence of every repair write.
func (v *verifier) env(org orgclient.Org, c connection.Connection, m mapping.Mapping) verify.Env {
	e := v.s.e
	return verify.Env{Pool: e.opts.Pool, SF: verifyOrg{org: org}, Margin: e.opts.Overlap, BulkAbove: e.opts.BulkThreshold, Now: e.opts.Now,
		Fence: func(ctx context.Context, tx pgx.Tx) error { return e.leases.Check(ctx, tx, c.ID) }}
}

func verifyTable(c connection.Connection, m mapping.Mapping) verify.Table {
	return verify.Table{Target: target(c, m), MappingID: m.ID, Filter: m.Config.Filter(), HasDeleted: hasField(m, "IsDeleted")}
}

// verifyOrg adapts the org client to what verification asks of Salesforce.
// verifyOrg is the org as verifications read it; with batch, its queries share calls with the
// connection's other due polls and counts (pollBatch).
type verifyOrg struct {
	org   orgclient.Org
	batch func(ctx context.Context, q orgclient.BatchQuery) (*orgclient.FirstPage, error)
}

func (o verifyOrg) Query(ctx context.Context, soql string, all bool, fn func(rec map[string]json.RawMessage) error) (int, error) {
	var first *orgclient.FirstPage
	if o.batch != nil {
		var err error
		if first, err = o.batch(ctx, orgclient.BatchQuery{SOQL: soql, All: all}); err != nil {
			return 0, err
		}
	}
	return records(ctx, o.org, soql, all, first)(fn)
}

func (o verifyOrg) BulkQuery(ctx context.Context, soql string, all bool, page func(csv io.Reader) error) error {
	return o.org.BulkQuery(ctx, soql, all, nil, page)
}

// countCheck compares the mapping's counts with Salesforce's when the last check is older than the
// engine's CountCheckEvery, and stores Salesforce's count with the result: the "Salesforce rows"
// every surface shows is at most that old.
func (w *worker) countCheck(ctx context.Context, org orgclient.Org, c connection.Connection, m mapping.Mapping) {
	e := w.s.e
	if m.CountCheckedAt != nil && e.opts.Now().Sub(*m.CountCheckedAt) < e.opts.CountCheckEvery {
		return
	}
	m, err := mapping.Load(ctx, e.opts.Pool, m.ID) // as the poll just left it
	if err != nil {
		return
	}
	// The mappings' counts come due together after their polls: they share calls too.
	batched := verifyOrg{org: org, batch: func(ctx context.Context, q orgclient.BatchQuery) (*orgclient.FirstPage, error) {
		return w.s.polls.first(ctx, org, q, w.interval(m))
	}}
	env := verify.Env{Pool: e.opts.Pool, SF: batched, Margin: e.opts.Overlap, Now: e.opts.Now}
	cc, err := verify.Count(ctx, env, verifyTable(c, m), m)
	if err == nil {
		err = mapping.SaveCountCheck(ctx, e.opts.Pool, m.ID, cc.SFRecords, cc.Drift)
	}
	if err != nil {
		// A filter Salesforce refuses, a transient outage: the next cycle counts again.
		w.log.Warn("count check", "err", err)
		return
	}
	if cc.Drift != 0 && (m.CountDrift == nil || *m.CountDrift == 0) {
		w.event(ctx, m, "warn", "verify", fmt.Sprintf("Counts disagree: Salesforce has %d %s records, the table %d rows (%d deletes waiting), beyond the %d changes in flight; verify the mapping to find them",
			cc.SFRecords, m.Object, cc.PGRows, cc.Waiting, cc.Changed))
	}
	e.opts.Signals.CountChecked.Fire(m.ID)
}
