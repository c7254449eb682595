package verify_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/verify"
)

// fixture is a loaded read-only Account mapping, its engine stopped so nothing syncs behind the
// test's back, and a verification environment over the same simulated org. The org's records were
// stamped three hours ago but for the newest, an hour ago (the table's high-water mark): a change the
// test stamps two hours ago ("late") is one no poll would read, and one it makes now is in flight.
type fixture struct {
	b   *enginetest.Harness
	m   mapping.Mapping
	env verify.Env
	tbl verify.Table
}

func setup(t *testing.T, filter string, bulkAbove int) *fixture {
	t.Helper()
	b := enginetest.New(t, enginetest.Options{})
	for i := range 30 {
		industry := []string{"Retail", "Energy", "Banking"}[i%3]
		stamp := time.Now().Add(-3*time.Hour + time.Duration(i)*time.Second)
		if i == 29 {
			stamp = time.Now().Add(-time.Hour)
		}
		if _, err := b.Org.CreateCommittedLate("Account", map[string]any{"Name": fmt.Sprintf("Account %d", i), "Industry": industry}, stamp); err != nil {
			t.Fatal(err)
		}
	}
	cfg := mapping.NewConfig("Name", "Industry")
	if filter != "" {
		cfg.PGForce = &mapping.Extra{RecordFilter: filter}
	}
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "the Account load", 20*time.Second, func() (bool, string) {
		m, err = b.Admin.Mappings.Get(b.Ctx, m.ID)
		return err == nil && m.State == mapping.DataSynced && m.Watermark != nil, fmt.Sprint(m.State, err)
	})
	b.Engine.Stop()
	app := salesforce.App{LoginURL: b.Srv.URL, ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
	tok, err := app.Password(b.Ctx, sforg.DemoUsername, sforg.DemoPassword)
	if err != nil {
		t.Fatal(err)
	}
	c, err := salesforce.New(b.Ctx, salesforce.Options{App: app, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{b: b, m: m,
		env: verify.Env{Pool: b.Pool, SF: verify.Client(c), Margin: time.Second, BulkAbove: bulkAbove},
		tbl: verify.Table{Target: apply.Target{Schema: b.Conn.Schema, Object: "Account", Fields: m.AppliedFields}, MappingID: m.ID, Filter: filter, HasDeleted: true}}
}

func (f *fixture) verify(t *testing.T) (verify.Verification, []verify.Finding) {
	t.Helper()
	v, err := verify.Request(f.b.Ctx, f.b.Pool, f.b.Conn.ID, f.m.ID, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := verify.Run(f.b.Ctx, f.env, f.tbl, v.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if v, err = verify.Load(f.b.Ctx, f.b.Pool, v.ID); err != nil {
		t.Fatal(err)
	}
	fs, err := verify.Findings(f.b.Ctx, f.b.Pool, v.ID, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	return v, fs
}

// behindTheBack runs SQL on the synced table as pgforce's own session, so no trigger captures it:
// an operator's mistake, a restore, a bug.
func (f *fixture) behindTheBack(t *testing.T, sql string) {
	t.Helper()
	tx, err := f.b.Pool.Begin(f.b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if err := apply.AsSync(f.b.Ctx, tx); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(f.b.Ctx, strings.ReplaceAll(sql, "$table", f.b.Conn.Schema+".account")); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	if err := tx.Commit(f.b.Ctx); err != nil {
		t.Fatal(err)
	}
}

// oldest returns the sfids of the table's n oldest rows (not the newest, which stamps the mark).
func (f *fixture) oldest(t *testing.T, n int) []string {
	t.Helper()
	rows, err := f.b.Pool.Query(f.b.Ctx, `SELECT sfid FROM `+f.b.Conn.Schema+`.account ORDER BY systemmodstamp LIMIT $1`, n)
	if err != nil {
		t.Fatal(err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(ids) != n {
		t.Fatalf("%d oldest rows: %v %v", n, ids, err)
	}
	return ids
}

func kinds(fs []verify.Finding) map[verify.Kind][]string {
	out := map[verify.Kind][]string{}
	for _, f := range fs {
		out[f.Kind] = append(out[f.Kind], f.SFID)
	}
	return out
}

func TestAFreshlyLoadedTableVerifies(t *testing.T) {
	t.Parallel()
	for _, bulk := range []int{10000, 0} { // the REST and the Bulk API paths
		f := setup(t, "", bulk)
		v, fs := f.verify(t)
		if v.State != verify.Verified || v.Drift() != 0 || len(fs) != 0 || *v.SFRecords != int64(f.b.Org.Count("Account")) || *v.PGRows != *v.SFRecords {
			t.Fatalf("bulk above %d: %+v %+v", bulk, v, fs)
		}
	}
}

// Drift injected on both sides is found, by kind, and repair makes the table match again without
// writing anything to Salesforce.
func TestVerificationFindsAndRepairsDriftOnBothSides(t *testing.T) {
	t.Parallel()
	for _, bulk := range []int{10000, 0} {
		f := setup(t, "", bulk)
		sfids := f.oldest(t, 4)
		long := time.Now().Add(-2 * time.Hour) // after the records' stamps, before the mark: no poll would read it
		// Postgres, behind pgforce's back: a row deleted, a row made stale, a row whose record never existed.
		f.behindTheBack(t, `DELETE FROM $table WHERE sfid = '`+sfids[0]+`'`)
		f.behindTheBack(t, `UPDATE $table SET systemmodstamp = systemmodstamp - interval '1 day', name = 'stale' WHERE sfid = '`+sfids[1]+`'`)
		f.behindTheBack(t, `INSERT INTO $table (sfid, name, systemmodstamp) VALUES ('001000000000GHOST', 'ghost', now() - interval '2 days')`)
		// Salesforce, committed late with old stamps, so no poll would ever read them.
		created, err := f.b.Org.CreateCommittedLate("Account", map[string]any{"Name": "Late Co"}, long)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.b.Org.UpdateCommittedLate("Account", sfids[2], map[string]any{"Name": "Renamed late"}, long.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if err := f.b.Org.DeleteCommittedLate("Account", sfids[3], long.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		writesBefore := f.b.Org.APICalls()["composite"] + f.b.Org.APICalls()["sobject"]

		v, fs := f.verify(t)
		got := kinds(fs)
		if v.State != verify.DriftFound || v.Missing != 2 || v.Stale != 2 || v.Extra != 2 ||
			!has(got[verify.Missing], sfids[0], created) || !has(got[verify.Stale], sfids[1], sfids[2]) || !has(got[verify.Extra], "001000000000GHOST", sfids[3]) {
			t.Fatalf("bulk above %d: %+v %v", bulk, v, got)
		}

		if _, err := verify.RequestRepair(f.b.Ctx, f.b.Pool, v.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if _, err := verify.Repair(f.b.Ctx, f.env, f.tbl, v.ID, "test"); err != nil {
			t.Fatal(err)
		}
		if v, _ = verify.Load(f.b.Ctx, f.b.Pool, v.ID); v.State != verify.Repaired || v.Repaired != 6 {
			t.Fatalf("repair: %+v", v)
		}
		if again, fs := f.verify(t); again.State != verify.Verified || len(fs) != 0 {
			t.Fatalf("after repair: %+v %v", again, kinds(fs))
		}
		var name string
		if err := f.b.Pool.QueryRow(f.b.Ctx, `SELECT name FROM `+f.b.Conn.Schema+`.account WHERE sfid = $1`, sfids[1]).Scan(&name); err != nil || name == "stale" {
			t.Fatalf("the stale row has its record's values again: %q %v", name, err)
		}
		if n := f.b.Org.APICalls()["composite"] + f.b.Org.APICalls()["sobject"]; n != writesBefore {
			t.Fatalf("repair wrote to Salesforce: %d calls", n-writesBefore)
		}
		var captured int
		if err := f.b.Pool.QueryRow(f.b.Ctx, `SELECT count(*) FROM `+f.b.Conn.Schema+`._trigger_log`).Scan(&captured); err != nil || captured != 0 {
			t.Fatalf("repair's writes were captured for Salesforce: %d %v", captured, err)
		}
	}
}

// What is in flight is not drift: records Salesforce changed after the table's high-water mark, and
// rows whose changes wait to be written.
func TestChangesInFlightAreNotDrift(t *testing.T) {
	t.Parallel()
	f := setup(t, "", 10000)
	sfids := f.oldest(t, 2)
	if _, err := f.b.Org.CreateAsUser("Account", map[string]any{"Name": "New since the poll"}); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Org.UpdateAsUser("Account", sfids[0], map[string]any{"Name": "Changed since the poll"}); err != nil {
		t.Fatal(err)
	}
	if err := f.b.Org.DeleteAsUser("Account", sfids[1]); err != nil {
		t.Fatal(err)
	}
	v, fs := f.verify(t)
	if v.State != verify.Verified || len(fs) != 0 || v.InFlight < 3 {
		t.Fatalf("%+v %v", v, kinds(fs))
	}
}

func TestRecordsThatLeftTheFilterAreExtraOnceTheirChangeIsPolled(t *testing.T) {
	t.Parallel()
	f := setup(t, "Industry != 'Retail'", 10000)
	other := f.oldest(t, 1)[0] // Energy or Banking, not Retail: the table has none

	long := time.Now().Add(-2 * time.Hour) // after the records' stamps, before the mark: no poll would read it
	if err := f.b.Org.UpdateCommittedLate("Account", other, map[string]any{"Industry": "Retail"}, long); err != nil {
		t.Fatal(err)
	}
	v, fs := f.verify(t)
	if got := kinds(fs); v.State != verify.DriftFound || !has(got[verify.Extra], other) || v.Drift() != 1 {
		t.Fatalf("a row whose record no longer matches the filter: %+v %v", v, got)
	}
}

func TestTheCountCheckAllowsForChangesInFlight(t *testing.T) {
	t.Parallel()
	f := setup(t, "", 10000)
	m, _ := f.b.Admin.Mappings.Get(f.b.Ctx, f.m.ID)
	cc, err := verify.Count(f.b.Ctx, f.env, f.tbl, m)
	if err != nil || cc.Drift != 0 || cc.SFRecords != cc.PGRows {
		t.Fatalf("a synced table: %+v %v", cc, err)
	}
	if _, err := f.b.Org.CreateAsUser("Account", map[string]any{"Name": "New since the poll"}); err != nil {
		t.Fatal(err)
	}
	if cc, err = verify.Count(f.b.Ctx, f.env, f.tbl, m); err != nil || cc.Drift != 0 || cc.Changed < 1 {
		t.Fatalf("one record created after the mark is in flight: %+v %v", cc, err)
	}
	f.behindTheBack(t, `DELETE FROM $table WHERE sfid IN (SELECT sfid FROM $table LIMIT 3)`)
	if cc, err = verify.Count(f.b.Ctx, f.env, f.tbl, m); err != nil || cc.Drift != 4 {
		t.Fatalf("three rows deleted behind pgforce's back: %+v %v", cc, err)
	}
}

func has(xs []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, x := range xs {
			found = found || x == w
		}
		if !found {
			return false
		}
	}
	return true
}

// A verification Salesforce cannot answer fails with Salesforce's reason and changes nothing; one
// interrupted (shutdown, a lost lease) goes back to REQUESTED, and one left running by a process that
// died is requeued by the next syncer.
func TestVerificationsThatCannotFinishSayWhyAndStartAgain(t *testing.T) {
	t.Parallel()
	f := setup(t, "", 10000)
	badFilter := f.tbl
	badFilter.Filter = "Nmae = 'x'"
	v, _ := verify.Request(f.b.Ctx, f.b.Pool, f.b.Conn.ID, f.m.ID, "test")
	if _, err := verify.Run(f.b.Ctx, f.env, badFilter, v.ID, "test"); err == nil {
		t.Fatal("a filter Salesforce refuses verified")
	}
	if v, _ = verify.Load(f.b.Ctx, f.b.Pool, v.ID); v.State != verify.Failed || !strings.Contains(v.StateReason, "Nmae") {
		t.Fatalf("bad filter: %+v", v)
	}

	v, _ = verify.Request(f.b.Ctx, f.b.Pool, f.b.Conn.ID, f.m.ID, "test")
	if _, err := verify.Request(f.b.Ctx, f.b.Pool, f.b.Conn.ID, f.m.ID, "test"); err == nil || !strings.Contains(err.Error(), "already waiting or running") {
		t.Fatalf("a second request while one is open: %v", err)
	}
	ctx, cancel := context.WithCancel(f.b.Ctx)
	cancel()
	if _, err := verify.Run(ctx, f.env, f.tbl, v.ID, "test"); err == nil {
		t.Fatal("an interrupted verification finished")
	}
	if v, _ = verify.Load(f.b.Ctx, f.b.Pool, v.ID); v.State != verify.Requested {
		t.Fatalf("interrupted: %+v", v)
	}

	// A process died while verifying: the next syncer of the connection requeues and finishes it.
	f.b.Exec(`UPDATE verifications SET state = 'VERIFYING', holder = 'dead-instance' WHERE id = $1`, v.ID)
	if n, err := verify.Restart(f.b.Ctx, f.b.Pool, f.b.Conn.ID); err != nil || n != 1 {
		t.Fatalf("restart: %d %v", n, err)
	}
	pending, err := verify.Pending(f.b.Ctx, f.b.Pool, f.b.Conn.ID)
	if err != nil || len(pending) != 1 || pending[0].ID != v.ID || !strings.Contains(pending[0].StateReason, "dead-instance") {
		t.Fatalf("pending after restart: %+v %v", pending, err)
	}
	if _, err := verify.Run(f.b.Ctx, f.env, f.tbl, v.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if v, _ = verify.Load(f.b.Ctx, f.b.Pool, v.ID); v.State != verify.Verified {
		t.Fatalf("after restart: %+v", v)
	}

	// The object is removed from Salesforce: Salesforce's own reason is recorded.
	f.b.Org.RemoveObject("Account")
	v, _ = verify.Request(f.b.Ctx, f.b.Pool, f.b.Conn.ID, f.m.ID, "test")
	if _, err := verify.Run(f.b.Ctx, f.env, f.tbl, v.ID, "test"); err == nil {
		t.Fatal("an object gone from Salesforce verified")
	}
	if v, _ = verify.Load(f.b.Ctx, f.b.Pool, v.ID); v.State != verify.Failed || !strings.Contains(v.StateReason, "INVALID_TYPE") || v.FinishedAt == nil {
		t.Fatalf("object gone: %+v", v)
	}
}

// The schedule asks for a mapping once its last verification is older than the period, and never
// while one is open; a period of 0 turns it off.
func TestTheScheduleIsDueOncePerPeriod(t *testing.T) {
	t.Parallel()
	f := setup(t, "", 10000)
	ids := []int64{f.m.ID}
	if due, err := verify.Due(f.b.Ctx, f.b.Pool, f.b.Conn.ID, 24*time.Hour, ids); err != nil || len(due) != 1 {
		t.Fatalf("never verified: %v %v", due, err)
	}
	if due, _ := verify.Due(f.b.Ctx, f.b.Pool, f.b.Conn.ID, 0, ids); len(due) != 0 {
		t.Fatalf("schedule off: %v", due)
	}
	v, _ := f.verify(t)
	if due, _ := verify.Due(f.b.Ctx, f.b.Pool, f.b.Conn.ID, 24*time.Hour, ids); len(due) != 0 {
		t.Fatalf("verified just now: %v", due)
	}
	f.b.Exec(`UPDATE verifications SET requested_at = now() - interval '25 hours' WHERE id = $1`, v.ID)
	if due, _ := verify.Due(f.b.Ctx, f.b.Pool, f.b.Conn.ID, 24*time.Hour, ids); len(due) != 1 {
		t.Fatalf("verified a day ago: %v", due)
	}
}
