package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/internal/keyring"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/pubsub"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
	"pgforce/sync/store/storetest"
)

// The crash tests run pgforce as a child process (this test binary, acting as `pgforce serve`) and
// kill it with SIGKILL at random points. -kills sets how many times each scenario kills it.
var kills = flag.Int("kills", 3, "SIGKILLs per crash scenario (the long variant: 20)")

const crashChildEnv = "PGFORCE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) == "1" {
		// The child: exactly what `pgforce serve` does, until it is killed.
		err := run(context.Background(), []string{"pgforce", "serve"}, os.Getenv, strings.NewReader(""), os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "pgforce:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashRig is a simulated org in the test process (it must outlive the kills, as Salesforce does),
// a database schema, and pgforce in a child process that can be killed and started again.
type crashRig struct {
	t      *testing.T
	ctx    context.Context
	org    *sforg.Org
	orgURL string
	pool   *pgxpool.Pool
	admin  *admin.Service
	conn   connection.Connection
	schema string
	env    []string

	mu    sync.Mutex
	child *exec.Cmd
	out   *bytes.Buffer
	kills int
}

var crashAdmin = audit.Actor{Name: "crash test", Kind: audit.ActorCLI}

func newCrashRig(t *testing.T, seed int64) *crashRig {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	org, srv := sforgtest.NewServer(t, sforg.Options{Seed: seed, AllowPasswordFlow: true})
	pool, app := storetest.Pool(t)
	key := bytes.Repeat([]byte{byte(seed)}, 32)
	kr, _ := keyring.New(key)
	r := &crashRig{t: t, ctx: ctx, org: org, orgURL: srv.URL, pool: pool, schema: app + "_sf", out: &bytes.Buffer{}}
	t.Cleanup(func() { storetest.DropSchema(t, r.schema) })
	r.admin = admin.New(admin.Options{Pool: pool, Keyring: kr, Orgs: enginetest.Orgs()})
	c, err := r.admin.Connections.Create(ctx, crashAdmin, admin.NewConnection{Schema: r.schema, OrgType: connection.Simulated, LoginURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if r.conn, err = r.admin.Connections.AuthorizeWithPassword(ctx, crashAdmin, c.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		t.Fatal(err)
	}
	r.env = append(os.Environ(), crashChildEnv+"=1",
		"DATABASE_URL="+storetest.URL(), "PGFORCE_DB_SCHEMA="+app, "PGFORCE_ADDR=127.0.0.1:0",
		"PGFORCE_SECRET_KEY="+base64.StdEncoding.EncodeToString(key), "PGFORCE_LOG_LEVEL=warn", "PGFORCE_LEASE_TTL=1s",
		// A real org's settings: no embedded org in the child; the test's org answers instead.
		"PGFORCE_SF_LOGIN_URL="+srv.URL, "PGFORCE_SF_CLIENT_ID="+sforg.DemoClientID, "PGFORCE_SF_CLIENT_SECRET="+sforg.DemoClientSecret)
	t.Cleanup(func() {
		r.stopChild()
		if t.Failed() {
			t.Logf("pgforce output (%d kills):\n%s", r.kills, r.out.String())
		}
	})
	return r
}

// start runs pgforce and waits until it serves.
func (r *crashRig) start() {
	r.t.Helper()
	cmd := r.spawn()
	r.mu.Lock()
	r.child = cmd
	r.mu.Unlock()
}

// spawn runs one more pgforce process on the rig's database and waits until it serves.
func (r *crashRig) spawn() *exec.Cmd {
	r.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = r.env
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		r.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		r.t.Fatal(err)
	}
	ready, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited) // its output ended: the process is gone
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			r.mu.Lock()
			r.out.WriteString(sc.Text() + "\n")
			r.mu.Unlock()
			if strings.Contains(sc.Text(), "dashboard at") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	select {
	case <-ready:
	case <-exited:
		// Its last lines (printed when the test fails) say why, e.g. the database refused it.
		r.t.Fatalf("pgforce exited before it served: %v", cmd.Wait())
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		r.t.Fatal("pgforce did not start in 30 s")
	}
	return cmd
}

// kill sends SIGKILL: no shutdown code runs.
func (r *crashRig) kill() {
	r.t.Helper()
	r.mu.Lock()
	cmd := r.child
	r.child = nil
	r.kills++
	r.out.WriteString("---- SIGKILL ----\n")
	r.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
}

func (r *crashRig) stopChild() {
	r.mu.Lock()
	cmd := r.child
	r.child = nil
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
}

// killSoon kills pgforce at a random moment within the next max.
func (r *crashRig) killSoon(max time.Duration) {
	time.Sleep(time.Duration(rand.Int64N(int64(max)))) // the random kill point itself, not a wait for work
	r.kill()
}

func (r *crashRig) eventually(what string, timeout time.Duration, cond func() (bool, string)) {
	r.t.Helper()
	enginetest.Eventually(r.t, what, timeout, cond)
}

func (r *crashRig) mapping(object string, cfg mapping.Config) mapping.Mapping {
	r.t.Helper()
	m, err := r.admin.Mappings.Create(r.ctx, crashAdmin, r.conn.ID, object, cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

func (r *crashRig) waitSynced(id int64, timeout time.Duration) {
	r.t.Helper()
	r.eventually("the mapping to be DATA_SYNCED", timeout, func() (bool, string) {
		m, err := r.admin.Mappings.Get(r.ctx, id)
		if err != nil {
			return false, err.Error()
		}
		return m.State == mapping.DataSynced || m.State == mapping.PollingSFChanges, string(m.State) + " " + m.StateReason
	})
}

// snapshot is one side's records: sfid → the compared field's value.
type snapshot map[string]string

func (r *crashRig) pgSnapshot(table, column string) (snapshot, int) {
	r.t.Helper()
	rows, err := r.pool.Query(r.ctx, `SELECT sfid, COALESCE(`+column+`::text, '') FROM `+r.schema+`.`+table)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	out, n := snapshot{}, 0
	for rows.Next() {
		var sfid *string
		var v string
		if err := rows.Scan(&sfid, &v); err != nil {
			r.t.Fatal(err)
		}
		n++
		if sfid != nil {
			out[*sfid] = v
		}
	}
	return out, n
}

func (r *crashRig) sfSnapshot(object, field string, format func(any) string) snapshot {
	out := snapshot{}
	for id, rec := range r.org.Records(object) {
		out[id] = format(rec[field])
	}
	return out
}

func sfText(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

func number(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprintf("%g", v)
}

// same compares two snapshots and describes the first differences.
func same(pg snapshot, pgRows int, sf snapshot) (bool, string) {
	if pgRows != len(pg) {
		return false, fmt.Sprintf("%d Postgres rows, %d with an sfid", pgRows, len(pg))
	}
	var diffs []string
	for id, v := range sf {
		if got, ok := pg[id]; !ok {
			diffs = append(diffs, id+" missing in Postgres")
		} else if got != v {
			diffs = append(diffs, fmt.Sprintf("%s: Postgres %q, Salesforce %q", id, got, v))
		}
	}
	for id := range pg {
		if _, ok := sf[id]; !ok {
			diffs = append(diffs, id+" only in Postgres")
		}
	}
	if len(diffs) > 0 {
		return false, fmt.Sprintf("%d differences, e.g. %s", len(diffs), strings.Join(diffs[:min(3, len(diffs))], "; "))
	}
	return true, ""
}

func TestKilledDuringInitialLoadsAndReloadsEveryRecordArrivesOnce(t *testing.T) {
	t.Parallel()
	r := newCrashRig(t, 11)
	if err := r.org.Generate("Lead", 15000, 3); err != nil { // above the Bulk API threshold
		t.Fatal(err)
	}
	r.start()
	m := r.mapping("Lead", mapping.NewConfig("LastName", "Company"))
	for i := range *kills {
		r.killSoon(1500 * time.Millisecond)
		r.start()
		if i < *kills-1 {
			r.waitSynced(m.ID, time.Minute)
			if err := r.admin.Mappings.Reload(r.ctx, crashAdmin, m.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.waitSynced(m.ID, 2*time.Minute)
	sf := r.sfSnapshot("Lead", "LastName", sfText)
	r.eventually("Postgres to match Salesforce", 30*time.Second, func() (bool, string) {
		pg, n := r.pgSnapshot("lead", "lastname")
		return same(pg, n, sf)
	})
	t.Logf("%d kills; %d records compared", r.kills, len(sf))
}

func TestKilledDuringAWriteBacklogEachChangeReachesSalesforceOnce(t *testing.T) {
	t.Parallel()
	r := newCrashRig(t, 12)
	cfg := mapping.NewConfig("Amount__c", "External_Id__c", "Status__c")
	cfg.Access, cfg.UpsertField = mapping.ReadWrite, "External_Id__c"
	r.start()
	m := r.mapping("Invoice__c", cfg)
	r.waitSynced(m.ID, time.Minute)
	for i := range *kills {
		// A burst of inserts and updates of earlier rows, then a kill while they are being written.
		if _, err := r.pool.Exec(r.ctx, fmt.Sprintf(`INSERT INTO %s.invoice__c (external_id__c, amount__c, status__c)
			SELECT 'CRASH-%d-' || g, g, 'Draft' FROM generate_series(1, 1500) g`, r.schema, i)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.pool.Exec(r.ctx, fmt.Sprintf(`UPDATE %s.invoice__c SET amount__c = amount__c + 1000 WHERE external_id__c LIKE 'CRASH-%%' AND id %% 7 = %d`, r.schema, i)); err != nil {
			t.Fatal(err)
		}
		r.killSoon(700 * time.Millisecond)
		r.start()
	}
	tl := r.schema + "._trigger_log"
	r.eventually("every change written", 2*time.Minute, func() (bool, string) {
		var waiting, failed int
		_ = r.pool.QueryRow(r.ctx, `SELECT count(*) FILTER (WHERE state IN ('NEW', 'PENDING')), count(*) FILTER (WHERE state = 'FAILED') FROM `+tl).Scan(&waiting, &failed)
		return waiting == 0, fmt.Sprintf("%d waiting, %d failed", waiting, failed)
	})
	var failed int
	_ = r.pool.QueryRow(r.ctx, `SELECT count(*) FROM `+tl+` WHERE state = 'FAILED'`).Scan(&failed)
	if failed > 0 {
		var action, msg string
		_ = r.pool.QueryRow(r.ctx, `SELECT action, sf_message FROM `+tl+` WHERE state = 'FAILED' LIMIT 1`).Scan(&action, &msg)
		t.Fatalf("%d changes failed, e.g. %s: %s", failed, action, msg)
	}
	// No duplicates in Salesforce: each external id once.
	seen := map[string]int{}
	for _, rec := range r.org.Records("Invoice__c") {
		if ext, _ := rec["External_Id__c"].(string); strings.HasPrefix(ext, "CRASH-") {
			seen[ext]++
		}
	}
	if len(seen) != 1500**kills {
		t.Fatalf("%d of %d inserted rows reached Salesforce", len(seen), 1500**kills)
	}
	for ext, n := range seen {
		if n > 1 {
			t.Fatalf("%s is in Salesforce %d times", ext, n)
		}
	}
	sf := r.sfSnapshot("Invoice__c", "Amount__c", number)
	r.eventually("Postgres to match Salesforce", 30*time.Second, func() (bool, string) {
		pg, n := r.pgSnapshot("invoice__c", "amount__c::float8")
		return same(pg, n, sf)
	})
	t.Logf("%d kills; %d records compared", r.kills, len(sf))
}

func TestKilledWhilePollingAndStreamingChangesConvergeWithSalesforce(t *testing.T) {
	t.Parallel()
	r := newCrashRig(t, 13)
	r.streamContactsThroughKills("cometd")
}

// Over the Pub/Sub API the replay id is checkpointed with the data it led to: after each SIGKILL
// pgforce resubscribes after it, and no change is lost or applied twice.
func TestKilledWhileStreamingOverPubSubNoChangeIsLostOrDuplicated(t *testing.T) {
	t.Parallel()
	r := newCrashRig(t, 14)
	ps := sforg.NewPubSubServer(r.org, sforg.PubSubOptions{})
	if err := ps.Start(r.ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ps.Stop)
	ca := t.TempDir() + "/pubsub.pem"
	if err := os.WriteFile(ca, ps.CertificatePEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	r.env = append(r.env, "PGFORCE_SF_PUBSUB_ADDR="+ps.Addr(), "PGFORCE_SF_PUBSUB_CA_FILE="+ca)
	m := r.streamContactsThroughKills("pubsub")
	// On a loaded machine a process may be killed before its subscription is up, and the last one
	// catches up by polling; a change streamed to the survivor must still be checkpointed.
	tries := 0
	r.eventually("a Pub/Sub replay id checkpointed", 30*time.Second, func() (bool, string) {
		if tries%50 == 0 {
			if _, err := r.org.CreateAsUser("Contact", map[string]any{"LastName": fmt.Sprintf("After the kills %d", tries)}); err != nil {
				return false, err.Error()
			}
		}
		tries++
		m, _ = r.admin.Mappings.Get(r.ctx, m.ID)
		n, ok := pubsub.ReplayNumber(m.PubSubReplayID)
		return ok && n > 0, fmt.Sprintf("%v", m.PubSubReplayID)
	})
}

// streamContactsThroughKills maps Contact in accelerated mode, streaming over transport, while
// Salesforce users keep creating, editing and deleting contacts through every kill; then both
// sides must hold the same records, each once.
func (r *crashRig) streamContactsThroughKills(transport string) mapping.Mapping {
	t := r.t
	cfg := mapping.NewConfig("LastName", "Email")
	cfg.SFNotifyEnabled = true
	r.start()
	m := r.mapping("Contact", cfg)
	r.waitSynced(m.ID, time.Minute)
	r.eventually("streaming over "+transport, 30*time.Second, func() (bool, string) {
		m, _ = r.admin.Mappings.Get(r.ctx, m.ID)
		return m.StreamTransport == transport, m.StreamTransport
	})
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		var ids []string
		for {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			switch {
			case n%10 == 9 && len(ids) > 0:
				_ = r.org.DeleteAsUser("Contact", ids[0])
				ids = ids[1:]
			case n%3 == 2 && len(ids) > 0:
				_ = r.org.UpdateAsUser("Contact", ids[len(ids)-1], map[string]any{"LastName": fmt.Sprintf("Edited %d", n)})
			default:
				if id, err := r.org.CreateAsUser("Contact", map[string]any{"LastName": fmt.Sprintf("Crash %d", n)}); err == nil {
					ids = append(ids, id)
				}
			}
			n++
			time.Sleep(2 * time.Millisecond) // the pace of the simulated users
		}
	}()
	for range *kills {
		r.killSoon(1500 * time.Millisecond)
		r.start()
	}
	close(stop)
	changes := <-done
	sf := r.sfSnapshot("Contact", "LastName", sfText)
	r.eventually("Postgres to match Salesforce", time.Minute, func() (bool, string) {
		pg, n := r.pgSnapshot("contact", "lastname")
		return same(pg, n, sf)
	})
	m, err := r.admin.Mappings.Get(r.ctx, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.StreamTransport != transport {
		t.Fatalf("streamed over %q, want %s", m.StreamTransport, transport)
	}
	t.Logf("%d kills over %s; %d Salesforce changes; %d records compared", r.kills, transport, changes, len(sf))
	return m
}
