package bench

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/lease"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store"
)

var actor = audit.Actor{Name: "pgforce bench", Kind: audit.ActorCLI}

// env is an engine connected to a simulated org, with the means to drive and watch both sides.
type env struct {
	opts   Options
	pool   *pgxpool.Pool
	org    orgControl
	eng    *engine.Engine
	adm    *admin.Service
	conn   connection.Connection
	schema string
	stop   []func()
	// orgInProcess: the simulated org runs in this process, so its memory is in the RSS figures.
	orgInProcess bool
	// unlock releases the run's advisory lock on its schemas (lockRun).
	unlock func()
}

func newEnv(ctx context.Context, opts Options) (*env, error) {
	e := &env{pool: opts.Pool, schema: opts.DataSchema, unlock: func() {}}
	if opts.OrgURL == "" {
		token := keyring.RandomToken(16)
		org := sforg.New(sforg.Options{ControlToken: token, QueryPageSize: 2000, AllowPasswordFlow: true, Latency: opts.OrgLatency})
		orgURL, closeOrg, err := serveLocal(org.Handler())
		if err != nil {
			return nil, err
		}
		e.stop = append(e.stop, closeOrg)
		ps := sforg.NewPubSubServer(org, sforg.PubSubOptions{})
		if err := ps.Start(ctx); err != nil {
			closeOrg()
			return nil, err
		}
		e.stop = append(e.stop, ps.Stop)
		e.orgInProcess = true
		opts.OrgURL, opts.ControlToken = orgURL, token
	}
	e.opts = opts
	e.org = orgControl{url: strings.TrimRight(opts.OrgURL, "/"), token: opts.ControlToken, hc: &http.Client{Timeout: 10 * time.Minute}}
	// What an earlier run left is removed, unless that run is still going: its schemas stay.
	if err := e.lockRun(ctx); err != nil {
		e.stopAll()
		return nil, err
	}
	err := e.noOtherRun(ctx)
	if err == nil {
		err = e.dropSchemas(ctx)
	}
	if err != nil {
		e.stopAll()
		e.unlock()
		return nil, err
	}
	pubsub, err := e.org.pubSubEndpoint(ctx)
	if err != nil {
		e.close()
		return nil, err
	}
	orgs := orgclient.SalesforceOrgs{App: func(connection.Connection) orgclient.ConnectedApp {
		return orgclient.ConnectedApp{ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
	}, PubSub: func(connection.Connection) *orgclient.PubSubEndpoint { return pubsub }}
	engPool := opts.EnginePool
	if engPool == nil {
		engPool = opts.Pool
	}
	e.eng = engine.New(engine.Options{Pool: engPool, Keyring: opts.Keyring, Log: opts.Log, PollInterval: opts.PollInterval, Orgs: orgs})
	e.adm = admin.New(admin.Options{Pool: opts.Pool, Keyring: opts.Keyring, Log: opts.Log, Orgs: orgs})
	c, err := e.adm.Connections.Create(ctx, actor, admin.NewConnection{Name: "bench", Schema: e.schema, OrgType: connection.Simulated, LoginURL: opts.OrgURL})
	if err != nil {
		e.close()
		return nil, fmt.Errorf("create the bench connection: %w", err)
	}
	if c, err = e.adm.Connections.AuthorizeWithPassword(ctx, actor, c.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		e.close()
		return nil, fmt.Errorf("authorize the bench connection: %w", err)
	}
	e.conn = c
	if err := e.eng.Start(ctx); err != nil {
		e.close()
		return nil, err
	}
	e.stop = append(e.stop, e.eng.Stop)
	return e, nil
}

// benchSchemas are the schemas a run's connections sync into.
func (e *env) benchSchemas() []string {
	return []string{e.schema, e.schema + "_idle", e.schema + "_scale", e.schema + "_wide", e.schema + "_page"}
}

// ErrOtherRun is returned when another bench is running against the same database and schemas.
var ErrOtherRun = errors.New("another pgforce bench is running against this database")

// noOtherRun refuses to start while another run uses the same schemas: a connection in them whose
// lease a live pgforce instance holds (an instance renews its lease every few seconds and a dead
// one's expires within lease.DefaultTTL, so a crashed run does not block the next for long).
// Removing the other run's connections would stop it midway ("connection N not found").
func (e *env) noOtherRun(ctx context.Context) error {
	ids, err := connection.IDsInSchemas(ctx, e.pool, e.benchSchemas())
	if err != nil {
		return err
	}
	for _, id := range ids {
		holder, until, err := lease.Holder(ctx, e.pool, id)
		if err != nil {
			return fmt.Errorf("read the lease of bench connection %d: %w", id, err)
		}
		if holder != "" {
			return fmt.Errorf("%w (instance %s syncs its connection %d, lease until %s); wait for it or pass --schema with another name",
				ErrOtherRun, holder, id, until.Format(time.TimeOnly))
		}
	}
	return nil
}

// RunLockKey names the Postgres advisory lock a run holds on its schemas from before it removes
// what an earlier run left until it has removed its own: two runs starting at once cannot both
// pass noOtherRun (the lock goes with the run's database session, so a crashed run leaves none).
func RunLockKey(dataSchema string) string { return "pgforce bench " + dataSchema }

// lockRun takes the run's advisory lock (refused while another run holds it); e.unlock releases it.
func (e *env) lockRun(ctx context.Context) error {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	key := RunLockKey(e.schema)
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtext($1))`, key).Scan(&ok); err != nil || !ok {
		conn.Release()
		return cmp.Or(err, fmt.Errorf("%w (another run holds schema %s); wait for it or pass --schema with another name", ErrOtherRun, e.schema))
	}
	e.unlock = sync.OnceFunc(func() {
		_, _ = conn.Exec(context.Background(), `SELECT pg_advisory_unlock(hashtext($1))`, key)
		conn.Release()
	})
	return nil
}

// stopAll stops what the run started, leaving the schemas alone.
func (e *env) stopAll() {
	for _, f := range slices.Backward(e.stop) {
		f()
	}
	e.stop = nil
}

// dropSchemas removes what an earlier run left: the bench connection, its mappings and tables.
func (e *env) dropSchemas(ctx context.Context) error {
	schemas := e.benchSchemas()
	for _, s := range schemas {
		if err := store.DropSchema(ctx, e.pool, s); err != nil {
			return err
		}
	}
	if err := connection.DeleteInSchemas(ctx, e.pool, schemas); err != nil {
		return fmt.Errorf("remove earlier bench connections: %w", err)
	}
	return nil
}

func (e *env) close() {
	e.stopAll()
	if !e.opts.KeepSchemaFor {
		_ = e.dropSchemas(context.Background())
	}
	e.unlock() // only now: another run may start and clean up
}

func (e *env) progress(format string, args ...any) {
	fmt.Fprintf(e.opts.Progress, "   "+format+"\n", args...)
}

// createMapping maps an object and waits until its initial load is done.
func (e *env) createMapping(ctx context.Context, connID int64, object string, cfg mapping.Config, timeout time.Duration) (mapping.Mapping, time.Duration, error) {
	start := time.Now()
	m, err := e.adm.Mappings.Create(ctx, actor, connID, object, cfg)
	if err != nil {
		return m, 0, fmt.Errorf("map %s: %w", object, err)
	}
	m, err = e.waitMapping(ctx, m.ID, mapping.DataSynced, timeout, nil)
	return m, time.Since(start), err
}

// waitMapping polls a mapping's state until it is want; tick is called on every poll.
func (e *env) waitMapping(ctx context.Context, id int64, want mapping.State, timeout time.Duration, tick func(mapping.Mapping)) (mapping.Mapping, error) {
	deadline := time.Now().Add(timeout)
	for {
		m, err := e.adm.Mappings.Get(ctx, id)
		if err != nil {
			return m, err
		}
		if tick != nil {
			tick(m)
		}
		if m.State == want {
			return m, nil
		}
		if m.State.Severity() == "bad" {
			return m, fmt.Errorf("mapping %s is %s: %s", m.Object, m.State, m.StateReason)
		}
		if time.Now().After(deadline) {
			return m, fmt.Errorf("mapping %s not %s after %v (it is %s: %s)", m.Object, want, timeout, m.State, m.StateReason)
		}
		select {
		case <-ctx.Done():
			return m, ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling with a deadline
		}
	}
}

// until polls cond with a deadline.
func until(ctx context.Context, what string, timeout time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond): // polling with a deadline
		}
	}
}

func (e *env) tableIdent(m mapping.Mapping) string { return table.Ident(e.schema, m.Table) }

// orgControl drives the simulated org through its control API.
type orgControl struct {
	url, token string
	hc         *http.Client
}

func (o orgControl) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, o.url+"/_sforg"+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := o.hc.Do(req)
	if err != nil {
		return fmt.Errorf("simulated org %s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		return fmt.Errorf("simulated org %s %s: %d %s", method, path, res.StatusCode, bytes.TrimSpace(raw))
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (o orgControl) addObject(ctx context.Context, name string, fields []sforg.FieldDef) error {
	return o.do(ctx, http.MethodPost, "/objects", map[string]any{"Name": name, "Label": strings.TrimSuffix(name, "__c"), "Fields": fields}, nil)
}

func (o orgControl) selectForCDC(ctx context.Context, object string) error {
	return o.do(ctx, http.MethodPost, "/cdc/entities/"+object, nil, nil)
}

// generateChunk is how many records one request of the org's control API generates (it takes 5M
// at most; the org holds them as one compact block, generated in well under a second per million).
const generateChunk = 5_000_000

// generate adds n records stamped an hour ago, as records of an org in use were created before a
// mapping loads them: stamped now, every record of a block ties on one SystemModstamp within the
// load's overlap window, and each poll after the load re-reads (and sorts) all of them.
func (o orgControl) generate(ctx context.Context, object string, n int) error {
	for i := 0; n > 0; i++ {
		chunk := min(n, generateChunk)
		if err := o.do(ctx, http.MethodPost, "/generate", map[string]any{"Object": object, "Count": chunk, "Seed": 7 + i, "StampedAgo": 3600}, nil); err != nil {
			return err
		}
		n -= chunk
	}
	return nil
}

func (o orgControl) create(ctx context.Context, object string, fields map[string]any) error {
	return o.do(ctx, http.MethodPost, "/records/"+object, fields, nil)
}

// calls is the org's count of API calls by kind.
func (o orgControl) calls(ctx context.Context) (map[string]int, error) {
	all, _, err := o.callsByClient(ctx)
	return all, err
}

// callsByClient returns the org's API calls by kind, and those whose Sforce-Call-Options named
// pgforce's writer (client=pgforce/writer), as Salesforce counts usage by client.
func (o orgControl) callsByClient(ctx context.Context) (all, writer map[string]int, err error) {
	var out struct {
		Calls    map[string]int
		ByClient map[string]map[string]int `json:"by_client"`
	}
	err = o.do(ctx, http.MethodGet, "/calls", nil, &out)
	return out.Calls, out.ByClient[writerClient], err
}

// writerClient is the client name pgforce's writer gives its calls in Sforce-Call-Options.
const writerClient = "pgforce/writer"

func total(calls map[string]int) int {
	n := 0
	for _, v := range calls {
		n += v
	}
	return n
}

func diff(after, before map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range after {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// rssBytes is this process's resident set size now.
func rssBytes() int64 { return rssOf("self") }

// rssOf is a process's resident set size now (proc: "self" or a pid; 0 when it cannot be read).
func rssOf(proc string) int64 {
	f, err := os.Open("/proc/" + proc + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// rssPeak samples the resident set size until stopped and returns the highest value seen.
func rssPeak() (stop func() int64) {
	stopAll := rssSamples(0, time.Hour)
	return func() int64 { return stopAll().peak }
}

// RSSSample is the resident set sizes of pgforce and of the simulated org's process at a moment.
type RSSSample struct {
	At      time.Duration `json:"at_ns"` // since the sampling began
	PGForce int64         `json:"pgforce_bytes"`
	Org     int64         `json:"org_bytes,omitempty"` // the org in another process (0: in this one)
}

// rssTrace is what rssSamples saw: the highest values, read every 10 ms, and a sample every interval.
type rssTrace struct {
	peak, orgPeak int64
	samples       []RSSSample
}

// rssSamples samples this process's resident set size, and the org process's (orgPID > 0), until
// stopped.
func rssSamples(orgPID int, every time.Duration) (stop func() rssTrace) {
	done := make(chan struct{})
	out := make(chan rssTrace, 1)
	go func() {
		var tr rssTrace
		start := time.Now()
		next := start
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			s := RSSSample{At: time.Since(start), PGForce: rssBytes()}
			if orgPID > 0 {
				s.Org = rssOf(strconv.Itoa(orgPID))
			}
			tr.peak, tr.orgPeak = max(tr.peak, s.PGForce), max(tr.orgPeak, s.Org)
			if !time.Now().Before(next) {
				tr.samples = append(tr.samples, s)
				next = next.Add(every)
			}
			select {
			case <-done:
				tr.samples = append(tr.samples, s)
				out <- tr
				return
			case <-t.C:
			}
		}
	}()
	return func() rssTrace { close(done); return <-out }
}
