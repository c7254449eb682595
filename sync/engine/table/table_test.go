package table_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
	"pgforce/sync/triggerlog"
)

func accountSpec(schema string) table.Spec {
	return table.Spec{
		Schema: schema,
		Object: "Account",
		Fields: []table.Field{
			{Name: "Id", Type: "id", Length: 18},
			{Name: "IsDeleted", Type: "boolean"},
			{Name: "SystemModstamp", Type: "datetime"},
			{Name: "CreatedDate", Type: "datetime"},
			{Name: "Name", Type: "string", Length: 255},
			{Name: "Description", Type: "textarea", Length: 32000},
			{Name: "NumberOfEmployees", Type: "int"},
			{Name: "AnnualRevenue", Type: "currency", Precision: 18, Scale: 0},
			{Name: "ParentId", Type: "reference", Length: 18},
			{Name: "Parent.External_Id__c", Type: "string", Length: 80},
		},
		Indexes: map[string]bool{"Name": false},
	}
}

// setup returns a pool and a fresh connection schema with the trigger log installed.
func setup(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	pool, schema := storetest.Pool(t)
	conn := schema + "_sf"
	t.Cleanup(func() { storetest.DropSchema(t, conn) })
	tx(t, pool, func(tx pgx.Tx) error { return triggerlog.InstallSchema(context.Background(), tx, conn) })
	// Installing twice is harmless.
	tx(t, pool, func(tx pgx.Tx) error { return triggerlog.InstallSchema(context.Background(), tx, conn) })
	return pool, conn
}

func tx(t testing.TB, pool *pgxpool.Pool, fn func(pgx.Tx) error) {
	t.Helper()
	if err := store.Tx(context.Background(), pool, fn); err != nil {
		t.Fatal(err)
	}
}

func columns(t *testing.T, pool *pgxpool.Pool, schema, tbl string) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT column_name, CASE WHEN character_maximum_length IS NOT NULL
		THEN data_type || '(' || character_maximum_length || ')' ELSE data_type END
		FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, schema, tbl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var c, typ string
		if err := rows.Scan(&c, &typ); err != nil {
			t.Fatal(err)
		}
		out[c] = typ
	}
	return out
}

func indexes(t *testing.T, pool *pgxpool.Pool, schema, tbl string) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = $2`, schema, tbl)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for rows.Next() {
		var n, d string
		if err := rows.Scan(&n, &d); err != nil {
			t.Fatal(err)
		}
		out[n] = d
	}
	return out
}

func TestCreatedTableFollowsHerokuConnectsContract(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t)
	tx(t, pool, func(tx pgx.Tx) error { return table.Create(context.Background(), tx, accountSpec(schema)) })

	want := map[string]string{
		"sfid": "character varying(18)", "isdeleted": "boolean", "systemmodstamp": "timestamp without time zone",
		"createddate": "timestamp without time zone", "name": "character varying(255)", "description": "text",
		"numberofemployees": "integer", "annualrevenue": "double precision", "parentid": "character varying(18)",
		"parent__external_id__c": "character varying(80)", "id": "integer", "_hc_lastop": "character varying(32)", "_hc_err": "text",
	}
	got := columns(t, pool, schema, "account")
	for col, typ := range want {
		if got[col] != typ {
			t.Errorf("column %s: %q, want %q", col, got[col], typ)
		}
	}
	if len(got) != len(want) {
		t.Errorf("columns = %v", got)
	}
	idx := indexes(t, pool, schema, "account")
	for name, def := range map[string]string{
		"hcu_idx_account_sfid":          "CREATE UNIQUE INDEX",
		"hc_idx_account_systemmodstamp": "CREATE INDEX",
		"hc_idx_account_name":           "CREATE INDEX",
		"account_pkey":                  "CREATE UNIQUE INDEX",
	} {
		if !strings.HasPrefix(idx[name], def) {
			t.Errorf("index %s = %q, want %s", name, idx[name], def)
		}
	}
}

func TestCreateRefusesToTakeOverATable(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE `+table.Ident(schema, "account")+` (x int)`); err != nil {
		t.Fatal(err)
	}
	err := store.Tx(context.Background(), pool, func(tx pgx.Tx) error { return table.Create(context.Background(), tx, accountSpec(schema)) })
	if !errors.Is(err, table.ErrNotOurs) || !strings.Contains(failure.Message(err), "was not created by pgforce") {
		t.Fatalf("takeover: %v", err)
	}
	err = store.Tx(context.Background(), pool, func(tx pgx.Tx) error { return table.Drop(context.Background(), tx, schema, "Account") })
	if !failure.Is(err, failure.Conflict) {
		t.Fatalf("dropping a foreign table must be refused: %v", err)
	}
}

func TestHostileNamesStayData(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t)
	spec := table.Spec{Schema: schema, Object: `Evil"; DROP TABLE x; --__c`, Fields: []table.Field{
		{Name: "Id", Type: "id"}, {Name: "SystemModstamp", Type: "datetime"},
		{Name: `Select`, Type: "string", Length: 10}, {Name: `My Field "quoted"`, Type: "string", Length: 20},
		{Name: "Ünïcödé__c", Type: "string", Length: 5},
	}, Indexes: map[string]bool{`My Field "quoted"`: true}}
	tx(t, pool, func(tx pgx.Tx) error { return table.Create(context.Background(), tx, spec) })
	cols := columns(t, pool, schema, spec.Table())
	for _, c := range []string{"select", `my field "quoted"`, "ünïcödé__c"} {
		if _, ok := cols[c]; !ok {
			t.Errorf("column %q missing: %v", c, cols)
		}
	}
	// Capture works on it too.
	if _, err := pool.Exec(context.Background(), `INSERT INTO `+table.Ident(schema, spec.Table())+` ("select") VALUES ('x''y')`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table.Ident(schema, "_trigger_log")+` WHERE table_name = $1`, spec.Table()).Scan(&n); err != nil || n != 1 {
		t.Fatalf("captured %d (%v)", n, err)
	}
	tx(t, pool, func(tx pgx.Tx) error { return table.Drop(context.Background(), tx, schema, spec.Object) })
}

func TestLongNamesGetDistinctShortenedIndexNames(t *testing.T) {
	long := strings.Repeat("a", 40) + "__c"
	a := table.IndexName(false, long, strings.Repeat("b", 30)+"1")
	b := table.IndexName(false, long, strings.Repeat("b", 30)+"2")
	if len(a) > 63 || len(b) > 63 || a == b {
		t.Fatalf("index names %q and %q must be distinct and at most 63 bytes", a, b)
	}
	if table.IndexName(true, "account", "sfid") != "hcu_idx_account_sfid" {
		t.Fatal("short names are Heroku Connect's")
	}
}

func TestAlterAddsDropsWidensAndGuardsTypeChanges(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t)
	ctx := context.Background()
	old := accountSpec(schema)
	tx(t, pool, func(tx pgx.Tx) error { return table.Create(ctx, tx, old) })

	next := accountSpec(schema)
	next.Fields = append([]table.Field{}, next.Fields...)
	next.Fields[4] = table.Field{Name: "Name", Type: "string", Length: 300} // widened
	next.Fields = append(next.Fields[:5], next.Fields[6:]...)               // Description removed
	next.Fields = append(next.Fields, table.Field{Name: "Phone", Type: "phone", Length: 40})
	next.Indexes = map[string]bool{"Phone": false}
	var ch table.Change
	tx(t, pool, func(tx pgx.Tx) error {
		var err error
		ch, err = table.Alter(ctx, tx, old, next, nil)
		return err
	})
	if strings.Join(ch.Added, ",") != "Phone" || strings.Join(ch.Dropped, ",") != "Description" || strings.Join(ch.Widened, ",") != "Name" {
		t.Fatalf("change = %+v", ch)
	}
	cols := columns(t, pool, schema, "account")
	if cols["name"] != "character varying(300)" || cols["phone"] != "character varying(40)" || cols["description"] != "" {
		t.Fatalf("columns after alter = %v", cols)
	}
	idx := indexes(t, pool, schema, "account")
	if _, ok := idx["hc_idx_account_name"]; ok {
		t.Error("index on name should be dropped")
	}
	if _, ok := idx["hc_idx_account_phone"]; !ok {
		t.Error("index on phone should be created")
	}

	// A type change is refused with the seed's remedy, unless the column is to be recreated.
	retyped := next
	retyped.Fields = append([]table.Field{}, next.Fields...)
	for i := range retyped.Fields {
		if retyped.Fields[i].Name == "NumberOfEmployees" {
			retyped.Fields[i].Type = "double"
		}
	}
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error { _, err := table.Alter(ctx, tx, next, retyped, nil); return err })
	var tce *table.TypeChangeError
	if !errors.As(err, &tce) || !strings.Contains(err.Error(), "remove the field, save, then add it back") {
		t.Fatalf("type change: %v", err)
	}
	tx(t, pool, func(tx pgx.Tx) error {
		var err error
		ch, err = table.Alter(ctx, tx, next, retyped, []string{"numberofemployees"})
		return err
	})
	if strings.Join(ch.Retyped, ",") != "NumberOfEmployees" || columns(t, pool, schema, "account")["numberofemployees"] != "double precision" {
		t.Fatalf("recreate: %+v", ch)
	}

	// Required sync fields cannot be removed.
	noStamp := retyped
	noStamp.Fields = nil
	for _, f := range retyped.Fields {
		if f.Name != "SystemModstamp" {
			noStamp.Fields = append(noStamp.Fields, f)
		}
	}
	err = store.Tx(ctx, pool, func(tx pgx.Tx) error { _, err := table.Alter(ctx, tx, retyped, noStamp, nil); return err })
	if !failure.Is(err, failure.Invalid) {
		t.Fatalf("removing SystemModstamp: %v", err)
	}
}

func TestUnsupportedTypesAreExplained(t *testing.T) {
	for typ, want := range map[string]string{"address": "compound address field", "base64": "binary data", "weird": `type "weird"`} {
		_, err := table.ColumnType(table.Field{Name: "F", Type: typ})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v", typ, err)
		}
	}
}

func TestTruncateRestartsIDs(t *testing.T) {
	t.Parallel()
	pool, schema := setup(t)
	ctx := context.Background()
	tx(t, pool, func(tx pgx.Tx) error { return table.Create(ctx, tx, accountSpec(schema)) })
	ins := `INSERT INTO ` + table.Ident(schema, "account") + ` (name) VALUES ('a') RETURNING id`
	var id int
	_ = pool.QueryRow(ctx, ins).Scan(&id)
	_ = pool.QueryRow(ctx, ins).Scan(&id)
	tx(t, pool, func(tx pgx.Tx) error { return table.Truncate(ctx, tx, schema, "Account") })
	if err := pool.QueryRow(ctx, ins).Scan(&id); err != nil || id != 1 {
		t.Fatalf("id after truncate = %d (%v)", id, err)
	}
}
