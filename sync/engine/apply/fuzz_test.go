package apply_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/store"
)

var errRollback = errors.New("rollback")

// FuzzRESTRecordsLoadFaithfully encodes any Salesforce REST record (JSON) as the CSV that feeds COPY,
// and copies it into the mapped table (rolled back): the CSV always parses with one column per field,
// and when the copy succeeds, the text Salesforce sent is exactly what Postgres holds (NUL bytes
// aside, which Postgres text cannot store). A value of the wrong type fails the copy with an error,
// never a panic or a shifted column.
func FuzzRESTRecordsLoadFaithfully(f *testing.F) {
	for _, s := range []string{
		`{"Id":"003000000000001AAA","LastName":"O'Brien \"Jr\"","Score__c":1.5,"Birthdate":"1980-02-03","Account":{"Ext__c":"a1"}}`,
		`{"Id":"003000000000002AAA","LastName":"<script>alert(1)</script>","Score__c":null,"Account":null}`,
		`{"Id":"003000000000003AAA","LastName":"multi\nline, \"quoted\"\r\n","Score__c":1e308}`,
		`{"Id":"003000000000004AAA","LastName":"nul\u0000byte \\N \\.","Score__c":-0}`,
		`{"Id":"003000000000005AAA","LastName":"\ud83d\ude00 \ud800 \/ \b\f\t","Score__c":"12"}`,
		`{"Id":"003000000000006AAA","LastName":"` + "\xff\xfe" + `","Score__c":true}`,
		`{"id":"003000000000007AAA","LASTNAME":"case","score__c":2,"Birthdate":"0001-01-01","account":{"ext__c":5}}`,
		`{"Id":"003000000000008AAA","LastName":{"nested":1},"Score__c":[1,2]}`,
		`{"Id":"003000000000009AAA","LastName":"","Birthdate":"9999-12-31"}`,
	} {
		f.Add([]byte(s))
	}
	pool, tg := setup(f)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var rec map[string]json.RawMessage
		if json.Unmarshal(raw, &rec) != nil {
			t.Skip("REST records are JSON objects")
		}
		var buf bytes.Buffer
		enc := apply.NewRecordEncoder(tg, &buf)
		if err := enc.Encode(rec); err != nil {
			return // e.g. a parent that is not an object: refused with an error
		}
		if err := enc.Flush(); err != nil {
			t.Fatal(err)
		}
		row, err := csv.NewReader(bytes.NewReader(buf.Bytes())).Read()
		if err != nil || len(row) != len(tg.Fields) {
			t.Fatalf("CSV %q: %d columns (%v), want %d", buf.Bytes(), len(row), err, len(tg.Fields))
		}
		for i, fld := range tg.Fields {
			v, err := lookupPath(rec, fld.Name)
			if err != nil || len(v) == 0 || v[0] != '"' {
				continue
			}
			// encoding/csv turns \r\n inside quotes into \n (COPY does not; the database check below is exact).
			if want := expectedText(v); want != nil && row[i] != strings.ReplaceAll(*want, "\r\n", "\n") {
				t.Fatalf("field %s: JSON %s became CSV %q, want %q", fld.Name, v, row[i], *want)
			}
		}
		var lastName *string
		err = store.Tx(ctx, pool, func(tx pgx.Tx) error {
			if err := apply.AsSync(ctx, tx); err != nil {
				return err
			}
			if _, err := apply.Copy(ctx, tx, tg, bytes.NewReader(buf.Bytes()), false); err != nil {
				return err
			}
			if err := tx.QueryRow(ctx, `SELECT lastname FROM `+tg.Table()).Scan(&lastName); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			return // the value does not fit the column: the copy (and the load) fails as a whole
		}
		want := expectedText(get(rec, "LastName"))
		switch {
		case want == nil && lastName != nil:
			t.Fatalf("null LastName stored as %q", *lastName)
		case want != nil && (lastName == nil || *lastName != *want):
			t.Fatalf("LastName %s stored as %v, want %q", get(rec, "LastName"), deref(lastName), *want)
		}
	})
}

func lookupPath(rec map[string]json.RawMessage, name string) (json.RawMessage, error) {
	rel, rest, nested := strings.Cut(name, ".")
	if !nested {
		return get(rec, name), nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(get(rec, rel), &obj); err != nil {
		return nil, err
	}
	return lookupPath(obj, rest)
}

func get(rec map[string]json.RawMessage, name string) json.RawMessage {
	for k, v := range rec {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// expectedText is what a field's column should hold: JSON strings decoded (without NUL bytes), other
// scalars as their JSON text, null (or absent, or empty) as NULL.
func expectedText(raw json.RawMessage) *string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	s := string(raw)
	if raw[0] == '"' {
		_ = json.Unmarshal(raw, &s)
		s = strings.ReplaceAll(s, "\x00", "")
	}
	if s == "" {
		return nil // Salesforce has no empty strings: empty is null
	}
	return &s
}

func deref(p *string) any {
	if p == nil {
		return nil
	}
	return *p
}
