package table_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/store"
)

var errRollback = errors.New("rollback")

// FuzzNamesBecomeSafelyQuotedIdentifiers creates a mapped table for any object name and any field
// name (in a transaction that is rolled back): either the table exists afterwards with exactly the
// table and column names that Name and Column promise, or Create refuses with an Invalid failure that
// explains why. A hostile name never breaks a statement (no SQL error reaches the caller) and never
// turns into a different name than the one pgforce records (Postgres silently truncates long names).
func FuzzNamesBecomeSafelyQuotedIdentifiers(f *testing.F) {
	for _, seed := range [][2]string{
		{"Account", "Name"},
		{`Evil"; DROP TABLE x; --__c`, `My Field "quoted"`},
		{"Ünïcödé__c", "Größe__c"},
		{"Select", "From"},
		{"Order", "Group__c"},
		{"with space__c", "a b"},
		{"", "Name"},
		{"Account", ""},
		{"nul\x00byte__c", "x\x00y"},
		{strings.Repeat("L", 70), "Name"},
		{"Account", strings.Repeat("Very_Long_Relationship_Name__r.", 1) + strings.Repeat("External_Id_Field_Name_", 2) + "__c"},
		{"Account", "Parent.External_Id__c"},
		{"Account", "_hc_lastop"},
		{"Account", "ID"},
		{"Account", "\xff\xfe"},
		{"$1", "?"},
		{`\`, `''`},
	} {
		f.Add(seed[0], seed[1])
	}
	pool, schema := setup(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, object, field string) {
		spec := table.Spec{Schema: schema, Object: object, Fields: []table.Field{
			{Name: "Id", Type: "id"}, {Name: "SystemModstamp", Type: "datetime"}, {Name: "IsDeleted", Type: "boolean"},
			{Name: field, Type: "string", Length: 40},
		}, Indexes: map[string]bool{field: false}}
		var gotTable string
		var gotCols []string
		err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
			if err := table.Create(ctx, tx, spec); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
				WHERE n.nspname = $1 AND c.relkind = 'r' AND obj_description(c.oid, 'pg_class') IS NOT NULL`, schema).Scan(&gotTable); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, schema, gotTable)
			if err != nil {
				return err
			}
			if gotCols, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
				return err
			}
			return errRollback
		})
		if err == nil {
			t.Fatal("the transaction must end in the test's rollback")
		}
		if !errors.Is(err, errRollback) {
			if failure.KindOf(err) != failure.Invalid && failure.KindOf(err) != failure.Conflict {
				t.Fatalf("object %q field %q: Create failed with an unexplained error (%v): %v", object, field, failure.KindOf(err), err)
			}
			if failure.Message(err) == "" {
				t.Fatalf("object %q field %q: a refusal must say why", object, field)
			}
			return
		}
		if gotTable != table.Name(object) {
			t.Fatalf("object %q: table is %q in Postgres but pgforce calls it %q", object, gotTable, table.Name(object))
		}
		col := table.Column(field)
		found := false
		for _, c := range gotCols {
			found = found || c == col
		}
		if !found {
			t.Fatalf("field %q: column %q not among %q", field, col, gotCols)
		}
		if !utf8.ValidString(gotTable) || !utf8.ValidString(col) {
			t.Fatalf("invalid UTF-8 accepted: %q %q", gotTable, col)
		}
	})
}

// FuzzIdentQuotesAnyName checks the quoting itself, without Postgres: the quoted form starts and ends
// with a double quote, every inner quote is doubled, and unquoting gives back the name.
func FuzzIdentQuotesAnyName(f *testing.F) {
	for _, s := range []string{"account", `a"b`, `""`, "a.b", "Ünïcödé", "x\x00y", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		q := table.Ident(name)
		if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
			t.Fatalf("Ident(%q) = %s is not a quoted identifier", name, q)
		}
		inner := q[1 : len(q)-1]
		if strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
			t.Fatalf("Ident(%q) = %s has an unescaped quote", name, q)
		}
		if got := strings.ReplaceAll(inner, `""`, `"`); got != strings.ReplaceAll(name, "\x00", "") {
			t.Fatalf("Ident(%q) unquotes to %q", name, got)
		}
		if col := table.Column(name); strings.Contains(col, ".") || col != strings.ToLower(col) {
			t.Fatalf("Column(%q) = %q must be lower case without dots", name, col)
		}
	})
}
