package engine_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/admin"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
)

func TestEditAddsAndDropsColumnsAndBackfillsTheNewOnes(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadOnly, "LastName", "Email", "Title")
	b.MappingState(m.ID, mapping.DataSynced)

	cfg := m.Config.Clone()
	delete(cfg.Fields, "Title")
	cfg.Fields["Phone"], cfg.Fields["Birthdate"] = struct{}{}, struct{}{}
	cfg.Indexes["Email"] = mapping.IndexOption{}
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, cfg, nil); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	var withPhone, title int
	_ = b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM `+b.Schema+`.contact WHERE phone IS NOT NULL AND birthdate IS NOT NULL`).Scan(&withPhone)
	if withPhone != b.Org.Count("Contact") {
		t.Fatalf("backfilled %d of %d rows", withPhone, b.Org.Count("Contact"))
	}
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'contact' AND column_name = 'title'`, b.Schema).Scan(&title); err != nil || title != 0 {
		t.Fatalf("title column still there: %d %v", title, err)
	}
	var idx int
	_ = b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'hc_idx_contact_email'`, b.Schema).Scan(&idx)
	if idx != 1 {
		t.Fatal("the Indexed field got its index")
	}
}

func TestFieldTypeChangeIsDetectedAndFixedByRecreating(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name", "AccountNumber", "Phone")
	b.MappingState(m.ID, mapping.DataSynced)
	_ = b.Org.ChangeField("Account", "Phone", func(f *sforg.FieldDef) { f.Length = 80 })
	_ = b.Org.ChangeField("Account", "AccountNumber", func(f *sforg.FieldDef) { f.Type = "double" })
	if err := b.Admin.Mappings.CheckSchema(b.Ctx, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	m, _ = b.Admin.Mappings.Get(b.Ctx, m.ID)
	if len(m.Drift) != 2 {
		t.Fatalf("drift = %+v", m.Drift)
	}
	for _, d := range m.Drift {
		switch d.Field {
		case "Phone":
			if !d.Widen || !strings.Contains(d.Fix, "Save") {
				t.Errorf("length change: %+v", d)
			}
		case "AccountNumber":
			if d.Widen || !strings.Contains(d.Fix, "deselect the field and save, then select it again") {
				t.Errorf("type change: %+v", d)
			}
		}
	}
	// Edit + Save widens Phone; the type change is refused until recreated.
	_, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, m.Config, nil)
	if err == nil || !strings.Contains(err.Error(), "remove the field, save, then add it back") {
		t.Fatalf("type change without recreate: %v", err)
	}
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, m.Config, []string{"AccountNumber"}); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	m, _ = b.Admin.Mappings.Get(b.Ctx, m.ID)
	if len(m.Drift) != 0 {
		t.Fatalf("drift after the fix: %+v", m.Drift)
	}
	var typ string
	_ = b.Pool.QueryRow(b.Ctx, `SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'account' AND column_name = 'accountnumber'`, b.Schema).Scan(&typ)
	if typ != "double precision" {
		t.Fatalf("accountnumber is %s", typ)
	}
}

func TestReloadTruncatesDiscardsPendingWritesAndLoadsAgain(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 5})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Lead", mapping.ReadWrite, "LastName", "Company")
	b.MappingState(m.ID, mapping.DataSynced)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Exec(`UPDATE $schema.lead SET company = 'Changed in PG'`)
	if n, _ := b.Admin.Mappings.PendingWrites(b.Ctx, m.ID); n == 0 {
		t.Fatal("paused: changes wait in the trigger log")
	}
	var maxID int
	_ = b.Pool.QueryRow(b.Ctx, `SELECT max(id) FROM `+b.Schema+`.lead`).Scan(&maxID)
	if err := b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Admin.Mappings.PendingWrites(b.Ctx, m.ID); n != 0 {
		t.Fatalf("reload destroys pending writes, %d left", n)
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if n := b.Count("lead", "company = 'Changed in PG'"); n != 0 {
		t.Fatalf("%d rows kept the discarded change", n)
	}
	if n := b.Count("lead", ""); n != b.Org.Count("Lead") {
		t.Fatalf("reloaded %d of %d", n, b.Org.Count("Lead"))
	}
	var minID int
	_ = b.Pool.QueryRow(b.Ctx, `SELECT min(id) FROM `+b.Schema+`.lead`).Scan(&minID)
	if minID != 1 {
		t.Fatalf("reload assigns new id values from 1, got %d (was up to %d)", minID, maxID)
	}
	b.ConnState(connection.Idle)
}

func TestAbortAMappingMidLoadThenDeleteIt(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	if err := b.Org.Generate("Account", 3000, 1); err != nil {
		t.Fatal(err)
	}
	// Slow the org down so the load is still running when we abort.
	_ = b.Org.InjectFault(sforg.Fault{Path: "/query", Latency: 400 * time.Millisecond, Count: -1})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.ReloadTable)
	err := b.Admin.Mappings.Delete(b.Ctx, enginetest.Admin, m.ID)
	if !failure.Is(err, failure.Conflict) || !strings.Contains(failure.Message(err), "Abort it before deleting it") {
		t.Fatalf("delete while loading: %v", err)
	}
	start := time.Now()
	if err := b.Admin.Mappings.Abort(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.Aborted)
	// The load stops: no rows are committed.
	b.Eventually("the load to stop", 2*time.Second, func() (bool, string) {
		var active int
		_ = b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'COPY%account%' AND state = 'active'`).Scan(&active)
		return active == 0, fmt.Sprint(active)
	})
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("abort took %v", took)
	}
	if n := b.Count("account", ""); n != 0 {
		t.Fatalf("an aborted load committed %d rows", n)
	}
	if err := b.Admin.Mappings.Abort(b.Ctx, enginetest.Admin, m.ID); !failure.Is(err, failure.Conflict) {
		t.Fatalf("abort twice: %v", err)
	}
	b.Org.ClearFaults()
	if err := b.Admin.Mappings.Delete(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	var exists bool
	_ = b.Pool.QueryRow(b.Ctx, `SELECT to_regclass($1) IS NOT NULL`, b.Schema+".account").Scan(&exists)
	if exists {
		t.Fatal("delete drops the table")
	}
	if _, err := b.Admin.Mappings.Get(b.Ctx, m.ID); !failure.Is(err, failure.NotFound) {
		t.Fatalf("mapping after delete: %v", err)
	}
}

func TestPauseOnlyFromIdleCapturesWhilePausedAndResumeCatchesUp(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 2})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Contact", mapping.ReadWrite, "LastName", "Email")
	b.MappingState(m.ID, mapping.DataSynced)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); !failure.Is(err, failure.Conflict) || !strings.Contains(failure.Message(err), "already paused") {
		t.Fatalf("pause twice: %v", err)
	}
	// While paused: database changes wait in the trigger log, Salesforce changes are not polled.
	workers, writers := b.Signals().WorkerRound.Mark(), b.Signals().WriterRound.Mark()
	b.Exec(`INSERT INTO $schema.contact (lastname, email) VALUES ('WhilePaused', 'p@example.com')`)
	sfID, _ := b.Org.CreateAsUser("Contact", map[string]any{"LastName": "MadeInSalesforce"})
	// The worker looks for two polling intervals' worth of rounds, the writer twice: neither acts.
	enginetest.Rounds(t, b.Signals().WorkerRound, "the worker's rounds while paused", workers, int(2*b.Options.PollInterval/b.Options.Tick), m.ID)
	enginetest.Rounds(t, b.Signals().WriterRound, "the writer's rounds while paused", writers, 2, b.Conn.ID)
	if b.Count("contact", "lastname = 'MadeInSalesforce'") != 0 {
		t.Fatal("a paused connection polled Salesforce")
	}
	if b.Count("_trigger_log", "state = 'NEW'") != 1 {
		t.Fatal("the insert waits in the trigger log as NEW")
	}
	if err := b.Admin.Connections.SetWriteAlgorithm(b.Ctx, enginetest.Admin, b.Conn.ID, connection.Merged); err != nil {
		t.Fatalf("write algorithm while paused: %v", err)
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("both sides to catch up", 10*time.Second, func() (bool, string) {
		a := b.Count("contact", "lastname = 'MadeInSalesforce' AND sfid = $1", sfID)
		c := b.Count("contact", "lastname = 'WhilePaused' AND sfid IS NOT NULL")
		return a == 1 && c == 1, fmt.Sprint(a, c)
	})
	b.ConnState(connection.Idle)
	if err := b.Admin.Connections.SetWriteAlgorithm(b.Ctx, enginetest.Admin, b.Conn.ID, connection.Ordered); !failure.Is(err, failure.Conflict) || !strings.Contains(failure.Message(err), "Pause the connection first") {
		t.Fatalf("write algorithm while running: %v", err)
	}
}

func TestRevokedAuthorizationNeedsReauthenticationThenRecovers(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 2})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	b.Org.ExpireTokens()
	b.Org.RevokeRefreshTokens()
	b.ConnState(connection.NeedAuthentication)
	err := b.Admin.Connections.Recover(b.Ctx, enginetest.Admin, b.Conn.ID)
	if !failure.Is(err, failure.Unauthenticated) || !strings.Contains(failure.Message(err), "re-authorize") {
		t.Fatalf("recover without re-authorizing: %v", err)
	}
	if _, err := b.Admin.Connections.AuthorizeWithPassword(b.Ctx, enginetest.Admin, b.Conn.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Idle)
	id, _ := b.Org.CreateAsUser("Account", map[string]any{"Name": "After reauth"})
	b.Eventually("sync after re-authorization", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", id) == 1, "" })
}

func TestOrphanedMappingIsDetectedAndRemoved(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	_ = b.Org.AddObject("Gadget__c", "Gadget", sforg.FieldDef{Name: "Color__c", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true})
	_, _ = b.Org.CreateAsUser("Gadget__c", map[string]any{"Color__c": "red"})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Gadget__c", mapping.ReadOnly, "Color__c")
	b.MappingState(m.ID, mapping.DataSynced)
	b.Org.RemoveObject("Gadget__c")
	if err := b.Admin.Mappings.CheckSchema(b.Ctx, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	orphans, _ := b.Admin.Mappings.Orphans(b.Ctx, b.Conn.ID)
	if len(orphans) != 1 || orphans[0].State != mapping.BadConfig {
		t.Fatalf("orphans %+v", orphans)
	}
	if n, err := b.Admin.Mappings.RemoveOrphans(b.Ctx, enginetest.Admin, b.Conn.ID, false); n != 1 || err != nil {
		t.Fatalf("remove orphans: %d %v", n, err)
	}
	if b.Count("gadget__c", "") != 1 {
		t.Fatal("without confirmation the table and its data are kept")
	}
	if _, err := b.Admin.Mappings.RemoveOrphans(b.Ctx, enginetest.Admin, b.Conn.ID, true); !failure.Is(err, failure.Conflict) {
		t.Fatalf("nothing left to remove: %v", err)
	}
}

func TestExportThenImportOnAnotherConnection(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 4})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Invoice__c", mapping.ReadWrite, "Amount__c", "External_Id__c", "Account__r.External_Id__c", "Status__c")
	b.MappingState(m.ID, mapping.DataSynced)
	cfg := m.Config.Clone()
	cfg.UpsertField = "External_Id__c"
	cfg.Indexes["Status__c"] = mapping.IndexOption{}
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, cfg, nil); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	raw, err := b.Admin.Configuration.Export(b.Ctx, b.Conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"version": 1`, `"object_name": "Invoice__c"`, `"upsert_field": "External_Id__c"`, `"Account__r.External_Id__c": {}`, `"sf_polling_seconds": 600`, `"access": "read_write"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("export lacks %s:\n%s", want, raw)
		}
	}
	second, err := b.Admin.Connections.Create(b.Ctx, enginetest.Admin, admin.NewConnection{Schema: b.Schema + "2", OrgType: connection.Simulated, LoginURL: b.Srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Engine.Stop(); b.Exec("DROP SCHEMA IF EXISTS " + b.Schema + "2 CASCADE") })
	if _, err := b.Admin.Connections.AuthorizeWithPassword(b.Ctx, enginetest.Admin, second.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the second connection to be IDLE", 20*time.Second, func() (bool, string) {
		c, _ := b.Admin.Connections.Get(b.Ctx, second.ID)
		return c.State == connection.Idle, string(c.State)
	})
	plan, err := b.Admin.Configuration.PlanImport(b.Ctx, second.ID, raw)
	if err != nil || len(plan.Add) != 1 || len(plan.Problems) != 0 {
		t.Fatalf("plan %+v %v", plan, err)
	}
	if _, err := b.Admin.Configuration.ApplyImport(b.Ctx, enginetest.Admin, second.ID, raw); err != nil {
		t.Fatal(err)
	}
	ms, _ := b.Admin.Mappings.List(b.Ctx, second.ID)
	if _, indexed := ms[0].Config.Indexes["Status__c"]; len(ms) != 1 || ms[0].Config.UpsertField != "External_Id__c" || !indexed {
		t.Fatalf("imported %+v", ms)
	}
	b.MappingState(ms[0].ID, mapping.DataSynced)
	// Invalid files report every problem with its JSON path and change nothing.
	bad := strings.Replace(strings.Replace(string(raw), `"Amount__c": {}`, `"Amount__c": {}, "Bogus__c": {}`, 1), `"sf_polling_seconds": 600`, `"sf_polling_seconds": 5`, 1)
	_, err = b.Admin.Configuration.ApplyImport(b.Ctx, enginetest.Admin, second.ID, []byte(bad))
	var ps mapping.Problems
	if !errors.As(err, &ps) || len(ps) != 2 || !strings.Contains(err.Error(), "mappings[0].config.fields.Bogus__c") || !strings.Contains(err.Error(), "mappings[0].config.sf_polling_seconds") {
		t.Fatalf("bad import: %v", err)
	}
	if _, err := b.Admin.Configuration.PlanImport(b.Ctx, second.ID, []byte(`{"mappings": [`)); err == nil || !strings.Contains(err.Error(), "line 1, column") {
		t.Fatalf("syntax error location: %v", err)
	}
}

func TestDatabaseRollbackIsDetectedAndReloadRecovers(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 5})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Lead", mapping.ReadOnly, "LastName", "Company")
	b.MappingState(m.ID, mapping.DataSynced)
	// A first change polled normally: the worker now knows the high-water mark it stored.
	id, err := b.Org.CreateAsUser("Lead", map[string]any{"LastName": "Before", "Company": "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the first change", 10*time.Second, func() (bool, string) { return b.Count("lead", "sfid = $1", id) == 1, "" })
	// The database is restored to an earlier point: the stored high-water mark goes back an hour.
	b.Exec(`UPDATE mappings SET watermark = watermark - interval '1 hour' WHERE id = ` + fmt.Sprint(m.ID))
	if _, err := b.Org.CreateAsUser("Lead", map[string]any{"LastName": "After", "Company": "Acme"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the rollback to be flagged", 10*time.Second, func() (bool, string) {
		got, err := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return err == nil && got.State.Severity() == "bad" && strings.Contains(got.StateReason, "rolled back"), string(got.State) + " " + got.StateReason
	})
	if err := b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if n := b.Count("lead", ""); n != b.Org.Count("Lead") {
		t.Fatalf("after the reload %d rows, %d records", n, b.Org.Count("Lead"))
	}
}

// Issue 21 #6: a database restored to an earlier point while pgforce was stopped takes everything it
// holds back together, the high-water mark and any record of it included, so the restarted worker
// remembers nothing to compare with. The restore is told by the database's own history: here a dump
// of the schema restored over it (the table is recreated with its older rows, the mapping row gets
// its older mark back).
func TestADatabaseRestoredWhilePgforceWasStoppedIsDetectedAtRestart(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 5})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Lead", mapping.ReadOnly, "LastName", "Company")
	b.MappingState(m.ID, mapping.DataSynced)
	// The dump: the table's rows and the mapping's bookkeeping as they are now.
	b.Exec(`CREATE TABLE $schema.lead_dump (LIKE $schema.lead INCLUDING ALL)`)
	b.Exec(`INSERT INTO $schema.lead_dump SELECT * FROM $schema.lead`)
	b.Exec(`CREATE TABLE mapping_dump AS SELECT * FROM mappings WHERE id = $1`, m.ID)
	id, err := b.Org.CreateAsUser("Lead", map[string]any{"LastName": "After the dump", "Company": "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	b.Eventually("the change after the dump", 10*time.Second, func() (bool, string) { return b.Count("lead", "sfid = $1", id) == 1, "" })
	b.Engine.Stop()
	// The restore: the table is recreated from the dump, the mapping row gets its older mark back.
	b.Exec(`DO $$ BEGIN EXECUTE format('ALTER SEQUENCE %s OWNED BY $schema.lead_dump.id', pg_get_serial_sequence('$schema.lead', 'id')); END $$`)
	b.Exec(`DROP TABLE $schema.lead`)
	b.Exec(`ALTER TABLE $schema.lead_dump RENAME TO lead`)
	if err := store.Tx(b.Ctx, b.Pool, func(tx pgx.Tx) error { // the dump has the table's triggers too
		return triggerlog.InstallTableTriggers(b.Ctx, tx, b.Schema, "lead", true)
	}); err != nil {
		t.Fatal(err)
	}
	b.Exec(`UPDATE mappings SET watermark = d.watermark, last_poll_at = d.last_poll_at, synced_in = d.synced_in FROM mapping_dump d WHERE mappings.id = d.id`)
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the rollback to be flagged after the restart", 20*time.Second, func() (bool, string) {
		got, err := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return err == nil && got.State.Severity() == "bad" && strings.Contains(got.StateReason, "rolled back"), string(got.State) + " " + got.StateReason
	})
	if n := b.Count("lead", "sfid = $1", id); n != 0 {
		t.Fatal("the restored table was polled as if nothing happened")
	}
	if err := b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if n := b.Count("lead", ""); n != b.Org.Count("Lead") {
		t.Fatalf("after the reload %d rows, %d records", n, b.Org.Count("Lead"))
	}
}

// A connection's share of the org's daily API allowance (Heroku Connect's sf_max_daily_api_calls) is
// respected: once Salesforce reports usage at the share, polling waits instead of spending more.
func TestPollingStopsAtTheConnectionsAPIAllowance(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 5})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Lead", mapping.ReadOnly, "LastName", "Company")
	b.MappingState(m.ID, mapping.DataSynced)
	b.Exec(fmt.Sprintf(`UPDATE connections SET max_daily_api_calls = 500 WHERE id = %d`, b.Conn.ID))
	b.Org.SetAPIUsage(600)                                                                // other integrations used the org today
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil { // the syncer re-reads the connection
		t.Fatal(err)
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.Eventually("polling to stop at the allowance", 20*time.Second, func() (bool, string) {
		var n int
		_ = b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM events WHERE mapping_id = $1 AND kind = 'throttle' AND message LIKE '%500 calls%'`, m.ID).Scan(&n)
		return n > 0, ""
	})
	id, err := b.Org.CreateAsUser("Lead", map[string]any{"LastName": "Unpolled", "Company": "Co"})
	if err != nil {
		t.Fatal(err)
	}
	calls := b.Org.APICalls()["query"]
	// Several polling intervals pass (300 ms each here); the engine's own state shows it is alive.
	b.Eventually("a few polling intervals", 5*time.Second, func() (bool, string) {
		c, _ := b.Admin.Connections.Get(b.Ctx, b.Conn.ID)
		return time.Since(c.StateChangedAt) > 1500*time.Millisecond, ""
	})
	if b.Count("lead", "sfid = $1", id) != 0 || b.Org.APICalls()["query"] != calls {
		t.Fatal("polled past the connection's API allowance")
	}
}

// Pausing while a write batch is in flight does not fail: the connection is BUSY (nothing new
// starts), the batch finishes and is recorded, then the connection is PAUSED. Resume cancels a
// pause that has not finished yet.
func TestPauseDuringAWriteWaitsForItAsBusy(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	readWriteInvoices(b, false)
	holdWrite := func() {
		t.Helper()
		if err := b.Org.InjectFault(sforg.Fault{Method: "POST", Path: "composite/sobjects", Latency: 1500 * time.Millisecond}); err != nil {
			t.Fatal(err)
		}
	}
	holdWrite()
	b.Exec(`INSERT INTO $schema.invoice__c (amount__c, status__c) VALUES (101.25, 'Draft')`)
	b.ConnState(connection.PollingDBChanges)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatalf("pause while writing: %v", err)
	}
	if c, _ := b.Admin.Connections.Get(b.Ctx, b.Conn.ID); c.State != connection.Busy {
		t.Fatalf("pausing during a write: connection is %s, want BUSY", c.State)
	}
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); !failure.Is(err, failure.Conflict) || !strings.Contains(failure.Message(err), "already pausing") {
		t.Fatalf("pause twice: %v", err)
	}
	b.ConnState(connection.Paused)
	if n := b.Count("invoice__c", "amount__c = 101.25 AND sfid IS NOT NULL"); n != 1 {
		t.Fatal("the write in flight was not finished and recorded before PAUSED")
	}
	b.Exec(`INSERT INTO $schema.invoice__c (amount__c, status__c) VALUES (102.25, 'Draft')`)
	if s := logStates(b); s["NEW"] != 1 {
		t.Fatalf("paused: the change should wait in the trigger log, %v", s)
	}

	// Resume while BUSY cancels the pause: back to RECOVERY, then IDLE with everything written.
	holdWrite()
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Recovery)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatalf("pause while catching up: %v", err)
	}
	if c, _ := b.Admin.Connections.Get(b.Ctx, b.Conn.ID); c.State != connection.Busy && c.State != connection.Paused {
		t.Fatalf("pausing during recovery: connection is %s", c.State)
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatalf("resume cancels a pause: %v", err)
	}
	b.ConnState(connection.Idle)
	if n := b.Count("invoice__c", "amount__c IN (101.25, 102.25) AND sfid IS NOT NULL"); n != 2 {
		t.Fatalf("%d of 2 rows written after resuming", n)
	}
	if s := logStates(b); s["NEW"]+s["PENDING"]+s["FAILED"] != 0 {
		t.Fatalf("trigger log after resuming: %v", s)
	}
}

// A reload builds the table's indexes after copying the rows: every index comes back with its name
// and definition (Heroku Connect's, the mapping's field indexes and the ones an admin added, constraint
// or not), and the capture triggers it turned off for the copy are on again.
func TestReloadKeepsEveryIndexAndTurnsCaptureBackOn(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 4})
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("LastName", "Email")
	cfg.Access = mapping.ReadWrite
	cfg.Indexes["Email"] = mapping.IndexOption{}
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Contact", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	b.Exec(`CREATE INDEX "Admin's index" ON $schema.contact (lower(lastname)) WHERE email IS NOT NULL`)
	b.Exec(`ALTER TABLE $schema.contact ADD CONSTRAINT admin_unique UNIQUE (sfid, id)`)
	b.Exec(`CREATE UNIQUE INDEX admin_replica ON $schema.contact (id)`)
	b.Exec(`ALTER TABLE $schema.contact REPLICA IDENTITY USING INDEX admin_replica`)
	b.Exec(`COMMENT ON INDEX $schema.hc_idx_contact_email IS 'kept as it is'`)
	indexes := func() string {
		t.Helper()
		var s string
		if err := b.Pool.QueryRow(b.Ctx, `SELECT string_agg(indexname || ': ' || indexdef, E'\n' ORDER BY indexname) FROM pg_indexes
			WHERE schemaname = $1 AND tablename = 'contact'`, b.Schema).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := indexes()
	if err := b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if after := indexes(); after != before {
		t.Fatalf("indexes after the reload:\n%s\nwant:\n%s", after, before)
	}
	var replica, comment string
	if err := b.Pool.QueryRow(b.Ctx, `SELECT (SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = $1::regclass AND indisreplident),
		obj_description($2::regclass, 'pg_class')`, b.Schema+".contact", b.Schema+".hc_idx_contact_email").Scan(&replica, &comment); err != nil ||
		!strings.HasSuffix(replica, "admin_replica") || comment != "kept as it is" {
		t.Fatalf("replica identity index %q, comment %q (%v)", replica, comment, err)
	}
	for _, want := range []string{"hcu_idx_contact_sfid", "hc_idx_contact_systemmodstamp", "hc_idx_contact_email", "Admin's index", "admin_unique", "contact_pkey"} {
		if !strings.Contains(before, want+": ") {
			t.Fatalf("index %s missing:\n%s", want, before)
		}
	}
	var off int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_trigger WHERE tgrelid = $1::regclass AND NOT tgisinternal AND tgenabled = 'D'`,
		b.Schema+".contact").Scan(&off); err != nil || off != 0 {
		t.Fatalf("%d capture triggers left off (%v)", off, err)
	}
	b.Exec(`INSERT INTO $schema.contact (lastname, email) VALUES ('AfterReload', 'after@example.com')`)
	b.Eventually("the insert after the reload reaches Salesforce", 20*time.Second, func() (bool, string) {
		return b.Count("contact", "lastname = 'AfterReload' AND sfid IS NOT NULL") == 1, ""
	})
}
