// Package bench measures pgforce against references taken in the same run: the initial load against
// a raw COPY, Salesforce→Postgres latency against a NOTIFY round trip (over CometD, over the Pub/Sub
// API, and polling; with a burst of changes over the Pub/Sub API), Postgres→Salesforce latency and
// backlog throughput against the fewest possible API calls, the capture trigger against an unmapped
// table, the dashboard's Mappings page, and idle API calls against Heroku Connect's one query per
// mapping per polling interval. `pgforce bench` prints the table; the go test benchmarks of the engine
// and the dashboard report the same figures through b.ReportMetric.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/admin"
)

// Options size the run. Zero values take the defaults of the quick run (about two minutes on two
// cores); the full run is --rows 1000000.
type Options struct {
	Pool *pgxpool.Pool // pgforce's own schema, migrated
	// EnginePool is the engine's own pool, as `pgforce serve` gives it one (nil: Pool), so that the
	// dashboard measured does not wait for connections behind the engine's polls.
	EnginePool *pgxpool.Pool
	Keyring    *keyring.Keyring
	// OrgURL and ControlToken reach a simulated org in another process, so that the memory measured
	// is pgforce's alone. Empty: an org is started in this process (go test benchmarks).
	OrgURL, ControlToken string
	// OrgPID is that process's id, to sample its memory during the load (0: not sampled).
	OrgPID int

	Rows          int           // initial load records (default 100,000)
	Samples       int           // latency samples per figure (default 1,000)
	Backlog       int           // Postgres→Salesforce backlog changes (default 100,000)
	Burst         int           // Salesforce changes of the Pub/Sub burst (default 10,000)
	PageMappings  int           // mappings on the Mappings page (default 200)
	IdleMappings  int           // mappings of the idle connection (default 20)
	ScaleMappings int           // mappings on one connection of the scale figure (default 50; the full run: 200)
	WideFields    int           // fields of the wide object (default 500)
	WideRows      int           // records of the wide object (default 2,000)
	PollInterval  time.Duration // polling interval of the polling-mode figures (default 5 s)
	OrgLatency    time.Duration // added to every API call of the simulated org (0: none, the org answers in about a millisecond)
	Only          []string      // figure groups to run (load, verify, stream, pubsub, poll, write, backlog, idle, mappings, wide, page); empty: all
	Dashboard     func(adm *admin.Service) (http.Handler, error)
	Log           *slog.Logger
	Progress      io.Writer
	DataSchema    string // schema for the mapped tables (default "pgforce_bench_sf")
	KeepSchemaFor bool   // leave the data schema in place after the run (to inspect it)
}

func (o *Options) defaults() {
	if o.Rows <= 0 {
		o.Rows = 100_000
	}
	if o.Samples <= 0 {
		o.Samples = 1000
	}
	if o.Backlog <= 0 {
		o.Backlog = 100_000
	}
	if o.Burst <= 0 {
		o.Burst = 10_000
	}
	if o.PageMappings <= 0 {
		o.PageMappings = 200
	}
	if o.IdleMappings <= 0 {
		o.IdleMappings = 20
	}
	if o.ScaleMappings <= 0 {
		o.ScaleMappings = 50
	}
	if o.WideFields <= 0 {
		o.WideFields = 500
	}
	if o.WideRows <= 0 {
		o.WideRows = 2000
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 5 * time.Second
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.DataSchema == "" {
		o.DataSchema = "pgforce_bench_sf"
	}
}

func (o Options) wants(group string) bool {
	if len(o.Only) == 0 {
		return true
	}
	for _, g := range o.Only {
		if g == group {
			return true
		}
	}
	return false
}

// Figure is one measured line of the report, next to its reference and goal.
type Figure struct {
	Name      string  `json:"name"`
	Value     float64 `json:"value"`
	Unit      string  `json:"unit"`
	Measured  string  `json:"measured"`  // the figure as shown, with its secondary values
	Reference string  `json:"reference"` // measured in the same run, or the rule it is held to
	Goal      string  `json:"goal"`
	Met       bool    `json:"met"`
	Note      string  `json:"note,omitempty"`
}

// Report is a whole run.
type Report struct {
	Machine  string        `json:"machine"`
	Started  time.Time     `json:"started"`
	Took     time.Duration `json:"took_ns"`
	Rows     int           `json:"rows"`
	Samples  int           `json:"samples"`
	Backlog  int           `json:"backlog"`
	Interval time.Duration `json:"poll_interval_ns"`
	// OrgLatency is what the simulated org added to each API call in this run.
	OrgLatency time.Duration `json:"org_latency_ns"`
	Figures    []Figure      `json:"figures"`
	// LoadBreakdown says where the initial load's time went.
	LoadBreakdown []Phase `json:"load_breakdown,omitempty"`
	// LoadRSS are the resident set sizes sampled during the largest initial load.
	LoadRSS []RSSSample `json:"load_rss,omitempty"`
}

// Phase is a part of the load's time.
type Phase struct {
	Name string        `json:"name"`
	Took time.Duration `json:"took_ns"`
}

// Run measures every figure group and returns the report. A group that fails is reported as a
// figure with its error; the others still run.
func Run(ctx context.Context, opts Options) (*Report, error) {
	opts.defaults()
	r := &Report{Machine: machine(), Started: time.Now().UTC(), Rows: opts.Rows, Samples: opts.Samples, Backlog: opts.Backlog, Interval: opts.PollInterval, OrgLatency: opts.OrgLatency}
	en, err := newEnv(ctx, opts)
	if err != nil {
		return nil, err
	}
	defer en.close()
	groups := []struct {
		name string
		run  func(context.Context, *env, *Report) error
	}{
		{"load", measureLoad},
		{"verify", measureVerify},
		{"stream", measureStreamLatency},
		{"pubsub", measurePubSub},
		{"poll", measurePollLatency},
		{"write", measureWriteLatency},
		{"backlog", measureBacklog},
		{"idle", measureIdleCalls},
		{"mappings", measureManyMappings},
		{"wide", measureWideObject},
		{"page", measurePage},
	}
	for _, g := range groups {
		if !opts.wants(g.name) {
			continue
		}
		fmt.Fprintf(opts.Progress, "== %s\n", g.name)
		if err := g.run(ctx, en, r); err != nil {
			if ctx.Err() != nil {
				return r, ctx.Err()
			}
			r.Figures = append(r.Figures, Figure{Name: g.name, Measured: "failed", Note: err.Error()})
			fmt.Fprintf(opts.Progress, "   %s failed: %v\n", g.name, err)
		}
	}
	r.Took = time.Since(r.Started)
	return r, nil
}

func machine() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s", runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}
