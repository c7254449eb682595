package triggerlog_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/engine/table"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
	"pgforce/sync/triggerlog"
)

type logRow struct {
	State, Action, Table string
	RecordID             int
	SFID                 *string
	Old, Values          map[string]*string
}

func setup(t testing.TB, readOnly bool) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	pool, app := storetest.Pool(t)
	schema := app + "_sf"
	t.Cleanup(func() { storetest.DropSchema(t, schema) })
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if err := triggerlog.InstallSchema(ctx, tx, schema); err != nil {
			return err
		}
		return table.Create(ctx, tx, table.Spec{Schema: schema, Object: "Contact", ReadOnly: readOnly, Fields: []table.Field{
			{Name: "Id", Type: "id"}, {Name: "SystemModstamp", Type: "datetime"}, {Name: "IsDeleted", Type: "boolean"},
			{Name: "LastName", Type: "string", Length: 80}, {Name: "Email", Type: "email", Length: 80},
		}})
	})
	if err != nil {
		t.Fatal(err)
	}
	return pool, schema
}

func logRows(t *testing.T, pool *pgxpool.Pool, schema string) []logRow {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT state, action, table_name, record_id, sfid, hstore_to_jsonb(old), hstore_to_jsonb("values") FROM `+
		table.Ident(schema, "_trigger_log")+` ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (logRow, error) {
		var l logRow
		err := r.Scan(&l.State, &l.Action, &l.Table, &l.RecordID, &l.SFID, &l.Old, &l.Values)
		return l, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func exec(t *testing.T, pool *pgxpool.Pool, sql string, args ...any) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func TestCaptureFollowsHerokuConnect(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t, false)
	c := table.Ident(schema, "contact")

	exec(t, pool, `INSERT INTO `+c+` (lastname, email) VALUES ('Doe', 'doe@example.com')`)
	exec(t, pool, `UPDATE `+c+` SET email = 'jd@example.com'`)
	exec(t, pool, `UPDATE `+c+` SET email = 'jd@example.com'`) // no change
	exec(t, pool, `DELETE FROM `+c)                            // never synced: no sfid

	got := logRows(t, pool, schema)
	if len(got) != 4 {
		t.Fatalf("%d trigger log rows, want 4", len(got))
	}
	ins, upd, noop, del := got[0], got[1], got[2], got[3]
	if ins.State != "NEW" || ins.Action != "INSERT" || ins.Table != "contact" || ins.RecordID != 1 ||
		str(ins.Values["lastname"]) != "Doe" || ins.Old != nil {
		t.Errorf("insert = %+v", ins)
	}
	if _, has := ins.Values["_hc_lastop"]; has {
		t.Error("_hc_lastop must be excluded from captured values")
	}
	if upd.State != "NEW" || upd.Action != "UPDATE" || len(upd.Values) != 1 || str(upd.Values["email"]) != "jd@example.com" || str(upd.Old["email"]) != "doe@example.com" {
		t.Errorf("update must carry only changed columns: %+v", upd)
	}
	if noop.State != "IGNORE" {
		t.Errorf("an update that changes nothing is IGNORE, got %s", noop.State)
	}
	if del.State != "IGNORE" || del.Action != "DELETE" {
		t.Errorf("deleting a row that never reached Salesforce is IGNORE, got %+v", del)
	}
}

func TestPgforceWritesAreNotCapturedAndMarkedSynced(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t, false)
	ctx := context.Background()
	c := table.Ident(schema, "contact")
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, triggerlog.SyncOriginSetting); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO `+c+` (sfid, lastname) VALUES ('003000000000001AAA', 'FromSalesforce')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := len(logRows(t, pool, schema)); n != 0 {
		t.Fatalf("pgforce's own insert was captured (%d rows): it would echo back to Salesforce", n)
	}
	var lastop string
	_ = pool.QueryRow(ctx, `SELECT _hc_lastop FROM `+c).Scan(&lastop)
	if lastop != "SYNCED" {
		t.Fatalf("_hc_lastop = %q, want SYNCED", lastop)
	}
	// An application edit is captured with the sfid and marks the row PENDING.
	exec(t, pool, `UPDATE `+c+` SET lastname = 'Edited', _hc_err = 'old error'`)
	var err2 *string
	_ = pool.QueryRow(ctx, `SELECT _hc_lastop, _hc_err FROM `+c).Scan(&lastop, &err2)
	rows := logRows(t, pool, schema)
	if lastop != "PENDING" || err2 != nil || len(rows) != 1 || str(rows[0].SFID) != "003000000000001AAA" {
		t.Fatalf("after app edit: lastop=%s err=%v rows=%+v", lastop, err2, rows)
	}
	// pgforce sets _hc_lastop explicitly (e.g. FAILED); no trigger overwrites it.
	err = store.Tx(ctx, pool, func(tx pgx.Tx) error {
		_, _ = tx.Exec(ctx, triggerlog.SyncOriginSetting)
		_, err := tx.Exec(ctx, `UPDATE `+c+` SET _hc_lastop = 'FAILED', _hc_err = '{"message":"x"}'`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = pool.QueryRow(ctx, `SELECT _hc_lastop FROM `+c).Scan(&lastop)
	if lastop != "FAILED" {
		t.Fatalf("explicit _hc_lastop overwritten: %s", lastop)
	}
}

func TestReadOnlyMappingsCaptureAsReadOnly(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t, true)
	exec(t, pool, `INSERT INTO `+table.Ident(schema, "contact")+` (lastname) VALUES ('X')`)
	rows := logRows(t, pool, schema)
	if len(rows) != 1 || rows[0].State != "READONLY" {
		t.Fatalf("rows = %+v", rows)
	}
}

func TestTrigggerLogNotifiesOncePerTransaction(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t, false)
	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{triggerlog.NotifyChannel(schema)}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	exec(t, pool, `INSERT INTO `+table.Ident(schema, "contact")+` (lastname) SELECT 'n' || g FROM generate_series(1, 50) g`)
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	n, err := conn.Conn().WaitForNotification(wctx)
	if err != nil || n.Channel != triggerlog.NotifyChannel(schema) || n.Payload != "ping" {
		t.Fatalf("notification = %+v, %v", n, err)
	}
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if extra, err := conn.Conn().WaitForNotification(short); err == nil {
		t.Fatalf("a 50-row insert sent a second notification: %+v", extra)
	}
}

func TestRecaptureHelpers(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t, false)
	ctx := context.Background()
	c := table.Ident(schema, "contact")
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		_, _ = tx.Exec(ctx, triggerlog.SyncOriginSetting)
		_, err := tx.Exec(ctx, `INSERT INTO `+c+` (sfid, lastname, email) VALUES ('003000000000001AAA', 'Doe', 'd@example.com'), (NULL, 'New', 'n@example.com')`)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	fn := func(name string) string { return table.Ident(schema, name) }
	exec(t, pool, `SELECT `+fn("hc_capture_insert_from_row")+`(hstore(t.*), 'contact', ARRAY['email']) FROM `+c+` t WHERE sfid IS NULL`)
	exec(t, pool, `SELECT `+fn("hc_capture_update_from_row")+`(hstore(t.*), 'contact', ARRAY['email']) FROM `+c+` t WHERE sfid IS NOT NULL`)
	rows := logRows(t, pool, schema)
	if len(rows) != 2 {
		t.Fatalf("rows = %+v", rows)
	}
	ins, upd := rows[0], rows[1]
	if ins.Action != "INSERT" || ins.State != "NEW" || str(ins.Values["lastname"]) != "New" {
		t.Errorf("re-captured insert = %+v", ins)
	}
	if _, has := ins.Values["email"]; has {
		t.Error("excluded column email was re-captured")
	}
	if upd.Action != "UPDATE" || str(upd.SFID) != "003000000000001AAA" || len(upd.Values) != 1 || str(upd.Values["email"]) != "d@example.com" {
		t.Errorf("re-captured update = %+v", upd)
	}
}

func TestTransitionsAreGuarded(t *testing.T) {
	if !triggerlog.Claim.Allowed(triggerlog.New) || triggerlog.Claim.Allowed(triggerlog.Success) {
		t.Fatal("claim takes NEW, never SUCCESS")
	}
	if !triggerlog.Resend.Allowed(triggerlog.Failed) || triggerlog.Resend.Allowed(triggerlog.Pending) {
		t.Fatal("only a FAILED write can be retried")
	}
	for _, s := range []triggerlog.State{triggerlog.Success, triggerlog.Failed, triggerlog.Merged, triggerlog.ReadOnly} {
		if !s.Terminal() {
			t.Errorf("%s is terminal", s)
		}
	}
	if triggerlog.New.Terminal() || triggerlog.Pending.Terminal() {
		t.Fatal("NEW and PENDING are not terminal")
	}
}
