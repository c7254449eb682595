package admin_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/triggerlog"
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

// thousandMappedTables gives the harness's connection a thousand mapped tables, with their capture
// triggers, indexes, sequences and TOAST tables, and their mappings.
func thousandMappedTables(b *enginetest.Harness) int {
	const tables, chunk = 1000, 50
	for i := 0; i < tables; i += chunk {
		err := store.Tx(b.Ctx, b.Pool, func(tx pgx.Tx) error {
			for j := i; j < i+chunk; j++ {
				name := fmt.Sprintf("object_%d", j)
				if _, err := tx.Exec(b.Ctx, fmt.Sprintf(`CREATE TABLE %[1]s.%[2]s (id serial PRIMARY KEY, sfid varchar(18) UNIQUE,
					name text, systemmodstamp timestamptz, _hc_lastop varchar(32), _hc_err text);
					CREATE INDEX ON %[1]s.%[2]s (systemmodstamp)`, b.Schema, name)); err != nil {
					return err
				}
				if err := triggerlog.InstallTableTriggers(b.Ctx, tx, b.Schema, name, false); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.T.Fatal(err)
		}
	}
	b.Exec(`INSERT INTO mappings (connection_id, object_name, table_name, state, config)
		SELECT $1, 'Object' || i || '__c', 'object_' || i, 'DATA_SYNCED', '{}' FROM generate_series(0, $2 - 1) i`, b.Conn.ID, tables)
	b.Exec(`UPDATE connections SET state = 'PAUSED' WHERE id = $1`, b.Conn.ID)
	return tables
}

// One DROP SCHEMA CASCADE of a thousand mapped tables locks every object they bring at once, more
// than a server with the default max_locks_per_transaction (64 × 100 connections) can hold ("out of
// shared memory"); dropping their capture triggers locks each table.
func TestDeleteConnectionOfAThousandMappingsStaysWithinTheServersLockTable(t *testing.T) {
	t.Parallel()
	for _, drop := range []bool{true, false} {
		t.Run(fmt.Sprintf("drop schema %v", drop), func(t *testing.T) {
			t.Parallel()
			b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
			tables := thousandMappedTables(b)

			if err := b.Admin.Connections.Delete(b.Ctx, enginetest.Admin, b.Conn.ID, drop); err != nil {
				t.Fatalf("delete a connection of %d mappings: %v", tables, err)
			}
			if _, err := b.Admin.Connections.Get(b.Ctx, b.Conn.ID); !failure.Is(err, failure.NotFound) {
				t.Fatalf("connection still there: %v", err)
			}
			if !drop {
				if !schemaExists(b) || b.Count("object_999", "") != 0 {
					t.Fatal("the kept schema must keep its tables")
				}
				var triggers int
				if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid
					JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname LIKE 'object\_%'`, b.Schema).Scan(&triggers); err != nil || triggers != 0 {
					t.Fatalf("capture triggers left: %d (%v)", triggers, err)
				}
				return
			}
			if schemaExists(b) {
				t.Fatal("schema still exists after delete with dropSchema")
			}
			var left int
			if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, $1)`,
				fmt.Sprintf("%s%d_", admin.RetiredSchemaPrefix, b.Conn.ID)).Scan(&left); err != nil {
				t.Fatal(err)
			}
			if left != 0 {
				t.Fatalf("the deleted connection's schema is left renamed (%d)", left)
			}
		})
	}
}

func TestSchemasLeftByAnInterruptedDeletionAreDroppedAtStart(t *testing.T) {
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	// The deletion committed (schema renamed) and the process died before dropping it.
	retired := fmt.Sprintf("%s%d_1", admin.RetiredSchemaPrefix, b.Conn.ID)
	b.Exec(`ALTER SCHEMA $schema RENAME TO ` + retired)
	b.Exec(`CREATE SCHEMA $schema`) // the harness drops its schema when the test ends
	if err := admin.DropRetiredSchemas(b.Ctx, b.Pool); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := b.Pool.QueryRow(b.Ctx, `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, retired).Scan(&n); err != nil || n != 0 {
		t.Fatalf("retired schema still there (%d, %v)", n, err)
	}
}
