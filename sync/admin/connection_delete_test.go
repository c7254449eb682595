package admin_test

import (
	"strings"
	"testing"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
)

func schemaExists(b *enginetest.Harness) bool {
	b.T.Helper()
	var n int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, b.Schema).Scan(&n); err != nil {
		b.T.Fatal(err)
	}
	return n == 1
}

func TestDeleteConnectionIsRefusedWhileSyncingWorkCouldBeInFlight(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	// Just authorized: the connection is RECOVERY, catching up, so it cannot be deleted yet.
	err := b.Admin.Connections.Delete(b.Ctx, enginetest.Admin, b.Conn.ID, true)
	if !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), "Pause the connection") {
		t.Fatalf("delete while RECOVERY: %v", err)
	}
	if err := b.Admin.Connections.Delete(b.Ctx, enginetest.Admin, 987654, true); !failure.Is(err, failure.NotFound) {
		t.Fatalf("delete unknown connection: %v", err)
	}
}

func TestDeleteConnectionRefusesWhileAMappingLoads(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name") // INITIAL: nothing runs, so it stays loading
	b.Exec(`UPDATE connections SET state = 'PAUSED' WHERE id = $1`, b.Conn.ID)
	err := b.Admin.Connections.Delete(b.Ctx, enginetest.Admin, b.Conn.ID, true)
	if !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), "Abort it") {
		t.Fatalf("delete while %s loads: %v", m.Object, err)
	}
}

func TestDeletePausedConnectionDropsItsSchemaOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadWrite, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}

	if err := b.Admin.Connections.Delete(b.Ctx, enginetest.Admin, b.Conn.ID, false); err != nil {
		t.Fatalf("delete keeping the schema: %v", err)
	}
	if _, err := b.Admin.Connections.Get(b.Ctx, b.Conn.ID); !failure.Is(err, failure.NotFound) {
		t.Fatalf("connection still there: %v", err)
	}
	if _, err := b.Admin.Mappings.Get(b.Ctx, m.ID); !failure.Is(err, failure.NotFound) {
		t.Fatalf("mapping still there: %v", err)
	}
	if !schemaExists(b) || b.Count("account", "") == 0 {
		t.Fatal("the kept schema must keep its tables and data")
	}
	// Without triggers, application writes no longer queue changes nobody will send.
	before := b.Count("_trigger_log", "")
	b.Exec(`UPDATE $schema.account SET name = 'after delete'`)
	if after := b.Count("_trigger_log", ""); after != before {
		t.Fatalf("capture triggers still fire: trigger log %d → %d", before, after)
	}
	var entries int
	_ = b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM audit_log WHERE action = $1 AND connection_id = $2 AND detail LIKE '%kept%'`,
		string(audit.ConnectionDelete), b.Conn.ID).Scan(&entries)
	if entries != 1 {
		t.Fatalf("audit entries for the deletion: %d", entries)
	}
}

func TestDeleteConnectionWithDropSchemaRemovesTheTables(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Connections.Delete(b.Ctx, enginetest.Admin, b.Conn.ID, true); err != nil {
		t.Fatal(err)
	}
	if schemaExists(b) {
		t.Fatal("schema still exists after delete with dropSchema")
	}
}
