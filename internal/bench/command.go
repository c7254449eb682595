package bench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/pprof"
	"strings"
	"time"

	"pgforce/internal/cli"
	"pgforce/internal/config"
	"pgforce/internal/keyring"
)

// DefaultSchema holds a bench run's own pgforce tables; its synced tables go to <schema>_sf.
const DefaultSchema = "pgforce_bench"

// Schema is the --schema of a bench command line (DefaultSchema without one, or when the line does
// not parse: Command reports that). main opens pgforce's tables in it before Command runs.
func Schema(args []string) string {
	var opts Options
	fs, f := newFlags(&opts, io.Discard)
	if fs.Parse(args) != nil {
		return DefaultSchema
	}
	return *f.schema
}

// commandFlags are the flags that are not Options fields.
type commandFlags struct {
	only, jsonFile, cpuProfile, memProfile, schema *string
	inProcess, keep                                *bool
}

func newFlags(opts *Options, out io.Writer) (*flag.FlagSet, commandFlags) {
	fs := flag.NewFlagSet("pgforce bench", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.IntVar(&opts.Rows, "rows", 100_000, "records of the initial load (the full run: 1000000; the scale run: 10000000)")
	fs.IntVar(&opts.Samples, "samples", 1000, "latency samples per figure")
	fs.IntVar(&opts.Backlog, "backlog", 100_000, "changes in the Postgres→Salesforce backlog")
	fs.IntVar(&opts.Burst, "burst", 10_000, "Salesforce changes of the burst streamed over the Pub/Sub API")
	fs.IntVar(&opts.PageMappings, "mappings", 200, "mappings on the measured Mappings page (the scale run: 1000)")
	fs.IntVar(&opts.ScaleMappings, "scale-mappings", 50, "mappings on one connection of the scale figure (the scale run: 200)")
	fs.IntVar(&opts.WideFields, "wide-fields", 500, "fields of the wide object")
	fs.IntVar(&opts.WideRows, "wide-rows", 2000, "records of the wide object")
	fs.IntVar(&opts.IdleMappings, "idle-mappings", 20, "mappings of the idle connection")
	fs.DurationVar(&opts.PollInterval, "poll-interval", 5*time.Second, "polling interval of the polling figures")
	fs.DurationVar(&opts.OrgLatency, "org-latency", 0, "added to every API call of the simulated org, as a real org's round trip (e.g. 150ms); its Bulk jobs then take time too")
	return fs, commandFlags{
		only:       fs.String("only", "", "comma-separated figure groups: load,verify,stream,pubsub,poll,write,backlog,idle,mappings,wide,page"),
		jsonFile:   fs.String("json", "bench.json", "write the report as JSON to this file (empty: none)"),
		cpuProfile: fs.String("cpuprofile", "", "write a CPU profile of the run to this file"),
		memProfile: fs.String("memprofile", "", "write a heap profile at the end of the run to this file"),
		inProcess:  fs.Bool("in-process-org", false, "run the simulated org in this process (its memory then counts)"),
		keep:       fs.Bool("keep", false, "keep the bench schemas afterwards, to inspect them"),
		schema: fs.String("schema", DefaultSchema, "schema of the run's own pgforce tables, its synced tables in <schema>_sf; "+
			"a run refuses to start while another uses the same schema, so another name runs beside it"),
	}
}

// Command runs `pgforce bench [flags]`: the suite over the opened pool and keyring, with the
// simulated org in a child process (`pgforce sforg` of this binary) so that the memory figures are
// pgforce's alone; opts carries what main wires (pool, keyring, log, dashboard), the pool opened
// in the schema Schema reads from args.
func Command(ctx context.Context, opts Options, args []string, stdout io.Writer) error {
	fs, fl := newFlags(&opts, stdout)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !config.ValidIdentifier(*fl.schema) {
		return fmt.Errorf("--schema must be a lower-case name of letters, digits and underscores, got %q", *fl.schema)
	}
	opts.DataSchema = *fl.schema + "_sf"
	if *fl.only != "" {
		opts.Only = strings.Split(*fl.only, ",")
	}
	opts.KeepSchemaFor = *fl.keep
	opts.Progress = stdout
	if !*fl.inProcess {
		url, token, pid, stop, err := startChildOrg(ctx, opts.OrgLatency)
		if err != nil {
			return err
		}
		defer stop()
		opts.OrgURL, opts.ControlToken, opts.OrgPID = url, token, pid
	}
	if *fl.cpuProfile != "" {
		f, err := os.Create(*fl.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	report, err := Run(ctx, opts)
	if err != nil {
		return err
	}
	if err := report.WriteTable(stdout); err != nil {
		return err
	}
	if *fl.jsonFile != "" {
		var buf strings.Builder
		if err := report.WriteJSON(&buf); err != nil {
			return err
		}
		if err := os.WriteFile(*fl.jsonFile, []byte(buf.String()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", *fl.jsonFile)
	}
	if *fl.memProfile != "" {
		f, err := os.Create(*fl.memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.WriteHeapProfile(f)
	}
	return nil
}

// startChildOrg runs `pgforce sforg` from this same binary and waits for its address.
func startChildOrg(ctx context.Context, latency time.Duration) (url, token string, pid int, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", "", 0, nil, err
	}
	token = keyring.RandomToken(16)
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, exe, "sforg", "--addr", "127.0.0.1:0", "--control-token", token, "--seed", "0", "--latency", latency.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return "", "", 0, nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return "", "", 0, nil, fmt.Errorf("start the simulated org: %w", err)
	}
	stop = func() { cancel(); _ = cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), cli.SimulatedOrgListening); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return strings.Fields(rest)[0], token, cmd.Process.Pid, stop, nil
		}
	}
	stop()
	return "", "", 0, nil, errors.New("the simulated org exited before listening")
}
