package bench_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"pgforce/internal/bench"
	"pgforce/internal/keyring"
	"pgforce/migrations"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/store/storetest"
)

func options(t testing.TB) bench.Options {
	pool, app := storetest.Pool(t)
	if err := migrations.Up(context.Background(), pool); err != nil {
		t.Fatal(err)
	}
	kr, _ := keyring.New(bytes.Repeat([]byte{7}, 32))
	schema := app + "_bench"
	t.Cleanup(func() { storetest.DropSchema(t, schema); storetest.DropSchema(t, schema+"_idle") })
	return bench.Options{Pool: pool, Keyring: kr, DataSchema: schema, Rows: 2000, Samples: 40, Backlog: 2000,
		PageMappings: 5, IdleMappings: 3, ScaleMappings: 4, WideFields: 60, WideRows: 50, PollInterval: 500 * time.Millisecond}
}

// The suite measures every figure at a small size: each group produces its figures, none fails, and
// the report prints with the reference next to each figure.
func TestEveryFigureIsMeasuredAtASmallSize(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Only = []string{"load", "stream", "poll", "write", "backlog", "idle", "mappings", "wide"}
	r, err := bench.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"initial load 2000 records", "initial load peak RSS", "SF→PG latency, streaming", "SF→PG latency, polling",
		"PG→SF latency at light load", "capture-trigger overhead", "PG→SF backlog of 2000 changes", "PG→SF backlog API calls", "SF API calls per hour",
		"4 mappings on one connection", "object with 60 fields"}
	got := map[string]bench.Figure{}
	for _, f := range r.Figures {
		if f.Measured == "failed" {
			t.Errorf("%s failed: %s", f.Name, f.Note)
		}
		got[f.Name] = f
	}
	for _, w := range want {
		found := false
		for name, f := range got {
			if strings.HasPrefix(name, w) {
				found = true
				if f.Value <= 0 && !strings.HasPrefix(name, "capture-trigger") {
					t.Errorf("%s measured %v %s", name, f.Value, f.Unit)
				}
			}
		}
		if !found {
			t.Errorf("no figure %q in %v", w, r.Figures)
		}
	}
	var out strings.Builder
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "raw binary COPY") || !strings.Contains(out.String(), "NOTIFY round trip") {
		t.Fatalf("the table shows the references:\n%s", out.String())
	}
}

// benchmarkGroup runs one figure group per iteration and reports its figures as metrics, so that
// benchstat shows regressions: go test -bench . -benchtime 1x ./internal/bench
func benchmarkGroup(b *testing.B, group string, size func(*bench.Options)) {
	for b.Loop() {
		opts := options(b)
		opts.Rows, opts.Samples, opts.Backlog = 100_000, 1000, 100_000
		opts.Only = []string{group}
		if size != nil {
			size(&opts)
		}
		r, err := bench.Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		for _, f := range r.Figures {
			if f.Measured == "failed" {
				b.Fatalf("%s: %s", f.Name, f.Note)
			}
			b.ReportMetric(f.Value, strings.ReplaceAll(f.Unit, " ", "-"))
		}
	}
}

func BenchmarkInitialLoad(b *testing.B)       { benchmarkGroup(b, "load", nil) }
func BenchmarkStreamingLatency(b *testing.B)  { benchmarkGroup(b, "stream", nil) }
func BenchmarkPollingLatency(b *testing.B)    { benchmarkGroup(b, "poll", nil) }
func BenchmarkWriteLatency(b *testing.B)      { benchmarkGroup(b, "write", nil) }
func BenchmarkBacklogAndTrigger(b *testing.B) { benchmarkGroup(b, "backlog", nil) }
func BenchmarkIdleCallsPerHour(b *testing.B)  { benchmarkGroup(b, "idle", nil) }
func BenchmarkManyMappings(b *testing.B)      { benchmarkGroup(b, "mappings", nil) }
func BenchmarkWideObject(b *testing.B)        { benchmarkGroup(b, "wide", nil) }

// Issue 21: a run does not remove the connections of another run that is still going (it would stop
// midway with "connection N not found"): while a live instance holds the lease of a connection in
// the run's schemas it refuses to start, naming that instance, and leaves it alone. Once that lease
// has expired (the other run crashed) the run starts and cleans up as before.
func TestARunRefusesToStartWhileAnotherRunUsesItsSchemas(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Only = []string{"nothing"} // only the environment: set up, then torn down
	adm := admin.New(admin.Options{Pool: opts.Pool, Keyring: opts.Keyring})
	other, err := adm.Connections.Create(context.Background(), audit.Actor{Name: "other bench", Kind: audit.ActorCLI},
		admin.NewConnection{Name: "bench", Schema: opts.DataSchema + "_idle", OrgType: connection.Simulated, LoginURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	running := lease.New(opts.Pool, "bench-host-4242", time.Minute)
	if ok, err := running.TryAcquire(context.Background(), other.ID); !ok || err != nil {
		t.Fatalf("the other run's lease: %v %v", ok, err)
	}

	_, err = bench.Run(context.Background(), opts)
	if !errors.Is(err, bench.ErrOtherRun) || !strings.Contains(err.Error(), "another pgforce bench is running against this database (instance bench-host-4242") ||
		!strings.Contains(err.Error(), "pass --schema") {
		t.Fatalf("refused naming the other run: %v", err)
	}
	if _, err := adm.Connections.Get(context.Background(), other.ID); err != nil {
		t.Fatalf("the other run's connection is left alone: %v", err)
	}

	// The other run crashed: its lease expires and the next run starts (and removes what it left).
	if _, err := opts.Pool.Exec(context.Background(), `UPDATE leases SET expires_at = now() - interval '1 second' WHERE connection_id = $1`, other.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bench.Run(context.Background(), opts); err != nil {
		t.Fatalf("after the other run's lease expired: %v", err)
	}
	if _, err := adm.Connections.Get(context.Background(), other.ID); err == nil {
		t.Fatal("what the crashed run left is removed")
	}
}

// --schema moves a run's own tables and its synced tables (<schema>_sf), so that two runs on one
// database can go side by side.
func TestTheSchemaFlagNamesTheRunsSchema(t *testing.T) {
	t.Parallel()
	for args, want := range map[string]string{"": bench.DefaultSchema, "--only idle --schema bench_two": "bench_two", "-schema=b3": "b3"} {
		if got := bench.Schema(strings.Fields(args)); got != want {
			t.Errorf("%q: %q, want %q", args, got, want)
		}
	}
}

// Two runs starting at the same moment cannot both clean up: from before it removes what an earlier
// run left, a run holds an advisory lock on its schemas, and a run that finds it taken refuses.
func TestARunRefusesToStartWhileAnotherIsStarting(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Only = []string{"nothing"}
	conn, err := opts.Pool.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_lock(hashtext($1))`, bench.RunLockKey(opts.DataSchema)); err != nil {
		t.Fatal(err)
	}
	if _, err := bench.Run(context.Background(), opts); !errors.Is(err, bench.ErrOtherRun) || !strings.Contains(err.Error(), "pass --schema") {
		t.Fatalf("refused while another run holds the schemas: %v", err)
	}
	if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, bench.RunLockKey(opts.DataSchema)); err != nil {
		t.Fatal(err)
	}
	if _, err := bench.Run(context.Background(), opts); err != nil {
		t.Fatalf("once the other run is done: %v", err)
	}
	if _, err := bench.Run(context.Background(), opts); err != nil {
		t.Fatalf("a run releases its lock when it ends: %v", err)
	}
}

// Issue 18: the load figure loads 100× and 10× fewer records before --rows, and reports the memory
// of pgforce (and of the org's process, when it has one) at each size, the samples it took during
// the largest load, the org's generation and the table's size on disk.
func TestTheLoadFigureReportsMemoryAtThreeSizes(t *testing.T) {
	t.Parallel()
	opts := options(t)
	opts.Only, opts.Rows = []string{"load"}, 3000
	opts.OrgPID = os.Getpid() // the org runs in this process; its sampler reads a pid's memory all the same
	r, err := bench.Run(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	var rss, load bench.Figure
	for _, f := range r.Figures {
		switch {
		case f.Measured == "failed":
			t.Fatalf("%s failed: %s", f.Name, f.Note)
		case f.Name == "initial load peak RSS":
			rss = f
		case strings.HasPrefix(f.Name, "initial load 3000 records"):
			load = f
		}
	}
	if !strings.Contains(rss.Measured, "MiB at 3000 rows") || !strings.Contains(rss.Measured, "MiB at 1000, ") || !strings.Contains(rss.Reference, "its peak: ") {
		t.Fatalf("the peak at each size, pgforce's and the org's: %+v", rss)
	}
	if !strings.Contains(load.Note, "the org generated the records beforehand in") || !strings.Contains(load.Note, "MiB") || !strings.Contains(load.Reference, "same 3000 rows") {
		t.Fatalf("the load figure's note: %+v", load)
	}
	if len(r.LoadRSS) < 2 || r.LoadRSS[0].PGForce <= 0 || r.LoadRSS[len(r.LoadRSS)-1].Org <= 0 {
		t.Fatalf("RSS samples of the largest load (the first and the last at least): %+v", r.LoadRSS)
	}
	var out strings.Builder
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "resident set size during the initial load of 3000 rows") || !strings.Contains(out.String(), "org: generating the records") {
		t.Fatalf("the table shows the samples and the generation:\n%s", out.String())
	}
}
