package engine_test

import (
	"strings"
	"testing"

	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
)

func schemaExists(b *bench) bool {
	b.t.Helper()
	var n int
	if err := b.pool.QueryRow(b.ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, b.schema).Scan(&n); err != nil {
		b.t.Fatal(err)
	}
	return n == 1
}

func TestDeleteConnectionIsRefusedWhileSyncingWorkCouldBeInFlight(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{seed: 3, noStart: true})
	// Just authorized: the connection is RECOVERY, catching up, so it cannot be deleted yet.
	err := b.e.DeleteConnection(b.ctx, admin, b.conn.ID, true)
	if !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), "Pause the connection") {
		t.Fatalf("delete while RECOVERY: %v", err)
	}
	if err := b.e.DeleteConnection(b.ctx, admin, 987654, true); !failure.Is(err, failure.NotFound) {
		t.Fatalf("delete unknown connection: %v", err)
	}
}

func TestDeleteConnectionRefusesWhileAMappingLoads(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{seed: 3, noStart: true})
	m := b.createMapping("Account", mapping.ReadOnly, "Name") // INITIAL: nothing runs, so it stays loading
	b.exec(`UPDATE connections SET state = 'PAUSED' WHERE id = $1`, b.conn.ID)
	err := b.e.DeleteConnection(b.ctx, admin, b.conn.ID, true)
	if !failure.Is(err, failure.Conflict) || !strings.Contains(err.Error(), "Abort it") {
		t.Fatalf("delete while %s loads: %v", m.Object, err)
	}
}

func TestDeletePausedConnectionDropsItsSchemaOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{seed: 3})
	b.connState(connection.Idle)
	m := b.createMapping("Account", mapping.ReadWrite, "Name")
	b.mappingState(m.ID, mapping.DataSynced)
	if err := b.e.Pause(b.ctx, admin, b.conn.ID); err != nil {
		t.Fatal(err)
	}

	if err := b.e.DeleteConnection(b.ctx, admin, b.conn.ID, false); err != nil {
		t.Fatalf("delete keeping the schema: %v", err)
	}
	if _, err := b.e.Connection(b.ctx, b.conn.ID); !failure.Is(err, failure.NotFound) {
		t.Fatalf("connection still there: %v", err)
	}
	if _, err := b.e.Mapping(b.ctx, m.ID); !failure.Is(err, failure.NotFound) {
		t.Fatalf("mapping still there: %v", err)
	}
	if !schemaExists(b) || b.count("account", "") == 0 {
		t.Fatal("the kept schema must keep its tables and data")
	}
	// Without triggers, application writes no longer queue changes nobody will send.
	before := b.count("_trigger_log", "")
	b.exec(`UPDATE $schema.account SET name = 'after delete'`)
	if after := b.count("_trigger_log", ""); after != before {
		t.Fatalf("capture triggers still fire: trigger log %d → %d", before, after)
	}
	var entries int
	_ = b.pool.QueryRow(b.ctx, `SELECT count(*) FROM audit_log WHERE action = $1 AND connection_id = $2 AND detail LIKE '%kept%'`,
		string(audit.ConnectionDelete), b.conn.ID).Scan(&entries)
	if entries != 1 {
		t.Fatalf("audit entries for the deletion: %d", entries)
	}
}

func TestDeleteConnectionWithDropSchemaRemovesTheTables(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{seed: 3})
	b.connState(connection.Idle)
	if err := b.e.Pause(b.ctx, admin, b.conn.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.e.DeleteConnection(b.ctx, admin, b.conn.ID, true); err != nil {
		t.Fatal(err)
	}
	if schemaExists(b) {
		t.Fatal("schema still exists after delete with dropSchema")
	}
}
