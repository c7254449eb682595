package engine_test

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/sforg"
)

func hostileField(name, typ string, length int) sforg.FieldDef {
	return sforg.FieldDef{Name: name, Type: typ, Length: length, Nillable: true, Createable: true, Updateable: true}
}

// TestHostileNamesAndValuesSyncFaithfully: an object and fields named like SQL keywords, records
// holding markup, quotes, NUL bytes, 128 KB of text, the extreme numbers and dates Salesforce allows:
// they arrive in Postgres as they are (NUL bytes aside, which Postgres text cannot hold), go back to
// Salesforce as they are, and never break a statement.
func TestHostileNamesAndValuesSyncFaithfully(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 21})
	b.ConnState(connection.Idle)
	fields := []sforg.FieldDef{
		hostileField("Select__c", "string", 255),
		hostileField("From__c", "textarea", 131072),
		hostileField("Where__c", "double", 0),
		hostileField("Group__c", "int", 0),
		hostileField("Order__c", "date", 0),
		hostileField("User__c", "datetime", 0),
		hostileField("Desc__c", "boolean", 0),
	}
	if err := b.Org.AddObject("Table__c", "Table", fields...); err != nil {
		t.Fatal(err)
	}
	script := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	quotes := `Robert'); DROP TABLE "table__c"; -- \ $1 $$ E'\x00' ` + "\u202e Ünïcødé 😀"
	long := strings.Repeat("0123456789abcdef", 131072/16) // 128 KB
	records := []map[string]any{
		{"Select__c": script, "From__c": quotes, "Where__c": math.MaxFloat64, "Group__c": math.MaxInt32,
			"Order__c": "0001-01-01", "User__c": "9999-12-31T23:59:59.000Z", "Desc__c": true},
		{"Select__c": "nul\x00byte", "From__c": long, "Where__c": -math.MaxFloat64, "Group__c": math.MinInt32 + 1,
			"Order__c": "9999-12-31", "User__c": "1700-01-01T00:00:00.000Z", "Desc__c": false},
		{"Select__c": " ", "From__c": "line\r\nbreak\ttab,comma\"quote", "Where__c": math.SmallestNonzeroFloat64, "Group__c": 0,
			"Order__c": "2024-02-29", "User__c": "2024-02-29T12:34:56.789Z"},
	}
	ids := make([]string, len(records))
	for i, rec := range records {
		id, err := b.Org.CreateAsUser("Table__c", rec)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		ids[i] = id
	}
	m := b.CreateMapping("Table__c", mapping.ReadWrite, "Select__c", "From__c", "Where__c", "Group__c", "Order__c", "User__c", "Desc__c")
	b.MappingState(m.ID, mapping.DataSynced)
	if m.Table != "table__c" {
		t.Fatalf("table name %q", m.Table)
	}
	tbl := table.Ident(b.Schema, "table__c")
	check := func(sfid string, want map[string]any) {
		t.Helper()
		var sel, from *string
		var where *float64
		var group *int64
		var order, user *time.Time
		var desc *bool
		err := b.Pool.QueryRow(b.Ctx, `SELECT "select__c", "from__c", "where__c", "group__c", "order__c", "user__c", "desc__c" FROM `+tbl+` WHERE sfid = $1`, sfid).
			Scan(&sel, &from, &where, &group, &order, &user, &desc)
		if err != nil {
			t.Fatal(err)
		}
		org := b.Org.Record("Table__c", sfid)
		if got, w := deref(sel), strings.ReplaceAll(fmt.Sprint(org["Select__c"]), "\x00", ""); got != w {
			t.Errorf("%s Select__c: %q, Salesforce has %q", sfid, got, w)
		}
		if got := deref(from); got != fmt.Sprint(org["From__c"]) {
			t.Errorf("%s From__c: %d bytes, Salesforce has %d", sfid, len(got), len(fmt.Sprint(org["From__c"])))
		}
		if w, ok := want["Where__c"].(float64); ok && (where == nil || *where != w) {
			t.Errorf("%s Where__c: %v, want %v", sfid, where, w)
		}
		if w, ok := want["Group__c"].(int); ok && (group == nil || *group != int64(w)) {
			t.Errorf("%s Group__c: %v, want %v", sfid, group, w)
		}
		if w, ok := want["Order__c"].(string); ok && (order == nil || order.Format("2006-01-02") != w) {
			t.Errorf("%s Order__c: %v, want %v", sfid, order, w)
		}
		if w, ok := want["User__c"].(string); ok && (user == nil || user.UTC().Format("2006-01-02T15:04:05.000Z") != w) {
			t.Errorf("%s User__c: %v, want %v", sfid, user, w)
		}
		if w, ok := want["Desc__c"].(bool); ok && (desc == nil || *desc != w) {
			t.Errorf("%s Desc__c: %v, want %v", sfid, desc, w)
		}
	}
	for i, id := range ids {
		check(id, records[i])
	}

	// Back the other way: hostile values written in Postgres reach Salesforce as they are.
	back := `</td><script>fetch("//evil")</script> it's "quoted" \N \. ` + strings.Repeat("é", 1000)
	b.Exec(`UPDATE `+tbl+` SET "select__c" = $2, "from__c" = $3, "where__c" = $4 WHERE sfid = $1`, ids[0], back[:200], back, -0.5)
	b.Eventually("the hostile update to reach Salesforce", 15*time.Second, func() (bool, string) {
		rec := b.Org.Record("Table__c", ids[0])
		return rec["From__c"] == back && rec["Select__c"] == back[:200] && rec["Where__c"] == -0.5, fmt.Sprintf("%.60v", rec["From__c"])
	})
	// A value Salesforce cannot take (NaN) fails its own row with a message; the rest still syncs.
	b.Exec(`UPDATE `+tbl+` SET "where__c" = 'NaN' WHERE sfid = $1`, ids[1])
	b.Exec(`UPDATE `+tbl+` SET "select__c" = 'after NaN' WHERE sfid = $1`, ids[2])
	b.Eventually("the NaN row to fail and the other to succeed", 15*time.Second, func() (bool, string) {
		failed := b.Count("_trigger_log", `state = 'FAILED' AND sfid = $1 AND sf_message LIKE '%not a number%'`, ids[1])
		return failed == 1 && b.Org.Record("Table__c", ids[2])["Select__c"] == "after NaN", fmt.Sprint(failed)
	})
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// TestObjectsNamedToBreakSQLAreSyncedOrRefusedClearly: whatever an org calls its objects and fields
// (quotes, spaces, Unicode, keywords, names too long for Postgres), creating a mapping either works,
// with the rows in a table of exactly that name, or is refused with a message naming the problem.
func TestObjectsNamedToBreakSQLAreSyncedOrRefusedClearly(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 22})
	b.ConnState(connection.Idle)
	names := []string{`Qu"ote__c`, "Spa ce__c", "Ünïcødé__c", "Limit", `Semi;colon--__c`, strings.Repeat("Long", 16) + "__c"}
	for i, name := range names {
		field := []string{`Fi"eld__c`, "Fi eld__c", "Fïeld__c", "Offset__c", "x;--__c", strings.Repeat("F", 70) + "__c"}[i]
		if err := b.Org.AddObject(name, "Hostile", hostileField(field, "string", 80)); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Org.CreateAsUser(name, map[string]any{field: `<b>"x"</b>`}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, name, mapping.NewConfig(field))
		if err != nil {
			if failure.KindOf(err) == failure.Internal || failure.Message(err) == "" {
				t.Errorf("object %q field %q: refused without an explanation: %v", name, field, err)
			}
			t.Logf("object %q field %q refused: %s", name, field, failure.Message(err))
			continue
		}
		if m.Table != table.Name(name) {
			t.Errorf("object %q: table %q", name, m.Table)
		}
		b.Eventually("the "+name+" mapping to settle", 20*time.Second, func() (bool, string) {
			got, err := b.Admin.Mappings.Get(b.Ctx, m.ID)
			if err != nil {
				return false, err.Error()
			}
			return got.State == mapping.DataSynced || got.State.Severity() == "bad", fmt.Sprintf("%s %s", got.State, got.StateReason)
		})
		got, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		if got.State != mapping.DataSynced {
			// Salesforce itself would never accept such a name; an explained error state is acceptable,
			// a Postgres syntax error is not.
			if strings.Contains(got.StateReason, "SQLSTATE") || strings.Contains(got.StateReason, "syntax error") {
				t.Errorf("object %q broke a statement: %s", name, got.StateReason)
			}
			t.Logf("object %q: %s %s", name, got.State, got.StateReason)
			continue
		}
		var v string
		if err := b.Pool.QueryRow(b.Ctx, `SELECT `+table.Ident(table.Column(field))+` FROM `+table.Ident(b.Schema, m.Table)).Scan(&v); err != nil || v != `<b>"x"</b>` {
			t.Errorf("object %q: value %q (%v)", name, v, err)
		}
	}
}
