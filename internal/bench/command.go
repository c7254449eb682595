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
	"pgforce/internal/keyring"
)

// Command runs `pgforce bench [flags]`: the suite over the opened pool and keyring, with the
// simulated org in a child process (`pgforce sforg` of this binary) so that the memory figures are
// pgforce's alone; opts carries what main wires (pool, keyring, log, dashboard).
func Command(ctx context.Context, opts Options, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pgforce bench", flag.ContinueOnError)
	fs.SetOutput(stdout)
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
	only := fs.String("only", "", "comma-separated figure groups: load,verify,stream,pubsub,poll,write,backlog,idle,mappings,wide,page")
	jsonFile := fs.String("json", "bench.json", "write the report as JSON to this file (empty: none)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memProfile := fs.String("memprofile", "", "write a heap profile at the end of the run to this file")
	inProcess := fs.Bool("in-process-org", false, "run the simulated org in this process (its memory then counts)")
	keep := fs.Bool("keep", false, "keep the bench schemas afterwards, to inspect them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *only != "" {
		opts.Only = strings.Split(*only, ",")
	}
	opts.KeepSchemaFor = *keep
	opts.Progress = stdout
	if !*inProcess {
		url, token, stop, err := startChildOrg(ctx, opts.OrgLatency)
		if err != nil {
			return err
		}
		defer stop()
		opts.OrgURL, opts.ControlToken = url, token
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
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
	if *jsonFile != "" {
		var buf strings.Builder
		if err := report.WriteJSON(&buf); err != nil {
			return err
		}
		if err := os.WriteFile(*jsonFile, []byte(buf.String()), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", *jsonFile)
	}
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		return pprof.WriteHeapProfile(f)
	}
	return nil
}

// startChildOrg runs `pgforce sforg` from this same binary and waits for its address.
func startChildOrg(ctx context.Context, latency time.Duration) (url, token string, stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return "", "", nil, err
	}
	token = keyring.RandomToken(16)
	cctx, cancel := context.WithCancel(ctx)
	cmd := exec.CommandContext(cctx, exe, "sforg", "--addr", "127.0.0.1:0", "--control-token", token, "--seed", "0", "--latency", latency.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return "", "", nil, err
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return "", "", nil, fmt.Errorf("start the simulated org: %w", err)
	}
	stop = func() { cancel(); _ = cmd.Wait() }
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), cli.SimulatedOrgListening); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return strings.Fields(rest)[0], token, stop, nil
		}
	}
	stop()
	return "", "", nil, errors.New("the simulated org exited before listening")
}
