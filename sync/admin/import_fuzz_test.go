package admin_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"pgforce/sync/engine/enginetest"
	"pgforce/sync/failure"
)

// snapshot is everything an import may change: the mappings and the tables of the connection schema.
func snapshot(b *enginetest.Harness, t testing.TB) string {
	t.Helper()
	var s string
	err := b.Pool.QueryRow(b.Ctx, `SELECT
		COALESCE((SELECT json_agg(json_build_array(object_name, table_name, state, config) ORDER BY id)::text FROM mappings WHERE connection_id = $1), '')
		|| '|' || COALESCE((SELECT string_agg(table_name || ':' || column_name, ',' ORDER BY table_name, column_name)
			FROM information_schema.columns WHERE table_schema = $2), '')
		|| '|' || (SELECT state FROM connections WHERE id = $1)`, b.Conn.ID, b.Schema).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzImportIsAllOrNothing feeds any file to the configuration import: it never panics, a file it
// refuses gets an explained (not internal) error, and a refused import changes nothing at all: no
// mapping, table, column or connection state differs afterwards.
func FuzzImportIsAllOrNothing(f *testing.F) {
	for _, seed := range []string{
		`{"version": 1, "connection": {}, "mappings": [{"object_name": "Account", "config": {"access": "read_only", "sf_polling_seconds": 600, "fields": {"Id": {}, "Name": {}, "SystemModstamp": {}, "IsDeleted": {}}, "indexes": {}}}]}`,
		`{"version": 1, "mappings": [{"object_name": "Contact", "config": {"access": "read_write", "fields": {"LastName": {}, "Account.External_Id__c": {}}, "indexes": {"LastName": {"unique": false}}, "upsert_field": "External_Id__c"}}]}`,
		`{"version": 1, "mappings": [{"object_name": "Account", "config": {"fields": {"Name": {}}}}, {"object_name": "Bogus__c", "config": {"fields": {"Name": {}}}}]}`,
		`{"version": 1, "mappings": [{"object_name": "Account", "config": {"fields": {"Name": {}}}}, {"object_name": "account", "config": {"fields": {}}}]}`,
		`{"version": 1, "mappings": [{"object_name": "Account", "config": {"fields": {"Name": {}}, "sf_polling_seconds": 5}}]}`,
		`{"version": 2, "mappings": []}`,
		`{"version": 1, "mappings": [{"object_name": "Account", "config": {"fields": {"Robert'); DROP TABLE mappings; --": {}}}}]}`,
		`{"version": 1, "mappings": [{"object_name": "Account", "config": {"fields": {"Name": {}}, "pgforce": {"record_filter": "Name = 'x' OR 1=1"}}}]}`,
		`{"version": 1, "mappings": [{"object_name": "Account", "config": {"fields": "Name"}}]}`,
		`{"version": 1, "mappings": [{"object_name": 7, "config": null}]}`,
		`{"version": 1e999, "mappings": [1, "x", null, []]}`,
		`{"mappings": [`,
		`[]`, `null`, ``, `{}`, "\x00", `{"version": 1, "mappings": [{"object_name": "Account\u0000", "config": {"fields": {"Name\u0000": {}}}}]}`,
	} {
		f.Add([]byte(seed))
	}
	b := enginetest.New(f, enginetest.Options{Seed: 11, NoStart: true, LogTo: io.Discard})
	// The engine is not running (nothing loads behind the fuzzer); imports need a healthy connection.
	b.Exec(`UPDATE connections SET state = 'IDLE' WHERE id = $1`, b.Conn.ID)
	f.Fuzz(func(t *testing.T, raw []byte) {
		before := snapshot(b, t)
		plan, err := b.Admin.Configuration.ApplyImport(b.Ctx, enginetest.Admin, b.Conn.ID, raw)
		if err == nil {
			if len(plan.Problems) > 0 {
				t.Fatalf("applied despite problems: %v", plan.Problems)
			}
			return
		}
		if after := snapshot(b, t); after != before {
			t.Fatalf("a refused import (%v) changed the configuration:\nbefore %s\nafter  %s", err, before, after)
		}
		if failure.KindOf(err) == failure.Internal {
			t.Fatalf("refusal without an explanation for %q: %v", raw, err)
		}
		if failure.Message(err) == "" {
			t.Fatal("empty refusal message")
		}
		if msg := failure.Message(err); strings.Contains(msg, "struct {") || strings.Contains(msg, "map[") || strings.Contains(msg, "json.") {
			t.Fatalf("the refusal names Go types instead of JSON: %s", msg)
		}
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			t.Fatalf("raw JSON error leaked: %v", err)
		}
	})
}

// TestImportThatFailsHalfwayAppliesNothing: the file is valid, but the second mapping cannot be
// created (a table of that name exists and is not pgforce's). The first mapping, already added in the
// same transaction, must be rolled back with it.
func TestImportThatFailsHalfwayAppliesNothing(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 12, NoStart: true})
	b.Exec(`UPDATE connections SET state = 'IDLE' WHERE id = $1`, b.Conn.ID)
	b.Exec(`CREATE TABLE $schema.contact (id int)`)
	before := snapshot(b, t)
	raw := `{"version": 1, "mappings": [
		{"object_name": "Account", "config": {"access": "read_only", "fields": {"Name": {}}, "indexes": {}}},
		{"object_name": "Contact", "config": {"access": "read_only", "fields": {"LastName": {}}, "indexes": {}}}]}`
	plan, err := b.Admin.Configuration.PlanImport(b.Ctx, b.Conn.ID, []byte(raw))
	if err != nil || len(plan.Add) != 2 || len(plan.Problems) != 0 {
		t.Fatalf("the plan should accept the file: %+v %v", plan, err)
	}
	_, err = b.Admin.Configuration.ApplyImport(b.Ctx, enginetest.Admin, b.Conn.ID, []byte(raw))
	if err == nil || !strings.Contains(failure.Message(err), "not created by pgforce") {
		t.Fatalf("apply: %v", err)
	}
	if after := snapshot(b, t); after != before {
		t.Fatalf("half an import was applied:\nbefore %s\nafter  %s", before, after)
	}
}
