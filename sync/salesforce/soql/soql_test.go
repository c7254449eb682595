package soql

import (
	"strings"
	"testing"
	"time"
)

type testObj struct {
	name     string
	fields   []Field
	rels     map[string]string    // relationship → parent object
	children map[string][2]string // child relationship → child object, its reference field
	s        *testSchema
}

func (o *testObj) Name() string { return o.name }
func (o *testObj) Field(n string) (Field, bool) {
	for _, f := range o.fields {
		if strings.EqualFold(f.Name, n) {
			return f, true
		}
	}
	return Field{}, false
}
func (o *testObj) Relationship(rel string) (Field, Object, bool) {
	for _, f := range o.fields {
		if strings.EqualFold(f.Relationship, rel) && f.Relationship != "" {
			p, ok := o.s.Object(o.rels[f.Relationship])
			return f, p, ok
		}
	}
	return Field{}, nil, false
}
func (o *testObj) Child(rel string) (Object, Field, bool) {
	for name, c := range o.children {
		if strings.EqualFold(name, rel) {
			child, _ := o.s.Object(c[0])
			f, _ := child.Field(c[1])
			return child, f, true
		}
	}
	return nil, Field{}, false
}
func (o *testObj) Fields() []Field { return o.fields }

type testSchema struct{ objs map[string]*testObj }

func (s *testSchema) Object(n string) (Object, bool) {
	o, ok := s.objs[strings.ToLower(n)]
	return o, ok
}

func schema() *testSchema {
	s := &testSchema{objs: map[string]*testObj{}}
	s.objs["account"] = &testObj{name: "Account", s: s, children: map[string][2]string{"Contacts": {"contact", "AccountId"}}, fields: []Field{
		{Name: "Id", Type: "id", Index: 0}, {Name: "Name", Type: "string", Index: 1}, {Name: "NumberOfEmployees", Type: "int", Index: 2},
		{Name: "IsDeleted", Type: "boolean", Index: 3}, {Name: "SystemModstamp", Type: "datetime", Index: 4}, {Name: "Since__c", Type: "date", Custom: true, Index: 5},
		{Name: "Tags__c", Type: "multipicklist", Custom: true, Index: 6},
	}}
	s.objs["contact"] = &testObj{name: "Contact", s: s, rels: map[string]string{"Account": "account"}, fields: []Field{
		{Name: "Id", Type: "id", Index: 0}, {Name: "LastName", Type: "string", Index: 1}, {Name: "AccountId", Type: "reference", Relationship: "Account", Index: 2},
	}}
	return s
}

// rec is a record keyed by canonical column name.
type rec map[string]any

func (r rec) Value(c *Column) any { return r[c.Name] }

func bind(t *testing.T, q string) *Bound {
	t.Helper()
	p, err := Parse(q, time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatalf("parse %q: %v", q, err)
	}
	b, err := Bind(p, schema())
	if err != nil {
		t.Fatalf("bind %q: %v", q, err)
	}
	return b
}

func TestWhereEvaluation(t *testing.T) {
	stamp := time.Date(2024, 5, 1, 10, 0, 0, 250e6, time.UTC) // Salesforce filters ignore the .250
	r := rec{"Id": "001000000000001AAA", "Name": "Acme Corp", "NumberOfEmployees": 50.0, "IsDeleted": false, "SystemModstamp": stamp,
		"Since__c": time.Date(2024, 5, 9, 0, 0, 0, 0, time.UTC), "Tags__c": "Gold;Partner"}
	tests := []struct {
		where string
		want  bool
	}{
		{"Name = 'acme corp'", true},
		{"Name != 'Acme Corp'", false},
		{"Name LIKE 'acme%'", true},
		{"Name LIKE 'a_me c%'", true},
		{"Name LIKE 'corp'", false},
		{"NumberOfEmployees > 10 AND NumberOfEmployees <= 50", true},
		{"NumberOfEmployees IN (1, 2, 50)", true},
		{"NumberOfEmployees NOT IN (50)", false},
		{"NOT (Name = 'x' OR IsDeleted = true)", true},
		{"SystemModstamp > 2024-05-01T09:59:59Z", true},
		{"SystemModstamp > 2024-05-01T10:00:00.000+0000", false},
		{"SystemModstamp >= 2024-05-01T12:00:00+02:00", true},
		{"SystemModstamp = 2024-05-01T10:00:00Z", true},
		{"SystemModstamp > 2024-05-01T10:00:00Z", false},
		{"SystemModstamp < 2024-05-01T10:00:01Z", true},
		{"Since__c = YESTERDAY", true},
		{"Since__c = LAST_N_DAYS:3", true},
		{"Since__c > 2024-05-08", true},
		{"Name = null", false},
		{"Name != null", true},
		{"Tags__c INCLUDES ('partner')", true},
		{"Tags__c EXCLUDES ('Gold')", false},
		{"Id = '001000000000001'", true},
	}
	for _, tt := range tests {
		b := bind(t, "SELECT Id FROM Account WHERE "+tt.where)
		if got := b.Match(r); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.where, got, tt.want)
		}
	}
}

func TestErrorsUseSalesforceCodesAndMessages(t *testing.T) {
	tests := []struct {
		q, code, msg string
	}{
		{"SELECT Id FROM Nope", "INVALID_TYPE", "sObject type 'Nope' is not supported."},
		{"SELECT Foo FROM Account", "INVALID_FIELD", "ERROR at Row:1:Column:8\nNo such column 'Foo' on entity 'Account'."},
		{"SELECT Id FROM Account WHERE Name = 5", "INVALID_FIELD", "must be of type string and should be enclosed in quotes"},
		{"SELECT Id FROM Account WHERE SystemModstamp > 2024-01-01", "INVALID_FIELD", "must be of type dateTime"},
		{"SELECT Id FROM Account WHERE IsDeleted = 'x'", "INVALID_FIELD", "must be of type boolean"},
		{"SELECT Nope.Name FROM Contact", "INVALID_FIELD", "Didn't understand relationship 'Nope'"},
		{"SELECT Id FROM", "MALFORMED_QUERY", "unexpected token: <EOF>"},
		{"SELECT Id, FROM Account", "MALFORMED_QUERY", "unexpected token: 'FROM'"},
		{"SELEKT Id FROM Account", "MALFORMED_QUERY", "unexpected token: 'SELEKT'"},
		{"SELECT Id FROM Account WHERE Name = 'unterminated", "MALFORMED_QUERY", "unterminated"},
		{"SELECT Id FROM Account OFFSET 2001", "NUMBER_OUTSIDE_VALID_RANGE", "Maximum SOQL offset allowed is 2000"},
		{"SELECT Id, Id FROM Account", "MALFORMED_QUERY", "duplicate field selected: Id"},
	}
	for _, tt := range tests {
		p, err := Parse(tt.q, time.Now())
		if err == nil {
			_, err = Bind(p, schema())
		}
		e, ok := err.(*Error)
		if !ok || e.Code != tt.code || !strings.Contains(e.Message, tt.msg) {
			t.Errorf("%s: got %v (%T), want %s containing %q", tt.q, err, err, tt.code, tt.msg)
		}
	}
}

func TestSelectListRelationshipsOrderAndCount(t *testing.T) {
	b := bind(t, "select id, account.name, Account.NumberOfEmployees from contact order by Account.Name desc nulls last, LastName limit 10 offset 5")
	var names []string
	for _, c := range b.Columns {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "Id,Account.Name,Account.NumberOfEmployees" || b.Limit != 10 || b.Offset != 5 {
		t.Fatalf("columns %v limit %d offset %d", names, b.Limit, b.Offset)
	}
	a, z, n := rec{"Account.Name": "A"}, rec{"Account.Name": "Z"}, rec{"Account.Name": nil}
	if b.Compare(z, a) >= 0 || b.Compare(a, n) >= 0 {
		t.Fatal("DESC NULLS LAST: Z before A before null")
	}
	c := bind(t, "SELECT COUNT() FROM Account WHERE IsDeleted = false")
	if !c.Count || !c.MentionsIsDeleted {
		t.Fatal("COUNT() and IsDeleted detection")
	}
	f := bind(t, "SELECT FIELDS(CUSTOM) FROM Account LIMIT 200")
	if len(f.Columns) != 2 {
		t.Fatalf("FIELDS(CUSTOM) = %d columns", len(f.Columns))
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"SELECT Id FROM Account", "SELECT Id, Name FROM Account WHERE Name LIKE 'a%' AND (X = 1 OR Y != null) ORDER BY Name DESC NULLS LAST LIMIT 5",
		"SELECT COUNT() FROM Contact WHERE CreatedDate = LAST_N_DAYS:30", "SELECT Id FROM A WHERE D > 2024-01-01T00:00:00.000+0000", "select fields(all) from account limit 200",
		"SELECT Id FROM Account WHERE Id IN ('a', 'b') AND Name NOT IN ('x')", "SELECT Id FROM X WHERE s = 'it\\'s'"} {
		f.Add(s)
	}
	sch := schema()
	f.Fuzz(func(t *testing.T, q string) {
		p, err := Parse(q, time.Now())
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("non-Salesforce error %T: %v", err, err)
			}
			return
		}
		if b, err := Bind(p, sch); err == nil {
			b.Match(rec{})
		} else if _, ok := err.(*Error); !ok {
			t.Fatalf("non-Salesforce bind error %T: %v", err, err)
		}
	})
}

func TestParseConditionAcceptsOneConditionOnly(t *testing.T) {
	now := time.Date(2024, 5, 10, 12, 0, 0, 0, time.UTC)
	for _, ok := range []string{"Name = 'a'", "(A = 1 OR B = 2) AND NOT C = 3", "Id IN (SELECT AccountId FROM Contact)", "Tags__c INCLUDES ('a;b')", "CALENDAR_YEAR(D) = 2024"} {
		if _, err := ParseCondition(ok, now); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"Name = 'a') OR (B = 1", "Name = 'a' LIMIT 5", "Name = 'a' ORDER BY Name", "Name = 'a'; x", "", "Name = :x"} {
		if _, err := ParseCondition(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDateLiteralsCoverTheirPeriods(t *testing.T) {
	now := time.Date(2024, 5, 15, 12, 0, 0, 0, time.UTC) // a Wednesday in Q2
	day := func(s string) time.Time { d, _ := time.Parse("2006-01-02", s); return d }
	for lit, want := range map[string][2]string{
		"THIS_WEEK":         {"2024-05-12", "2024-05-19"},
		"LAST_WEEK":         {"2024-05-05", "2024-05-12"},
		"NEXT_MONTH":        {"2024-06-01", "2024-07-01"},
		"THIS_QUARTER":      {"2024-04-01", "2024-07-01"},
		"NEXT_FISCAL_YEAR":  {"2025-01-01", "2026-01-01"},
		"LAST_N_WEEKS:2":    {"2024-04-28", "2024-05-12"},
		"NEXT_N_QUARTERS:2": {"2024-07-01", "2025-01-01"},
		"N_YEARS_AGO:1":     {"2023-01-01", "2024-01-01"},
		"LAST_90_DAYS":      {"2024-02-15", "2024-05-16"},
		"N_DAYS_AGO:3":      {"2024-05-12", "2024-05-13"},
	} {
		q, err := Parse("SELECT Id FROM Account WHERE Since__c = "+lit, now)
		if err != nil {
			t.Fatalf("%s: %v", lit, err)
		}
		v := q.Where.(Cmp).Value
		if !v.From.Equal(day(want[0])) || !v.To.Equal(day(want[1])) {
			t.Errorf("%s = [%s, %s), want [%s, %s)", lit, v.From.Format("2006-01-02"), v.To.Format("2006-01-02"), want[0], want[1])
		}
	}
}

// IDs reports the ids WHERE requires of every match, so an org can look them up by its index: only
// when the object's own Id must equal one of them, whatever else is ANDed with it.
func TestIDsAreTheIdsWhereRequires(t *testing.T) {
	const a, b, c = "001000000000001AAA", "001000000000002AAA", "001000000000003"
	for _, tc := range []struct {
		q    string
		want []string // nil: no ids required
	}{
		{"SELECT Id FROM Account WHERE Id IN ('" + a + "', '" + b + "')", []string{a, b}},
		{"SELECT Id FROM Account WHERE Id = '" + c + "'", []string{c}},
		{"SELECT Id FROM Account a WHERE a.Id = '" + a + "' AND Name = 'x'", []string{a}},
		{"SELECT Id FROM Account WHERE Name = 'x' AND (Id IN ('" + a + "', '" + b + "') AND Id IN ('" + b + "'))", []string{b}},
		{"SELECT Id FROM Account WHERE Id IN ('" + a + "') OR Name = 'x'", nil},
		{"SELECT Id FROM Account WHERE NOT Id IN ('" + a + "')", nil},
		{"SELECT Id FROM Account WHERE Id NOT IN ('" + a + "')", nil},
		{"SELECT Id FROM Account WHERE Id != '" + a + "'", nil},
		{"SELECT Id FROM Account WHERE Id IN (SELECT AccountId FROM Contact)", nil},
		{"SELECT Id FROM Contact WHERE AccountId IN ('" + a + "')", nil},
		{"SELECT Id FROM Contact WHERE Account.Id = '" + a + "'", nil},
		{"SELECT Id FROM Account", nil},
	} {
		ids, ok := bind(t, tc.q).IDs()
		if ok != (tc.want != nil) || strings.Join(ids, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s: IDs() = %v, %v; want %v", tc.q, ids, ok, tc.want)
		}
	}
}
