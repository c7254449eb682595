// Package diagnose is pgforce's health model: what is wrong with a connection and its mappings,
// derived from the data each time it is asked (states, the trigger log, polls, drift, API usage), never
// from what a component last said about itself. Every surface shows the same model: the Overview and
// the mapping pages (Problems, worst first, each with its fix), the Diagnose page, `pgforce diagnose`
// and `pgforce info`, the REST API and the metrics. Results keep the shape of Heroku Connect's
// `connect:diagnose` (RED, YELLOW, GREEN or SKIPPED per rule). It only reads, so anything may run it
// at any time.
package diagnose

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
	"pgforce/sync/verify"
)

// Status is a check's outcome, with Heroku Connect's names.
type Status string

// Statuses, from worst to best.
const (
	Red     Status = "RED"     // broken: syncing is stopped or data is being lost; act now
	Yellow  Status = "YELLOW"  // degraded or at risk; act soon
	Green   Status = "GREEN"   // fine
	Skipped Status = "SKIPPED" // does not apply now (e.g. nothing to measure yet)
)

// Worse reports whether s is a worse outcome than other (RED over YELLOW over GREEN over SKIPPED).
func (s Status) Worse(other Status) bool { return s.rank() > other.rank() }

func (s Status) rank() int {
	switch s {
	case Red:
		return 3
	case Yellow:
		return 2
	case Green:
		return 1
	}
	return 0
}

// Result is one rule's outcome. The JSON names follow Heroku Connect's diagnose API, plus fix.
type Result struct {
	RuleID      string `json:"rule_id"`
	DisplayName string `json:"display_name"`
	Status      Status `json:"status"`
	Message     string `json:"message"`
	Fix         string `json:"fix,omitempty"` // what to do about a RED or YELLOW result
}

// Problem is one thing wrong, found in the data: a RED or YELLOW finding of a rule, about the
// connection (MappingID 0) or one mapping, with what to do and where.
type Problem struct {
	RuleID    string     `json:"rule_id"`
	Status    Status     `json:"status"`
	MappingID int64      `json:"mapping_id,omitempty"`
	Object    string     `json:"object,omitempty"`
	Message   string     `json:"message"`
	Fix       string     `json:"fix"`
	FixURL    string     `json:"fix_url,omitempty"` // the dashboard page where it is fixed
	Since     *time.Time `json:"since,omitempty"`   // when it started, where the data says
}

// Report is every rule of one connection, and the problems they found, worst first.
type Report struct {
	ConnectionID   int64     `json:"connection_id"`
	ConnectionName string    `json:"connection_name"`
	Status         Status    `json:"status"` // the worst result
	CheckedAt      time.Time `json:"checked_at"`
	Results        []Result  `json:"results"`
	Problems       []Problem `json:"problems"`
	// Mappings (by object name) and Counts (of their tables, by table name) are what the rules
	// judged: a page that shows them beside the problems reads them once (a thousand mappings and
	// their tables cost tens of milliseconds).
	Mappings []mapping.Mapping             `json:"-"`
	Counts   map[string]report.TableCounts `json:"-"`
}

// CountsOf returns the counts of a table the report judged; a table it did not see (mapped since)
// is Missing, as report.Reader.Counts says of a table that does not exist yet.
func (r Report) CountsOf(table string) report.TableCounts {
	if tc, ok := r.Counts[table]; ok {
		return tc
	}
	return report.TableCounts{Missing: true}
}

// Healthy reports whether no rule found anything wrong.
func (r Report) Healthy() bool { return len(r.Problems) == 0 }

// Worst returns the problem to fix first.
func (r Report) Worst() (Problem, bool) {
	if len(r.Problems) == 0 {
		return Problem{}, false
	}
	return r.Problems[0], true
}

// Of returns the problems of one mapping, worst first.
func (r Report) Of(mappingID int64) []Problem {
	var out []Problem
	for _, p := range r.Problems {
		if p.MappingID == mappingID {
			out = append(out, p)
		}
	}
	return out
}

// ByMapping returns the problems of each mapping, worst first: what a page listing every mapping
// shows beside each (Of per mapping would go through every problem for each of a thousand).
func (r Report) ByMapping() map[int64][]Problem {
	out := map[int64][]Problem{}
	for _, p := range r.Problems {
		if p.MappingID != 0 {
			out[p.MappingID] = append(out[p.MappingID], p)
		}
	}
	return out
}

// Count returns how many problems have the given status.
func (r Report) Count(s Status) int {
	n := 0
	for _, p := range r.Problems {
		if p.Status == s {
			n++
		}
	}
	return n
}

// Summary is the one line every surface leads with: "Healthy" only when nothing is wrong, otherwise
// the worst problem.
func (r Report) Summary() string {
	p, ok := r.Worst()
	if !ok {
		return "Healthy: every check passed."
	}
	if more := len(r.Problems) - 1; more > 0 {
		return fmt.Sprintf("%s (and %d more %s)", strings.TrimSuffix(p.Message, "."), more, plural(more, "problem", "problems"))
	}
	return p.Message
}

// Connections is what diagnose reads of connections (*admin.Connections implements it).
type Connections interface {
	Get(ctx context.Context, id int64) (connection.Connection, error)
	APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error)
}

// Mappings is what diagnose reads of mappings (*admin.Mappings implements it).
type Mappings interface {
	ListStates(ctx context.Context, connID int64) ([]mapping.Mapping, error)
}

// Reports is what diagnose reads from the database's statistics (*report.Reader implements it).
type Reports interface {
	Counts(ctx context.Context, schema string, tables []string) (map[string]report.TableCounts, error)
	SyncIndexes(ctx context.Context, schema string, tables []string) (map[string]report.TableIndexes, error)
	Backlog(ctx context.Context, schema string) (report.Backlog, error)
}

var (
	_ Connections = (*admin.Connections)(nil)
	_ Mappings    = (*admin.Mappings)(nil)
	_ Reports     = (*report.Reader)(nil)
)

// Thresholds. A database change normally reaches Salesforce within seconds: one waiting longer than
// WaitAge (while nothing is paused) means writing is stuck. A poll is overdue once it is late by a
// whole interval (at least OverdueMin), and badly overdue after thirty.
const (
	WaitAge          = 2 * time.Minute
	HeldAge          = time.Hour      // a manual conflict held longer waits for an admin who does not know
	HeldAgeRed       = 24 * time.Hour // ... and longer than a day keeps the two sides apart for good
	WaitAgeRed       = time.Hour
	OverdueMin       = time.Minute
	OverdueRedFactor = 30
	APIUsageYellow   = 0.75
	APIUsageRed      = 0.90
	OldAPIVersionGap = 3 // major versions behind pgforce's default
)

// Checker runs the checks.
type Checker struct {
	Connections   Connections
	Mappings      Mappings
	Reports       Reports
	Verifications Verifications    // nil: the data-verification rule is skipped
	Now           func() time.Time // time.Now when nil
}

// Verifications is what diagnose reads of verifications (*admin.Verifications implements it).
type Verifications interface {
	Latest(ctx context.Context, connID int64) (map[int64]verify.Verification, error)
}

// facts is what the rules judge: read once per run.
type facts struct {
	now     time.Time
	conn    connection.Connection
	ms      []mapping.Mapping
	counts  map[string]report.TableCounts
	indexes map[string]report.TableIndexes
	backlog report.Backlog
	apiUsed int
	apiMax  int
	apiSeen time.Time
	// verified is each mapping's newest verification; nil when verifications are not read.
	verified map[int64]verify.Verification
}

// Run checks one connection.
func (k Checker) Run(ctx context.Context, connID int64) (Report, error) {
	f := facts{now: time.Now()}
	if k.Now != nil {
		f.now = k.Now()
	}
	var err error
	if f.conn, err = k.Connections.Get(ctx, connID); err != nil {
		return Report{}, err
	}
	c := f.conn
	if f.ms, err = k.Mappings.ListStates(ctx, connID); err != nil {
		return Report{}, fmt.Errorf("diagnose %s: %w", c.Name, err)
	}
	tables := make([]string, len(f.ms))
	for i, m := range f.ms {
		tables[i] = m.Table
	}
	// The facts are independent reads: read together, on connections of their own, a page with a
	// thousand mappings waits for the slowest of them rather than for their sum.
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { f.counts, err = k.Reports.Counts(gctx, c.Schema, tables); return err })
	g.Go(func() (err error) { f.indexes, err = k.Reports.SyncIndexes(gctx, c.Schema, tables); return err })
	g.Go(func() (err error) { f.backlog, err = k.Reports.Backlog(gctx, c.Schema); return err })
	g.Go(func() (err error) {
		f.apiUsed, f.apiMax, f.apiSeen, err = k.Connections.APIUsage(gctx, connID)
		return err
	})
	if k.Verifications != nil {
		g.Go(func() (err error) { f.verified, err = k.Verifications.Latest(gctx, connID); return err })
	}
	if err := g.Wait(); err != nil {
		return Report{}, fmt.Errorf("diagnose %s: %w", c.Name, err)
	}
	r := assess(f)
	r.Mappings, r.Counts = f.ms, f.counts
	return r, nil
}

// assess runs every rule over the facts.
func assess(f facts) Report {
	r := Report{ConnectionID: f.conn.ID, ConnectionName: f.conn.Name, CheckedAt: f.now.UTC(), Status: Skipped}
	for _, ru := range rules {
		o := ru.check(&f)
		res := Result{RuleID: ru.id, DisplayName: ru.name}
		switch {
		case len(o.problems) > 0:
			for i := range o.problems {
				o.problems[i].RuleID = ru.id
			}
			res.Status, res.Message, res.Fix = summarize(o.problems)
			r.Problems = append(r.Problems, o.problems...)
		case o.skipped != "":
			res.Status, res.Message = Skipped, o.skipped
		default:
			res.Status, res.Message = Green, o.green
		}
		if res.Status.rank() > r.Status.rank() {
			r.Status = res.Status
		}
		r.Results = append(r.Results, res)
	}
	order := map[string]int{}
	for i, ru := range rules {
		order[ru.id] = i
	}
	slices.SortStableFunc(r.Problems, func(a, b Problem) int {
		return cmp.Or(b.Status.rank()-a.Status.rank(), order[a.RuleID]-order[b.RuleID], strings.Compare(a.Object, b.Object))
	})
	return r
}

// summarize folds a rule's problems into its Heroku Connect-shaped result.
func summarize(ps []Problem) (Status, string, string) {
	status := Yellow
	var msgs, fixes []string
	for _, p := range ps {
		if p.Status.rank() > status.rank() {
			status = p.Status
		}
		if len(msgs) < 5 {
			msgs = append(msgs, p.Message)
		}
		if !slices.Contains(fixes, p.Fix) && len(fixes) < 3 {
			fixes = append(fixes, p.Fix)
		}
	}
	msg := strings.Join(msgs, " ")
	if len(ps) > len(msgs) {
		msg += fmt.Sprintf(" And %d more.", len(ps)-len(msgs))
	}
	return status, msg, strings.Join(fixes, " ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
