package apply_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/table"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
	"pgforce/sync/triggerlog"
)

func target(schema string) apply.Target {
	return apply.Target{Schema: schema, Object: "Contact", UpsertField: "Ext__c", Fields: []table.Field{
		{Name: "Id", Type: "id"},
		{Name: "IsDeleted", Type: "boolean"},
		{Name: "SystemModstamp", Type: "datetime"},
		{Name: "LastName", Type: "string", Length: 80},
		{Name: "Birthdate", Type: "date"},
		{Name: "Score__c", Type: "double"},
		{Name: "Ext__c", Type: "string", Length: 20},
		{Name: "Account.Ext__c", Type: "string", Length: 20},
	}}
}

func setup(t testing.TB) (*pgxpool.Pool, apply.Target) {
	t.Helper()
	ctx := context.Background()
	pool, app := storetest.Pool(t)
	schema := app + "_sf"
	t.Cleanup(func() { storetest.DropSchema(t, schema) })
	tg := target(schema)
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if err := triggerlog.InstallSchema(ctx, tx, schema); err != nil {
			return err
		}
		return table.Create(ctx, tx, table.Spec{Schema: schema, Object: "Contact", Fields: tg.Fields})
	})
	if err != nil {
		t.Fatal(err)
	}
	return pool, tg
}

type row struct {
	SFID, LastName, LastOp string
	Birthdate              *time.Time
	Score                  *float64
	Ext, AccountExt        *string
}

func rows(t *testing.T, pool *pgxpool.Pool, tg apply.Target) map[string]row {
	t.Helper()
	rs, err := pool.Query(context.Background(), `SELECT coalesce(sfid, ''), coalesce(lastname, '<null>'), coalesce(_hc_lastop, ''), birthdate, score__c, ext__c, account__ext__c FROM `+tg.Table())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]row{}
	for rs.Next() {
		var r row
		if err := rs.Scan(&r.SFID, &r.LastName, &r.LastOp, &r.Birthdate, &r.Score, &r.Ext, &r.AccountExt); err != nil {
			t.Fatal(err)
		}
		out[r.SFID+"|"+r.LastName] = r
	}
	return out
}

func inSync(t *testing.T, pool *pgxpool.Pool, fn func(pgx.Tx) error) {
	t.Helper()
	err := store.Tx(context.Background(), pool, func(tx pgx.Tx) error {
		if err := apply.AsSync(context.Background(), tx); err != nil {
			return err
		}
		return fn(tx)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func captured(t *testing.T, pool *pgxpool.Pool, tg apply.Target) int {
	var n int
	_ = pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table.Ident(tg.Schema, "_trigger_log")).Scan(&n)
	return n
}

func TestCopyStreamsBulkCSVWithNullsAndWithoutCapture(t *testing.T) {
	t.Parallel()
	pool, tg := setup(t)
	csv := `"Id","IsDeleted","SystemModstamp","LastName","Birthdate","Score__c","Ext__c","Account.Ext__c"
"003000000000001AAA","false","2024-05-01T10:00:00.000Z","O""Brien","1980-02-03","1.5","e1","a1"
"003000000000002AAA","false","2024-05-01T10:00:01.000Z","Multi
line, with comma","","","",""
"003000000000003AAA","false","2024-05-01T10:00:02.000Z","Nul` + "\x00" + `byte","","","",""
`
	var n int64
	inSync(t, pool, func(tx pgx.Tx) error {
		var err error
		n, err = apply.Copy(context.Background(), tx, tg, strings.NewReader(csv), true)
		return err
	})
	if n != 3 {
		t.Fatalf("copied %d rows", n)
	}
	got := rows(t, pool, tg)
	r1 := got[`003000000000001AAA|O"Brien`]
	if r1.Birthdate == nil || r1.Birthdate.Format("2006-01-02") != "1980-02-03" || r1.Score == nil || *r1.Score != 1.5 || *r1.AccountExt != "a1" || r1.LastOp != "SYNCED" {
		t.Fatalf("row 1 = %+v (all: %v)", r1, got)
	}
	r2 := got["003000000000002AAA|Multi\nline, with comma"]
	if r2.SFID == "" || r2.Ext != nil || r2.Birthdate != nil || r2.Score != nil {
		t.Fatalf("empty quoted values must be NULL: %+v", r2)
	}
	if _, ok := got["003000000000003AAA|Nulbyte"]; !ok {
		t.Fatalf("NUL bytes must be dropped, not fail the load: %v", got)
	}
	var stamp time.Time
	_ = pool.QueryRow(context.Background(), `SELECT systemmodstamp FROM `+tg.Table()+` WHERE sfid = '003000000000001AAA'`).Scan(&stamp)
	if stamp.Format(time.RFC3339) != "2024-05-01T10:00:00Z" {
		t.Fatalf("systemmodstamp stored as %v, want the UTC time", stamp)
	}
	if c := captured(t, pool, tg); c != 0 {
		t.Fatalf("pgforce's load was captured (%d rows): it would echo to Salesforce", c)
	}
}

func encode(t *testing.T, tg apply.Target, recs ...string) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	enc := apply.NewRecordEncoder(tg, &buf)
	for _, r := range recs {
		var m map[string]json.RawMessage
		if err := json.Unmarshal([]byte(r), &m); err != nil {
			t.Fatal(err)
		}
		if err := enc.Encode(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func TestMergeUpsertsDeletesAdoptsAndSkipsUnchanged(t *testing.T) {
	t.Parallel()
	pool, tg := setup(t)
	ctx := context.Background()
	inSync(t, pool, func(tx pgx.Tx) error {
		_, err := apply.Copy(ctx, tx, tg, encode(t, tg,
			`{"Id":"003000000000001AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T10:00:00.000+0000","LastName":"Keep"}`,
			`{"Id":"003000000000002AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T10:00:00.000+0000","LastName":"Gone"}`,
		), false)
		return err
	})
	// An application inserts a row with an external id; its sfid has not come back yet.
	if _, err := pool.Exec(ctx, `INSERT INTO `+tg.Table()+` (lastname, ext__c) VALUES ('FromApp', 'ext-9')`); err != nil {
		t.Fatal(err)
	}
	before := captured(t, pool, tg)

	var res apply.Result
	inSync(t, pool, func(tx pgx.Tx) error {
		var err error
		res, err = apply.Merge(ctx, tx, tg, encode(t, tg,
			`{"Id":"003000000000001AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T10:00:00.000+0000","LastName":"Keep"}`,
			`{"Id":"003000000000002AAA","IsDeleted":true,"SystemModstamp":"2024-05-01T11:00:00.000+0000","LastName":"Gone"}`,
			`{"Id":"003000000000009AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T11:00:05.000+0000","LastName":"FromApp","Ext__c":"ext-9"}`,
			`{"Id":"003000000000004AAA","IsDeleted":false,"SystemModstamp":"2024-05-01T11:00:05.000+0000","LastName":"New","Account":{"attributes":{"type":"Account"},"Ext__c":"acc-1"}}`,
		))
		return err
	})
	if res.Deleted != 1 || res.Adopted != 1 || res.Upserted != 2 {
		t.Fatalf("result = %+v (unchanged Keep must not be rewritten; FromApp adopted and updated; New inserted)", res)
	}
	if res.MaxStamp == nil || res.MaxStamp.Format(time.RFC3339) != "2024-05-01T11:00:05Z" || res.MaxID != "003000000000009AAA" {
		t.Fatalf("watermark = %v %s", res.MaxStamp, res.MaxID)
	}
	got := rows(t, pool, tg)
	if len(got) != 3 {
		t.Fatalf("rows = %v", got)
	}
	if r := got["003000000000009AAA|FromApp"]; r.LastOp != "SYNCED" {
		t.Fatalf("adopted row = %+v", r)
	}
	if r := got["003000000000004AAA|New"]; r.AccountExt == nil || *r.AccountExt != "acc-1" {
		t.Fatalf("parent external id = %+v", r)
	}
	if c := captured(t, pool, tg); c != before {
		t.Fatalf("merge was captured: %d → %d", before, c)
	}
}

func TestBackfillSetsOnlyTheNewColumns(t *testing.T) {
	t.Parallel()
	pool, tg := setup(t)
	ctx := context.Background()
	inSync(t, pool, func(tx pgx.Tx) error {
		_, err := apply.Copy(ctx, tx, tg, encode(t, tg, `{"Id":"003000000000001AAA","SystemModstamp":"2024-05-01T10:00:00.000+0000","LastName":"A"}`), false)
		return err
	})
	part := apply.Target{Schema: tg.Schema, Object: tg.Object, Fields: []table.Field{{Name: "Id", Type: "id"}, {Name: "Score__c", Type: "double"}}}
	var n int64
	inSync(t, pool, func(tx pgx.Tx) error {
		var err error
		n, err = apply.Backfill(ctx, tx, part, encode(t, part, `{"Id":"003000000000001AAA","Score__c":42}`, `{"Id":"003000000000404AAA","Score__c":1}`))
		return err
	})
	r := rows(t, pool, tg)["003000000000001AAA|A"]
	if n != 1 || r.Score == nil || *r.Score != 42 || r.LastName != "A" {
		t.Fatalf("backfill n=%d row=%+v", n, r)
	}
}

func TestCheckHeader(t *testing.T) {
	tg := target("s")
	good := []string{"Id", "IsDeleted", "SystemModstamp", "LastName", "Birthdate", "Score__c", "Ext__c", "Account.Ext__c"}
	if err := apply.CheckHeader(tg, good); err != nil {
		t.Fatal(err)
	}
	bad := append([]string{}, good...)
	bad[3], bad[4] = bad[4], bad[3]
	if err := apply.CheckHeader(tg, bad); err == nil || !strings.Contains(err.Error(), "column 4 is Birthdate, expected LastName") {
		t.Fatalf("reordered header: %v", err)
	}
}
