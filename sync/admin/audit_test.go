package admin_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"pgforce/internal/account"
	"pgforce/internal/apitoken"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// Every administrative action leaves exactly one audit row, written in the same transaction as the
// change, naming the actor and the connection, with the configuration before and after where it
// changes one.
func TestEveryAdministrativeActionIsAuditedOnce(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	b.ConnState(connection.Idle)
	conn := b.Conn.ID
	lastID := func() int64 {
		var id int64
		_ = b.Pool.QueryRow(b.Ctx, `SELECT COALESCE(max(id), 0) FROM audit_log`).Scan(&id)
		return id
	}
	type row struct {
		action, actor string
		connID        *int64
		before, after []byte
	}
	since := func(id int64) []row {
		rows, err := b.Pool.Query(b.Ctx, `SELECT action, actor, connection_id, before, after FROM audit_log WHERE id > $1 ORDER BY id`, id)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.action, &r.actor, &r.connID, &r.before, &r.after); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	covered := map[audit.Action]bool{}
	// step runs one action and checks the single audit row it must leave.
	step := func(want audit.Action, onConnection bool, changes bool, act func() error) {
		t.Helper()
		before := lastID()
		if err := act(); err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		var mine []row
		for _, r := range since(before) {
			if r.action == string(want) {
				mine = append(mine, r)
			}
		}
		if len(mine) != 1 {
			t.Fatalf("%s left %d audit rows, want 1", want, len(mine))
		}
		r := mine[0]
		if r.actor != enginetest.Admin.Name {
			t.Errorf("%s: actor %q", want, r.actor)
		}
		if onConnection && (r.connID == nil || *r.connID == 0) {
			t.Errorf("%s: no connection", want)
		}
		if changes && (len(r.before) == 0 || len(r.after) == 0 || string(r.before) == string(r.after)) {
			t.Errorf("%s: before %s, after %s", want, r.before, r.after)
		}
		covered[want] = true
	}

	// Users and API tokens.
	users, tokens := account.New(b.Pool), apitoken.New(b.Pool)
	step(audit.UserAdd, false, false, func() error {
		_, err := users.Create(b.Ctx, enginetest.Admin, "someone@example.com", "long enough password", account.Viewer)
		return err
	})
	step(audit.UserRemove, false, false, func() error { return users.Remove(b.Ctx, enginetest.Admin, "someone@example.com") })
	step(audit.TokenCreate, false, false, func() error {
		_, _, err := tokens.Create(b.Ctx, enginetest.Admin, "ci", apitoken.Viewer)
		return err
	})
	step(audit.TokenRevoke, false, false, func() error { return tokens.Revoke(b.Ctx, enginetest.Admin, "ci") })

	// The connection's life.
	var second connection.Connection
	step(audit.ConnectionCreate, true, false, func() (err error) {
		second, err = b.Admin.Connections.Create(b.Ctx, enginetest.Admin, admin.NewConnection{Schema: b.Schema + "_two", OrgType: connection.Simulated, LoginURL: b.Srv.URL})
		return err
	})
	step(audit.ConnectionAuthorize, true, false, func() error {
		_, err := b.Admin.Connections.AuthorizeWithPassword(b.Ctx, enginetest.Admin, second.ID, sforg.DemoUsername, sforg.DemoPassword)
		return err
	})
	step(audit.ConnectionPause, true, false, func() error { return b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, conn) })
	step(audit.WriteAlgorithm, true, true, func() error {
		return b.Admin.Connections.SetWriteAlgorithm(b.Ctx, enginetest.Admin, conn, connection.Merged)
	})
	step(audit.APIVersion, true, true, func() error { return b.Admin.Connections.SetAPIVersion(b.Ctx, enginetest.Admin, conn, "61.0") })
	step(audit.ConnectionResume, true, false, func() error { return b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, conn) })
	step(audit.PollingDefault, true, true, func() error { return b.Admin.Connections.SetPollingDefault(b.Ctx, enginetest.Admin, conn, 15*60) })
	b.ConnState(connection.Idle)
	b.Exec(fmt.Sprintf(`UPDATE connections SET state = 'SYSTEM_ERROR', state_reason = 'injected' WHERE id = %d`, conn))
	step(audit.ConnectionRecover, true, false, func() error { return b.Admin.Connections.Recover(b.Ctx, enginetest.Admin, conn) })
	b.ConnState(connection.Idle)

	// Mappings.
	var m mapping.Mapping
	step(audit.MappingCreate, true, false, func() (err error) {
		cfg := mapping.NewConfig("Amount__c", "External_Id__c", "Status__c")
		cfg.Access, cfg.UpsertField = mapping.ReadWrite, "External_Id__c"
		m, err = b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, conn, "Invoice__c", cfg)
		return err
	})
	b.MappingState(m.ID, mapping.DataSynced)
	step(audit.MappingEdit, true, true, func() error {
		cfg := mapping.NewConfig("Amount__c", "External_Id__c", "Status__c", "Due_Date__c")
		cfg.Access, cfg.UpsertField = mapping.ReadWrite, "External_Id__c"
		_, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, cfg, nil)
		return err
	})
	b.MappingState(m.ID, mapping.DataSynced)
	// A write Salesforce refuses (a validation rule), then retried and ignored.
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('AUDIT-NEG', -1)`)
	var failed int64
	b.Eventually("the refused write", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT id FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED'`).Scan(&failed)
		return err == nil, fmt.Sprint(err)
	})
	step(audit.WriteRetry, true, false, func() error { return b.Admin.Writes.Retry(b.Ctx, enginetest.Admin, conn, failed) })
	var again int64
	b.Eventually("the retried write to fail again", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT id FROM `+b.Schema+`._trigger_log WHERE state = 'FAILED' AND id > $1`, failed).Scan(&again)
		return err == nil, fmt.Sprint(err)
	})
	step(audit.WriteIgnore, true, false, func() error { return b.Admin.Writes.Ignore(b.Ctx, enginetest.Admin, conn, again) })
	// Reload, then abort a reload slowed down by the org.
	step(audit.MappingReload, true, false, func() error { return b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID) })
	b.MappingState(m.ID, mapping.DataSynced)
	_ = b.Org.InjectFault(sforg.Fault{Path: "/query", Latency: 2 * time.Second, Count: -1})
	if err := b.Admin.Mappings.Reload(b.Ctx, enginetest.Admin, m.ID); err != nil {
		t.Fatal(err)
	}
	step(audit.MappingAbort, true, false, func() error { return b.Admin.Mappings.Abort(b.Ctx, enginetest.Admin, m.ID) })
	b.Org.ClearFaults()
	b.MappingState(m.ID, mapping.Aborted)
	b.Exec(fmt.Sprintf(`UPDATE mappings SET state = 'SYSTEM_ERROR' WHERE id = %d`, m.ID))
	step(audit.MappingRecover, true, false, func() error {
		_, err := b.Admin.Mappings.Recover(b.Ctx, enginetest.Admin, m.ID)
		return err
	})
	b.MappingState(m.ID, mapping.DataSynced)
	step(audit.MappingDelete, true, false, func() error { return b.Admin.Mappings.Delete(b.Ctx, enginetest.Admin, m.ID) })

	// Configuration import onto the second connection, orphan removal, connection deletion.
	cfg := mapping.NewConfig("Name")
	if _, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, conn, "Account", cfg); err != nil {
		t.Fatal(err)
	}
	exported, err := b.Admin.Configuration.Export(b.Ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	var probe map[string]any
	if err := json.Unmarshal(exported, &probe); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the second connection to be idle", 20*time.Second, func() (bool, string) {
		c, err := b.Admin.Connections.Get(b.Ctx, second.ID)
		return err == nil && c.State == connection.Idle, fmt.Sprint(c.State, err)
	})
	step(audit.ConfigImport, true, false, func() error {
		_, err := b.Admin.Configuration.ApplyImport(b.Ctx, enginetest.Admin, second.ID, exported)
		return err
	})
	if err := b.Org.AddObject("Gadget__c", "Gadget"); err != nil {
		t.Fatal(err)
	}
	g, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, conn, "Gadget__c", mapping.NewConfig("Name"))
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(g.ID, mapping.DataSynced)
	b.Org.RemoveObject("Gadget__c")
	if err := b.Admin.Mappings.CheckSchema(b.Ctx, conn); err != nil {
		t.Fatal(err)
	}
	step(audit.OrphansRemove, true, false, func() error {
		_, err := b.Admin.Mappings.RemoveOrphans(b.Ctx, enginetest.Admin, conn, true)
		return err
	})
	b.Eventually("the second connection to settle", 30*time.Second, func() (bool, string) {
		ms, _ := b.Admin.Mappings.List(b.Ctx, second.ID)
		for _, x := range ms {
			if x.State.Loading() {
				return false, string(x.State)
			}
		}
		return true, ""
	})
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, second.ID); err != nil {
		t.Fatal(err)
	}
	step(audit.ConnectionDelete, true, false, func() error { return b.Admin.Connections.Delete(b.Ctx, enginetest.Admin, second.ID, true) })

	t.Logf("%d action kinds audited", len(covered))
}
