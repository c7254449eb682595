package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/sforg"
)

// LoadFields are the 15 custom fields of the load objects; with Id, Name, CreatedDate,
// SystemModstamp and IsDeleted a mapped table has 20 columns from Salesforce.
func LoadFields() []sforg.FieldDef {
	var fs []sforg.FieldDef
	add := func(f sforg.FieldDef) {
		f.Nillable, f.Createable, f.Updateable = true, true, true
		fs = append(fs, f)
	}
	for i := 1; i <= 6; i++ {
		add(sforg.FieldDef{Name: fmt.Sprintf("Text%d__c", i), Type: "string", Length: 80})
	}
	for i := 1; i <= 3; i++ {
		add(sforg.FieldDef{Name: fmt.Sprintf("Amount%d__c", i), Type: "double", Precision: 18, Scale: 2})
	}
	add(sforg.FieldDef{Name: "Quantity__c", Type: "int", Digits: 9})
	add(sforg.FieldDef{Name: "Flag__c", Type: "boolean"})
	add(sforg.FieldDef{Name: "Day__c", Type: "date"})
	add(sforg.FieldDef{Name: "At__c", Type: "datetime"})
	add(sforg.FieldDef{Name: "Email__c", Type: "email", Length: 80})
	add(sforg.FieldDef{Name: "Stage__c", Type: "picklist", Picklist: []string{"New", "Working", "Won", "Lost"}})
	return fs
}

func loadConfig() mapping.Config {
	names := []string{"Name", "CreatedDate"}
	for _, f := range LoadFields() {
		names = append(names, f.Name)
	}
	return mapping.NewConfig(names...)
}

type loadRun struct {
	rows     int
	generate time.Duration // the org's generation of the records, before the load
	took     time.Duration
	peak     int64 // pgforce's resident set size at its highest during the load
	orgPeak  int64 // the org process's (0: the org runs in this process)
	samples  []RSSSample
	disk     int64 // the loaded table with its indexes
	m        mapping.Mapping
}

// rssEvery is how often the load's memory is kept as a sample (its peak is read every 10 ms).
const rssEvery = 250 * time.Millisecond

// load maps a freshly generated object of n records and measures the initial load.
func (e *env) load(ctx context.Context, object string, n int) (loadRun, error) {
	if err := e.org.addObject(ctx, object, LoadFields()); err != nil {
		return loadRun{}, err
	}
	e.progress("generating %d %s records in the org", n, object)
	start := time.Now()
	if err := e.org.generate(ctx, object, n); err != nil {
		return loadRun{}, err
	}
	run := loadRun{rows: n, generate: time.Since(start)}
	debug.FreeOSMemory()
	stopRSS := rssSamples(e.opts.OrgPID, rssEvery)
	e.progress("loading %d records", n)
	m, took, err := e.createMapping(ctx, e.conn.ID, object, loadConfig(), 3*time.Hour)
	tr := stopRSS()
	run.peak, run.orgPeak, run.samples = tr.peak, tr.orgPeak, tr.samples
	run.took, run.m = took, m
	if err != nil {
		return run, err
	}
	var got int
	if err := e.pool.QueryRow(ctx, `SELECT count(*), pg_total_relation_size($1::regclass) FROM `+e.tableIdent(m), e.tableIdent(m)).Scan(&got, &run.disk); err != nil {
		return run, err
	}
	if got != n {
		return run, fmt.Errorf("loaded %d of %d records", got, n)
	}
	e.progress("loaded %d records in %v (%.0f rows/s), peak RSS %d MiB (org %d MiB), %d MiB on disk", n, took.Round(time.Millisecond),
		float64(n)/took.Seconds(), run.peak>>20, run.orgPeak>>20, run.disk>>20)
	return run, nil
}

// measureLoad loads 100×, 10× fewer records and then --rows: the peak memory must not grow with them.
func measureLoad(ctx context.Context, e *env, r *Report) error {
	var runs []loadRun
	for i, object := range []string{"LoadTiny__c", "LoadSmall__c", "LoadLarge__c"} {
		n := max(e.opts.Rows/[]int{100, 10, 1}[i], 1000)
		run, err := e.load(ctx, object, n)
		if err != nil {
			return err
		}
		runs = append(runs, run)
	}
	tiny, s, big := runs[0], runs[1], runs[2]
	// A reference that fails leaves the load's own figures standing: the figure says the reference
	// is missing and is not met, rather than the run losing what it measured.
	var fetchNote string
	fetch, err := e.fetchOnly(ctx, "LoadLarge__c")
	if err != nil {
		fetch, fetchNote = 0, "fetching the same results alone failed: "+err.Error()
	} else {
		fetchNote = fmt.Sprintf("fetching the same results alone took %.1f s", fetch.Seconds())
	}
	rate := float64(big.rows) / big.took.Seconds()
	load := Figure{Name: fmt.Sprintf("initial load %d records × 20 fields", big.rows), Value: rate, Unit: "rows/s", Goal: "≥ 70% of the reference"}
	copyTook, err := e.rawCopy(ctx, big.m)
	if err != nil {
		copyTook = 0
		load.Measured = fmt.Sprintf("%.0f rows/s (%.1f s); no reference", rate, big.took.Seconds())
		load.Reference = "raw binary COPY of the same rows: failed: " + err.Error()
	} else {
		refRate := float64(big.rows) / copyTook.Seconds()
		load.Measured = fmt.Sprintf("%.0f rows/s (%.1f s), %.0f%% of the reference", rate, big.took.Seconds(), 100*rate/refRate)
		load.Reference = fmt.Sprintf("raw binary COPY (pgx CopyFrom's) of the same %d rows into an equivalent table: %.0f rows/s", big.rows, refRate)
		load.Met = rate >= 0.7*refRate
	}
	const mib = 1 << 20
	growth := float64(big.peak-s.peak) / mib
	orgMem := "org " + e.orgWhere()
	if big.orgPeak > 0 {
		orgMem += fmt.Sprintf(" (its peak: %.0f, %.0f and %.0f MiB)", float64(big.orgPeak)/mib, float64(s.orgPeak)/mib, float64(tiny.orgPeak)/mib)
	}
	load.Note = fmt.Sprintf("includes the Bulk API job, the download and the org's CSV encoding; %s; "+
		"the org generated the records beforehand in %.1f s (%.0f records/s); the table and its indexes take %.0f MiB",
		fetchNote, big.generate.Seconds(), float64(big.rows)/big.generate.Seconds(), float64(big.disk)/mib)
	r.Figures = append(r.Figures,
		load,
		Figure{Name: "initial load peak RSS", Value: float64(big.peak) / mib, Unit: "MiB",
			Measured: fmt.Sprintf("%.0f MiB at %d rows, %.0f MiB at %d, %.0f MiB at %d (%+.0f MiB from %d)", float64(big.peak)/mib, big.rows,
				float64(s.peak)/mib, s.rows, float64(tiny.peak)/mib, tiny.rows, growth, s.rows),
			Reference: "the whole bench process, " + orgMem,
			Goal:      "< 256 MiB and flat from 10× fewer rows", Met: big.peak < 256*mib && growth < 32},
	)
	r.LoadBreakdown = []Phase{{Name: "engine: job, download, decode, COPY, commit", Took: big.took}}
	if fetch > 0 {
		r.LoadBreakdown = append(r.LoadBreakdown, Phase{Name: "Salesforce Bulk query and download alone", Took: fetch})
	}
	if copyTook > 0 {
		r.LoadBreakdown = append(r.LoadBreakdown, Phase{Name: "raw COPY of the same rows alone", Took: copyTook})
	}
	r.LoadBreakdown = append(r.LoadBreakdown, Phase{Name: "org: generating the records (before the load)", Took: big.generate})
	r.LoadRSS = big.samples
	return nil
}

func (e *env) orgWhere() string {
	if e.orgInProcess {
		return "in this process (its records count too)"
	}
	return "in another process"
}

// fetchOnly runs the load's Bulk query and discards the results: the Salesforce side of the load.
func (e *env) fetchOnly(ctx context.Context, object string) (time.Duration, error) {
	app := salesforce.App{LoginURL: e.opts.OrgURL, ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
	tok, err := app.Password(ctx, sforg.DemoUsername, sforg.DemoPassword)
	if err != nil {
		return 0, err
	}
	c, err := salesforce.New(ctx, salesforce.Options{App: app, Token: tok})
	if err != nil {
		return 0, err
	}
	fields := []string{"Id", "IsDeleted", "SystemModstamp", "Name", "CreatedDate"}
	for _, f := range LoadFields() {
		fields = append(fields, f.Name)
	}
	start := time.Now()
	_, err = c.BulkQuery(ctx, "SELECT "+strings.Join(fields, ", ")+" FROM "+object, false, salesforce.BulkQueryOptions{}, func(page io.Reader) error {
		_, err := io.Copy(io.Discard, page)
		return err
	})
	return time.Since(start), err
}

// rawCopy copies the loaded rows into an equivalent table (same columns and indexes, no pgforce)
// with a binary COPY FROM STDIN, as pgx's CopyFrom sends it: the fastest the database takes them. The rows wait in a temporary file, not
// in memory, so that a 10M-row run stays flat too.
func (e *env) rawCopy(ctx context.Context, m mapping.Mapping) (time.Duration, error) {
	src := e.tableIdent(m)
	ref := pgx.Identifier{e.schema, "copy_reference"}.Sanitize()
	if _, err := e.pool.Exec(ctx, `DROP TABLE IF EXISTS `+ref+`; CREATE TABLE `+ref+` (LIKE `+src+` INCLUDING DEFAULTS INCLUDING INDEXES)`); err != nil {
		return 0, err
	}
	defer e.pool.Exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS `+ref)
	rows, err := e.pool.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name <> 'id' ORDER BY ordinal_position`, e.schema, m.Table)
	if err != nil {
		return 0, err
	}
	cols, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, err
	}
	list := make([]string, len(cols))
	for i, c := range cols {
		list[i] = pgx.Identifier{c}.Sanitize()
	}
	columns := strings.Join(list, ", ")
	tmp, err := os.CreateTemp("", "pgforce-bench-copy-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	if _, err := conn.Conn().PgConn().CopyTo(ctx, tmp, `COPY (SELECT `+columns+` FROM `+src+`) TO STDOUT (FORMAT binary)`); err != nil {
		return 0, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	start := time.Now()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bufio.NewReaderSize(tmp, 1<<20), `COPY `+ref+` (`+columns+`) FROM STDIN (FORMAT binary)`); err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
