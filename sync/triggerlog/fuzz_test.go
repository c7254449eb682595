package triggerlog_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/table"
	"pgforce/sync/store"
)

var errRollback = errors.New("rollback")

// FuzzCapturedValuesDecodeToWhatWasWritten writes any text through a mapped table's capture triggers
// (an insert, then an update) and decodes the trigger log as the writer does (hstore → jsonb → Go
// map) and as the dashboard shows it (hstore text, parsed back by Postgres): quotes, backslashes,
// "=>", commas, NULL-looking text and Unicode all come back byte for byte, and nothing else changes.
func FuzzCapturedValuesDecodeToWhatWasWritten(f *testing.F) {
	for _, seed := range [][2]string{
		{"plain", "changed"},
		{`say "hi"`, `back\slash`},
		{`a"=>"b", "c"=>"d`, `NULL`},
		{`\"`, `=>`},
		{"<script>alert(1)</script>", "'; DROP TABLE x; --"},
		{"Ünïcödé 😀", "\t\n\r"},
		{"", " "},
		{strings.Repeat("x", 4000), "y"},
	} {
		f.Add(seed[0], seed[1])
	}
	pool, schema := setup(f, false)
	ctx := context.Background()
	spec := table.Spec{Schema: schema, Object: "Note__c", Fields: []table.Field{
		{Name: "Id", Type: "id"}, {Name: "SystemModstamp", Type: "datetime"}, {Name: "IsDeleted", Type: "boolean"},
		{Name: "Body__c", Type: "textarea", Length: 32000}, {Name: "Title__c", Type: "string", Length: 255},
	}}
	if err := store.Tx(ctx, pool, func(tx pgx.Tx) error { return table.Create(ctx, tx, spec) }); err != nil {
		f.Fatal(err)
	}
	notes, tlog := table.Ident(schema, "note__c"), table.Ident(schema, "_trigger_log")
	f.Fuzz(func(t *testing.T, first, second string) {
		if strings.IndexByte(first+second, 0) >= 0 || !utf8.ValidString(first) || !utf8.ValidString(second) {
			t.Skip("Postgres text holds neither NUL bytes nor invalid UTF-8: no application can write them")
		}
		err := store.Tx(ctx, pool, func(tx pgx.Tx) error {
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO `+notes+` (body__c, title__c) VALUES ($1, 'fixed') RETURNING id`, first).Scan(&id); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE `+notes+` SET body__c = $2 WHERE id = $1`, id, second); err != nil {
				return err
			}
			rows, err := tx.Query(ctx, `SELECT action, hstore_to_jsonb("values"), hstore_to_jsonb(old), COALESCE("values"::text, ''), COALESCE(old::text, '')
				FROM `+tlog+` WHERE record_id = $1 ORDER BY id`, id)
			if err != nil {
				return err
			}
			type entry struct {
				action              string
				values, old         map[string]*string
				valuesText, oldText string
			}
			entries, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (entry, error) {
				var e entry
				var v, o []byte
				if err := r.Scan(&e.action, &v, &o, &e.valuesText, &e.oldText); err != nil {
					return e, err
				}
				// As the writer decodes a claimed row.
				if v != nil {
					if err := json.Unmarshal(v, &e.values); err != nil {
						return e, err
					}
				}
				if o != nil {
					if err := json.Unmarshal(o, &e.old); err != nil {
						return e, err
					}
				}
				return e, nil
			})
			if err != nil {
				return err
			}
			want := 2
			if first == second {
				want = 1 // an update that changes nothing is not captured as a change to send
			}
			if len(entries) < want {
				t.Fatalf("captured %d entries, want %d", len(entries), want)
			}
			if got := entries[0].values["body__c"]; entries[0].action != "INSERT" || got == nil || *got != first {
				t.Fatalf("insert captured body %v, want %q", got, first)
			}
			if t2 := entries[0].values["title__c"]; t2 == nil || *t2 != "fixed" {
				t.Fatalf("insert captured title %v", t2)
			}
			// The text form the dashboard shows must parse back to the same values.
			var back *string
			if err := tx.QueryRow(ctx, `SELECT ($1::text)::public.hstore -> 'body__c'`, entries[0].valuesText).Scan(&back); err != nil {
				t.Fatalf("hstore text %q does not parse back: %v", entries[0].valuesText, err)
			}
			if back == nil || *back != first {
				t.Fatalf("hstore text round trip gave %v, want %q", back, first)
			}
			if want == 2 {
				u := entries[1]
				if got := u.values["body__c"]; u.action != "UPDATE" || got == nil || *got != second {
					t.Fatalf("update captured body %v, want %q", got, second)
				}
				if _, has := u.values["title__c"]; has {
					t.Fatal("an update captures changed columns only")
				}
				if got := u.old["body__c"]; got == nil || *got != first {
					t.Fatalf("update captured old body %v, want %q", got, first)
				}
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatalf("%q then %q: %v", first, second, err)
		}
	})
}
