package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store"
)

// A mapping is DATA_SYNCED only through a completed load: the store refuses Loaded, Polled and the
// catch-up Recover for a table whose last load did not finish, naming the precondition.
func TestTheStoreRefusesToCallATableWithoutACompletedLoadSynced(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	apply := func(tr mapping.Transition) error {
		return store.Tx(b.Ctx, b.Pool, func(tx pgx.Tx) error {
			_, err := mapping.Apply(b.Ctx, tx, m.ID, tr, "test")
			return err
		})
	}
	if err := apply(mapping.Loaded); !failure.Is(err, failure.Conflict) || !strings.Contains(failure.Message(err), "does not hold a completed load") {
		t.Fatalf("Loaded without a load: %v", err)
	}
	b.Exec(`UPDATE mappings SET state = 'POLLING_SF_CHANGES' WHERE id = $1`, m.ID)
	if err := apply(mapping.Polled); !failure.Is(err, failure.Conflict) {
		t.Fatalf("Polled without a load: %v", err)
	}
	b.Exec(`UPDATE mappings SET state = 'SYSTEM_ERROR' WHERE id = $1`, m.ID)
	if err := apply(mapping.RecoverPolling); !failure.Is(err, failure.Conflict) {
		t.Fatalf("a catch-up recovery without a load: %v", err)
	}
	if err := apply(mapping.RecoverLoad); err != nil {
		t.Fatalf("resuming the load: %v", err)
	}
	b.Exec(`UPDATE mappings SET state = 'SYSTEM_ERROR', watermark = now(), load_started_at = now() - interval '1 minute', load_finished_at = now() WHERE id = $1`, m.ID)
	if err := apply(mapping.RecoverPolling); err != nil {
		t.Fatalf("a catch-up recovery of a loaded table: %v", err)
	}
}

// The case: a reload fails after the table was emptied; Recover From Error resumes the load
// instead of calling the empty table DATA_SYNCED, and the mapping is synced only once every record
// is back.
func TestRecoverResumesALoadThatDidNotFinish(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	records := b.Org.Count("Account")
	if err := b.Org.InjectFault(sforg.Fault{Path: "/query", Status: 400, Code: "INVALIDJOB", Message: "Query jobs are disabled", Count: -1}); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.SystemError)
	if n := b.Count("account", ""); n != 0 {
		t.Fatalf("the reload emptied the table: %d rows", n)
	}
	b.Org.ClearFaults()
	if err := b.Admin.Connections.Recover(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if n := b.Count("account", ""); n != records {
		t.Fatalf("DATA_SYNCED with %d of %d rows", n, records)
	}
	var recovered int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM events WHERE mapping_id = $1 AND from_state = 'SYSTEM_ERROR' AND to_state = 'RELOAD_TABLE'`, m.ID).Scan(&recovered); err != nil || recovered != 1 {
		t.Fatalf("the recovery resumed the load: %d %v", recovered, err)
	}
	var lie int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM events WHERE mapping_id = $1 AND from_state = 'SYSTEM_ERROR' AND to_state = 'DATA_SYNCED'`, m.ID).Scan(&lie); err != nil || lie != 0 {
		t.Fatalf("SYSTEM_ERROR went straight to DATA_SYNCED %d times", lie)
	}
}

// Recovering one mapping whose table is loaded catches it up at once, showing POLLING_SF_CHANGES
// until the poll is done; a healthy mapping has nothing to recover.
func TestAMappingRecoversOnItsOwnAndCatchesUpAtOnce(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, PollInterval: 3600e9})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	if _, err := b.Admin.Mappings.Recover(b.Ctx, enginetest.Admin, m.ID); !failure.Is(err, failure.Conflict) {
		t.Fatalf("recovering a synced mapping: %v", err)
	}
	b.Exec(`UPDATE mappings SET state = 'SYSTEM_ERROR', state_reason = 'injected' WHERE id = $1`, m.ID)
	id, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Created while stopped"})
	if err != nil {
		t.Fatal(err)
	}
	to, err := b.Admin.Mappings.Recover(b.Ctx, enginetest.Admin, m.ID)
	if err != nil || to != mapping.PollingSFChanges {
		t.Fatalf("recover: %s %v", to, err)
	}
	// Polls are an hour apart here: only the recovery's own catch-up can bring the record in.
	b.Eventually("the catch-up poll", 20e9, func() (bool, string) {
		n := b.Count("account", "sfid = $1", id)
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return n == 1 && got.State == mapping.DataSynced, fmt.Sprint(n, got.State)
	})
}

// Editing a mapping whose load never finished (aborted) loads it, rather than calling it synced.
func TestEditingAnAbortedMappingLoadsIt(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	_ = b.Org.InjectFault(sforg.Fault{Path: "/query", Latency: 2e9, Count: -1})
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	if err := b.Admin.Mappings.Abort(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	b.Org.ClearFaults()
	b.MappingState(m.ID, mapping.Aborted)
	cfg := m.Config.Clone()
	cfg.Fields["Phone"] = struct{}{}
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, cfg, nil); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if n := b.Count("account", "phone IS NOT NULL OR phone IS NULL"); n != b.Org.Count("Account") {
		t.Fatalf("after the edit the table holds %d of %d records", n, b.Org.Count("Account"))
	}
}

// A reload, an edit or a delete takes the table before the mapping's row, as polls do (they write the
// table, then the mapping's bookkeeping): an admin change that lands while a poll is merging waits for
// it, and neither fails with a deadlock.
func TestAnAdminChangeDuringAPollWaitsForItInsteadOfDeadlocking(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.Exec(`UPDATE mappings SET state = 'DATA_SYNCED', watermark = now(), load_started_at = now(), load_finished_at = now() WHERE id = $1`, m.ID)
	poll, err := b.Pool.Begin(b.Ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer poll.Rollback(b.Ctx)
	if _, err := poll.Exec(b.Ctx, `SET LOCAL xmlbinary = 'hex'`); err != nil {
		t.Fatal(err)
	}
	if _, err := poll.Exec(b.Ctx, `INSERT INTO `+b.Schema+`.account (sfid, name) VALUES ('001000000000POLLA', 'merged by a poll')`); err != nil {
		t.Fatal(err)
	}
	reloaded := make(chan error, 1)
	go func() { reloaded <- b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID) }()
	b.Eventually("the reload to wait for the poll's table lock", 10e9, func() (bool, string) {
		var waiting int
		err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = to_regclass($1)`, b.Schema+".account").Scan(&waiting)
		return err == nil && waiting > 0, fmt.Sprint(waiting, err)
	})
	// The poll's bookkeeping: it updates the mapping's row while holding the table.
	if _, err := poll.Exec(b.Ctx, `UPDATE mappings SET last_poll_at = now() WHERE id = $1`, m.ID); err != nil {
		t.Fatalf("the poll deadlocked with the reload: %v", err)
	}
	if err := poll.Commit(b.Ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-reloaded; err != nil {
		t.Fatalf("reload: %v", err)
	}
	if n := b.Count("account", ""); n != 0 {
		t.Fatalf("the reload emptied the table after the poll: %d rows", n)
	}
}
