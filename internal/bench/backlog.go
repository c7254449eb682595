package bench

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
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

	d, err := e.drain(ctx, n)
	if err != nil {
		return err
	}
	r.Figures = append(r.Figures, backlogFigures(fmt.Sprintf("PG→SF backlog of %d changes", n), "", "PG→SF backlog API calls", 1.05, n, d)...)
	return measureUpdateBacklog(ctx, e, r, m)
}

// measureUpdateBacklog queues an update of every row the insert backlog wrote while the connection is
// paused, then resumes and times the drain. Updates are what conflict detection checks (inserts
// without an external id have nothing to conflict with): each batch is pre-checked against
// Salesforce's current versions before it is written, so these calls include the pre-checks.
func measureUpdateBacklog(ctx context.Context, e *env, r *Report, m mapping.Mapping) error {
	if err := e.pause(ctx); err != nil {
		return err
	}
	tag, err := e.pool.Exec(ctx, `UPDATE `+e.tableIdent(m)+` SET seq__c = seq__c || '-u' WHERE seq__c LIKE 'bk-%' AND sfid IS NOT NULL`)
	if err != nil {
		return err
	}
	n := int(tag.RowsAffected())
	if n == 0 {
		return fmt.Errorf("no written rows to update")
	}
	conflictsBefore, err := conflictCount(ctx, e, m)
	if err != nil {
		return err
	}
	d, err := e.drain(ctx, n)
	if err != nil {
		return err
	}
	conflicts, err := conflictCount(ctx, e, m)
	if err != nil {
		return err
	}
	if conflicts > conflictsBefore {
		// pgforce's own writes moved the records' SystemModstamp: they must not be taken for conflicts.
		return fmt.Errorf("%d conflicts recorded for updates of records only pgforce changed", conflicts-conflictsBefore)
	}
	r.Figures = append(r.Figures, backlogFigures(fmt.Sprintf("PG→SF backlog of %d updates, conflict detection on", n), ", no conflicts",
		"PG→SF update backlog API calls, pre-checks included", 1.05, n, d)...)
	return nil
}

// conflictCount is how many conflicts the mapping has recorded.
func conflictCount(ctx context.Context, e *env, m mapping.Mapping) (int, error) {
	counts, err := conflict.Counts(ctx, e.pool, e.conn.ID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range counts[m.ID] {
		n += c
	}
	return n, nil
}

// backlogFigures are a drained backlog's rate (goal 5,000 records/s) and its calls (goal: within
// factor × ceil(n/200), 200 records a call): every call pgforce's writer made in the window (its
// collections, pre-checks, Bulk jobs and describes), as the org counted them by the client they
// named; the window's other calls (the polls of the table and of the other mappings) are listed.
func backlogFigures(name, note, callsName string, factor float64, n int, d drained) []Figure {
	writes := total(d.writer)
	minCalls := (n + 199) / 200
	rate := float64(n) / d.took.Seconds()
	return []Figure{
		{Name: name, Value: rate, Unit: "records/s", Measured: fmt.Sprintf("%.0f records/s (%.1f s)%s", rate, d.took.Seconds(), note),
			Goal: "≥ 5,000 records/s", Met: rate >= 5000},
		{Name: callsName, Value: float64(writes), Unit: "calls",
			Measured:  fmt.Sprintf("%d calls by the writer (%s; all calls in the window: %s)", writes, kindList(d.writer), kindList(d.all)),
			Reference: fmt.Sprintf("ceil(n/200) = %d", minCalls), Goal: fmt.Sprintf("≤ %.4g × ceil(n/200)", factor), Met: float64(writes) <= factor*float64(minCalls)},
	}
}

// kindList lists calls by kind.
func kindList(calls map[string]int) string {
	var kinds []string
	for _, k := range slices.Sorted(maps.Keys(calls)) {
		kinds = append(kinds, fmt.Sprintf("%s %d", k, calls[k]))
	}
	return strings.Join(kinds, ", ")
}

// drained is a backlog's drain: how long it took, and the org's calls in the window, all and the
// writer's.
type drained struct {
	took        time.Duration
	all, writer map[string]int
}

// drain resumes the paused connection with n changes waiting and times until none waits, with the
// org's API calls in that window.
func (e *env) drain(ctx context.Context, n int) (drained, error) {
	before, beforeW, err := e.org.callsByClient(ctx)
	if err != nil {
		return drained{}, err
	}
	e.progress("resuming with %d changes waiting", n)
	start := time.Now()
	if err := e.adm.Connections.Resume(ctx, actor, e.conn.ID); err != nil {
		return drained{}, err
	}
	// Watch through the partial index of waiting rows, at a pace that does not load the database.
	last := time.Now()
	deadline := time.Now().Add(30 * time.Minute)
	for {
		waiting, err := triggerlog.AnyWaiting(ctx, e.pool, e.schema)
		if err != nil {
			return drained{}, err
		}
		if !waiting {
			break
		}
		if time.Now().After(deadline) {
			return drained{}, fmt.Errorf("the backlog did not drain in 30 minutes")
		}
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			done, _ := triggerlog.CountInState(ctx, e.pool, e.schema, triggerlog.Success)
			e.progress("%d written in all", done)
		}
		select {
		case <-ctx.Done():
			return drained{}, ctx.Err()
		case <-time.After(50 * time.Millisecond): // polling with a deadline
		}
	}
	took := time.Since(start)
	after, afterW, err := e.org.callsByClient(ctx)
	if err != nil {
		return drained{}, err
	}
	failed, err := triggerlog.CountInState(ctx, e.pool, e.schema, triggerlog.Failed)
	if err != nil {
		return drained{}, err
	}
	if failed > 0 {
		return drained{}, fmt.Errorf("%d backlog writes failed", failed)
	}
	return drained{took: took, all: diff(after, before), writer: diff(afterW, beforeW)}, nil
}

func (e *env) waitConn(ctx context.Context, want connection.State) error {
	return until(ctx, "the connection to be "+string(want), time.Minute, func() (bool, error) {
		c, err := e.adm.Connections.Get(ctx, e.conn.ID)
		return err == nil && c.State == want, err
	})
}
