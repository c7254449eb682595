package audit_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/audit"
	"pgforce/sync/store"
	"pgforce/sync/store/storetest"
)

func TestCSVIsRFC4180WithNeutralisedFormulas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	conn := int64(7)
	err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if err := audit.Record(ctx, tx, audit.Entry{Actor: audit.Actor{Name: "=cmd|' /C calc'!A0", Kind: audit.ActorUser},
			ConnectionID: &conn, Action: audit.MappingCreate, Target: "Account", After: map[string]any{"fields": []string{"Id", "Name"}},
			Detail: "line one\nline \"two\", with comma"}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.System, Action: audit.ConnectionPause, Target: "+1", Detail: "@SUM(A1)"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := audit.WriteCSV(ctx, pool, audit.Filter{}, &buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("output is not valid CSV: %v\n%s", err, buf.String())
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(audit.CSVHeader, ",") {
		t.Fatalf("rows = %q", rows)
	}
	r := rows[1]
	if r[2] != "'=cmd|' /C calc'!A0" || r[4] != "7" || r[5] != "mapping.create" || r[8] != `{"fields": ["Id", "Name"]}` || r[9] != "line one\nline \"two\", with comma" {
		t.Fatalf("first row = %q", r)
	}
	if _, err := time.Parse(time.RFC3339Nano, r[1]); err != nil || !strings.HasSuffix(r[1], "Z") {
		t.Fatalf("time %q must be ISO-8601 UTC", r[1])
	}
	if rows[2][6] != "'+1" || rows[2][9] != "'@SUM(A1)" {
		t.Fatalf("second row = %q", rows[2])
	}
}

func TestFilterByDateAndAction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	for _, a := range []audit.Action{audit.MappingCreate, audit.ConnectionPause, audit.MappingDelete} {
		if err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
			return audit.Record(ctx, tx, audit.Entry{Actor: audit.System, Action: a})
		}); err != nil {
			t.Fatal(err)
		}
	}
	count := func(f audit.Filter) int {
		n := 0
		if err := audit.Each(ctx, pool, f, func(audit.Entry) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(audit.Filter{Action: "mapping."}); n != 2 {
		t.Fatalf("mapping.* = %d", n)
	}
	if n := count(audit.Filter{Action: audit.ConnectionPause}); n != 1 {
		t.Fatalf("pause = %d", n)
	}
	if n := count(audit.Filter{Since: time.Now().Add(time.Hour)}); n != 0 {
		t.Fatalf("future window = %d", n)
	}
	if n := count(audit.Filter{Since: time.Now().Add(-time.Hour), Until: time.Now().Add(time.Hour)}); n != 3 {
		t.Fatalf("current window = %d", n)
	}
}

func TestTrailIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	if err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Entry{Actor: audit.System, Action: audit.ConnectionPause})
	}); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{`UPDATE audit_log SET actor = 'x'`, `DELETE FROM audit_log`, `TRUNCATE audit_log`} {
		if _, err := pool.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
}

func TestEntryIsRolledBackWithItsChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := storetest.Pool(t)
	_ = store.Tx(ctx, pool, func(tx pgx.Tx) error {
		if err := audit.Record(ctx, tx, audit.Entry{Actor: audit.System, Action: audit.MappingReload}); err != nil {
			t.Fatal(err)
		}
		return context.Canceled // the change fails: the entry must vanish with it
	})
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("entries after rollback = %d (%v)", n, err)
	}
}
