package bench

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/triggerlog"
)

// measureBacklog queues n inserts while the connection is paused (timing the capture trigger against
// the same inserts into an unmapped copy of the table), then resumes and times the drain.
func measureBacklog(ctx context.Context, e *env, r *Report) error {
	m, err := e.writeMapping(ctx)
	if err != nil {
		return err
	}
	n := e.opts.Backlog
	if err := e.pause(ctx); err != nil {
		return err
	}
	plain := pgx.Identifier{e.schema, "unmapped_copy"}.Sanitize()
	if _, err := e.pool.Exec(ctx, `DROP TABLE IF EXISTS `+plain+`; CREATE TABLE `+plain+` (LIKE `+e.tableIdent(m)+` INCLUDING DEFAULTS INCLUDING INDEXES)`); err != nil {
		return err
	}
	defer e.pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+plain)
	insert := func(tbl string) (time.Duration, error) {
		start := time.Now()
		_, err := e.pool.Exec(ctx, `INSERT INTO `+tbl+` (seq__c) SELECT 'bk-' || g FROM generate_series(1, $1) g`, n)
		return time.Since(start), err
	}
	// Unmapped first, mapped second, then the unmapped again: the faster unmapped run is the reference.
	plainA, err := insert(plain)
	if err != nil {
		return err
	}
	mapped, err := insert(e.tableIdent(m))
	if err != nil {
		return err
	}
	if _, err := e.pool.Exec(ctx, `TRUNCATE `+plain); err != nil {
		return err
	}
	plainB, err := insert(plain)
	if err != nil {
		return err
	}
	ref := min(plainA, plainB)
	perRow := float64((mapped - ref).Microseconds()) / float64(n)
	r.Figures = append(r.Figures, Figure{Name: "capture-trigger overhead per inserted row", Value: perRow, Unit: "µs/row",
		Measured:  fmt.Sprintf("%.1f µs/row (%d rows: %.2f s mapped, %.2f s unmapped)", perRow, n, mapped.Seconds(), ref.Seconds()),
		Reference: "the same INSERT into an unmapped copy of the table", Goal: "≤ 30 µs/row", Met: perRow <= 30})

	before, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	e.progress("resuming with %d changes waiting", n)
	start := time.Now()
	if err := e.adm.Connections.Resume(ctx, actor, e.conn.ID); err != nil {
		return err
	}
	// Watch through the partial index of waiting rows, at a pace that does not load the database.
	last := time.Now()
	deadline := time.Now().Add(30 * time.Minute)
	for {
		waiting, err := triggerlog.AnyWaiting(ctx, e.pool, e.schema)
		if err != nil {
			return err
		}
		if !waiting {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the backlog did not drain in 30 minutes")
		}
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			done, _ := triggerlog.CountInState(ctx, e.pool, e.schema, triggerlog.Success)
			e.progress("%d of %d written", done, n)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling with a deadline
		}
	}
	took := time.Since(start)
	after, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	failed, err := triggerlog.CountInState(ctx, e.pool, e.schema, triggerlog.Failed)
	if err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d backlog writes failed", failed, n)
	}
	calls := diff(after, before)
	writes := 0
	var kinds []string
	for k, v := range calls {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, v))
		if k != "query" && k != "queryMore" && k != "queryAll" && k != "describe" {
			writes += v
		}
	}
	minCalls := (n + 199) / 200
	rate := float64(n) / took.Seconds()
	r.Figures = append(r.Figures,
		Figure{Name: fmt.Sprintf("PG→SF backlog of %d changes", n), Value: rate, Unit: "records/s",
			Measured: fmt.Sprintf("%.0f records/s (%.1f s)", rate, took.Seconds()),
			Goal:     "≥ 5,000 records/s", Met: rate >= 5000},
		Figure{Name: "PG→SF backlog API calls", Value: float64(writes), Unit: "calls",
			Measured:  fmt.Sprintf("%d write calls (all calls in the window: %s)", writes, strings.Join(kinds, ", ")),
			Reference: fmt.Sprintf("ceil(n/200) = %d", minCalls), Goal: "≤ 1.05 × ceil(n/200)", Met: float64(writes) <= 1.05*float64(minCalls)},
	)
	return nil
}

func (e *env) waitConn(ctx context.Context, want connection.State) error {
	return until(ctx, "the connection to be "+string(want), time.Minute, func() (bool, error) {
		c, err := e.adm.Connections.Get(ctx, e.conn.ID)
		return err == nil && c.State == want, err
	})
}
