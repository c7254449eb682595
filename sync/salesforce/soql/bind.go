package soql

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Schema resolves object names for binding.
type Schema interface {
	Object(name string) (Object, bool)
}

// Object is an sObject as the binder sees it.
type Object interface {
	Name() string
	// Field returns a field by name, case-insensitively, with its canonical name.
	Field(name string) (Field, bool)
	// Relationship returns the reference field whose relationship name is rel, and the object it points to.
	Relationship(rel string) (Field, Object, bool)
	// Fields returns every field, for FIELDS(ALL).
	Fields() []Field
}

// Field is one field of an object.
type Field struct {
	Name   string
	Type   string // describe type: id, reference, string, boolean, int, double, currency, percent, date, datetime, ...
	Custom bool
	Index  int // the org's own handle (e.g. column ordinal); opaque to soql
	// Relationship is a reference field's relationship name (AccountId → Account).
	Relationship string
}

// Step is one hop of a field path: a reference field followed to its parent, or the final field.
type Step struct {
	Object Object
	Field  Field
}

// Column is a resolved field path such as Account.Owner.Name.
type Column struct {
	Path []Step
	Name string // canonical dotted name, e.g. "Account.Name"
}

// Last returns the final field of the path.
func (c *Column) Last() Field { return c.Path[len(c.Path)-1].Field }

// Record gives the evaluator field values: string, bool, float64, time.Time or nil.
type Record interface {
	Value(c *Column) any
}

// Bound is a query resolved against a schema, ready to run.
type Bound struct {
	Query   *Query
	Object  Object
	Columns []*Column // the select list (FIELDS() expanded)
	Count   bool
	Limit   int // -1: none
	Offset  int // -1: none
	// MentionsIsDeleted reports whether WHERE tests IsDeleted (queryAll semantics then apply as written).
	MentionsIsDeleted bool

	match func(Record) bool
	order []orderKey
}

type orderKey struct {
	col       *Column
	desc      bool
	nullsLast bool
}

// Match reports whether a record satisfies WHERE.
func (b *Bound) Match(r Record) bool { return b.match == nil || b.match(r) }

// Sorted reports whether the query has ORDER BY.
func (b *Bound) Sorted() bool { return len(b.order) > 0 }

// Compare orders two records by ORDER BY.
func (b *Bound) Compare(x, y Record) int {
	for _, k := range b.order {
		c := compareValues(k.col.Last(), x.Value(k.col), y.Value(k.col), k.nullsLast != k.desc)
		if k.desc {
			c = -c
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

type binder struct {
	q   *Query
	s   Schema
	obj Object
	del bool
}

// Bind resolves a parsed query's names and types against a schema.
func Bind(q *Query, s Schema) (*Bound, error) {
	obj, ok := s.Object(q.Object.Name)
	if !ok {
		return nil, &Error{Code: "INVALID_TYPE", Message: located(q.Text, q.Object.Pos, fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.Object.Name))}
	}
	bd := &binder{q: q, s: s, obj: obj}
	b := &Bound{Query: q, Object: obj, Count: q.Count, Limit: q.Limit, Offset: q.Offset}
	if q.FieldsX != "" {
		if q.Limit < 0 || q.Limit > 200 {
			if q.FieldsX != "STANDARD" {
				return nil, &Error{Code: "MALFORMED_QUERY", Message: located(q.Text, 0, "The SOQL FIELDS function must have a LIMIT of at most 200")}
			}
		}
		for _, f := range obj.Fields() {
			if q.FieldsX == "ALL" || (q.FieldsX == "CUSTOM") == f.Custom {
				b.Columns = append(b.Columns, &Column{Path: []Step{{obj, f}}, Name: f.Name})
			}
		}
	}
	seen := map[string]bool{}
	for _, c := range b.Columns {
		seen[strings.ToLower(c.Name)] = true
	}
	for _, f := range q.Fields {
		col, err := bd.column(f)
		if err != nil {
			return nil, err
		}
		if seen[strings.ToLower(col.Name)] {
			return nil, &Error{Code: "MALFORMED_QUERY", Message: located(q.Text, f.Pos, fmt.Sprintf("duplicate field selected: %s", col.Name))}
		}
		seen[strings.ToLower(col.Name)] = true
		b.Columns = append(b.Columns, col)
	}
	if q.Where != nil {
		m, err := bd.compile(q.Where)
		if err != nil {
			return nil, err
		}
		b.match = m
	}
	b.MentionsIsDeleted = bd.del
	for _, o := range q.OrderBy {
		col, err := bd.column(o.Field)
		if err != nil {
			return nil, err
		}
		b.order = append(b.order, orderKey{col: col, desc: o.Desc, nullsLast: o.NullsLast})
	}
	return b, nil
}

// column resolves a dotted path: relationship names, then a field.
func (bd *binder) column(ref FieldRef) (*Column, error) {
	parts := strings.Split(ref.Name, ".")
	obj := bd.obj
	// A path may start with the object's own name ("Account.Name" in FROM Account).
	if len(parts) > 1 && strings.EqualFold(parts[0], obj.Name()) {
		if _, _, isRel := obj.Relationship(parts[0]); !isRel {
			parts = parts[1:]
		}
	}
	if len(parts) > 6 {
		return nil, &Error{Code: "MALFORMED_QUERY", Message: located(bd.q.Text, ref.Pos, "SOQL statements cannot query relationships more than 5 levels away from the root entity object.")}
	}
	col := &Column{}
	var names []string
	for i, part := range parts {
		if i < len(parts)-1 {
			f, parent, ok := obj.Relationship(part)
			if !ok {
				return nil, &Error{Code: "INVALID_FIELD", Message: located(bd.q.Text, ref.Pos, fmt.Sprintf("Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", part))}
			}
			col.Path = append(col.Path, Step{obj, f})
			rel := f.Relationship
			if rel == "" {
				rel = part
			}
			names = append(names, rel)
			obj = parent
			continue
		}
		f, ok := obj.Field(part)
		if !ok {
			return nil, &Error{Code: "INVALID_FIELD", Message: located(bd.q.Text, ref.Pos, fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", part, obj.Name()))}
		}
		col.Path = append(col.Path, Step{obj, f})
		names = append(names, f.Name)
	}
	col.Name = strings.Join(names, ".")
	return col, nil
}

func (bd *binder) compile(e Expr) (func(Record) bool, error) {
	switch x := e.(type) {
	case And:
		l, err := bd.compile(x.L)
		if err != nil {
			return nil, err
		}
		r, err := bd.compile(x.R)
		if err != nil {
			return nil, err
		}
		return func(rec Record) bool { return l(rec) && r(rec) }, nil
	case Or:
		l, err := bd.compile(x.L)
		if err != nil {
			return nil, err
		}
		r, err := bd.compile(x.R)
		if err != nil {
			return nil, err
		}
		return func(rec Record) bool { return l(rec) || r(rec) }, nil
	case Not:
		inner, err := bd.compile(x.X)
		if err != nil {
			return nil, err
		}
		return func(rec Record) bool { return !inner(rec) }, nil
	case Cmp:
		col, err := bd.column(x.Field)
		if err != nil {
			return nil, err
		}
		bd.noteDeleted(col)
		return bd.cmp(col, x.Op, x.Value)
	case In:
		col, err := bd.column(x.Field)
		if err != nil {
			return nil, err
		}
		bd.noteDeleted(col)
		var tests []func(Record) bool
		for _, v := range x.Values {
			if x.Op == "INCLUDES" || x.Op == "EXCLUDES" {
				want := strings.ToLower(v.Str)
				tests = append(tests, func(r Record) bool {
					s, _ := r.Value(col).(string)
					for _, part := range strings.Split(s, ";") {
						if strings.ToLower(strings.TrimSpace(part)) == want {
							return true
						}
					}
					return false
				})
				continue
			}
			t, err := bd.cmp(col, "=", v)
			if err != nil {
				return nil, err
			}
			tests = append(tests, t)
		}
		anyOf := func(r Record) bool {
			for _, t := range tests {
				if t(r) {
					return true
				}
			}
			return false
		}
		if x.Op == "NOT IN" || x.Op == "EXCLUDES" {
			return func(r Record) bool { return !anyOf(r) }, nil
		}
		return anyOf, nil
	}
	return nil, fmt.Errorf("soql: unknown expression %T", e)
}

func (bd *binder) noteDeleted(col *Column) {
	if len(col.Path) == 1 && strings.EqualFold(col.Last().Name, "IsDeleted") {
		bd.del = true
	}
}

func typeError(q string, v Value, field, want string) *Error {
	return &Error{Code: "INVALID_FIELD", Message: located(q, v.Pos, fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", field, want))}
}

// cmp compiles field <op> value with Salesforce's typing rules.
func (bd *binder) cmp(col *Column, op string, v Value) (func(Record) bool, error) {
	f := col.Last()
	typ := strings.ToLower(f.Type)
	if v.Kind == VNull {
		switch op {
		case "=":
			return func(r Record) bool { return r.Value(col) == nil }, nil
		case "!=", "<>":
			return func(r Record) bool { return r.Value(col) != nil }, nil
		}
		return nil, &Error{Code: "MALFORMED_QUERY", Message: located(bd.q.Text, v.Pos, "null can only be compared with = or !=")}
	}
	if op == "LIKE" {
		re := likeRegexp(v.Str)
		return func(r Record) bool {
			s, ok := r.Value(col).(string)
			return ok && re.MatchString(s)
		}, nil
	}
	var want any
	switch typ {
	case "boolean":
		if v.Kind != VBool {
			return nil, typeError(bd.q.Text, v, f.Name, "boolean")
		}
		want = v.Bool
	case "int", "long", "double", "currency", "percent":
		if v.Kind != VNumber {
			return nil, typeError(bd.q.Text, v, f.Name, map[bool]string{true: "int", false: "double"}[typ == "int"])
		}
		want = v.Num
	case "date":
		switch v.Kind {
		case VDate:
			want = v.Time
		case VDateRange:
			return rangeCmp(col, op, v.From, v.To), nil
		default:
			return nil, typeError(bd.q.Text, v, f.Name, "date")
		}
	case "datetime":
		switch v.Kind {
		case VDateTime:
			want = v.Time
		case VDateRange:
			return rangeCmp(col, op, v.From, v.To), nil
		default:
			return nil, typeError(bd.q.Text, v, f.Name, "dateTime")
		}
	default:
		if v.Kind != VString {
			return nil, &Error{Code: "INVALID_FIELD", Message: located(bd.q.Text, v.Pos, fmt.Sprintf("value of filter criterion for field '%s' must be of type string and should be enclosed in quotes", f.Name))}
		}
		want = v.Str
	}
	return func(r Record) bool {
		got := r.Value(col)
		if got == nil {
			return op == "!=" || op == "<>"
		}
		if t, ok := got.(time.Time); ok {
			// Salesforce ignores the milliseconds of stored datetimes when filtering: a record
			// stamped 10:00:00.250 is not "> 10:00:00Z".
			got = t.Truncate(time.Second)
		}
		c := compareValues(f, got, want, false)
		switch op {
		case "=":
			return c == 0
		case "!=", "<>":
			return c != 0
		case "<":
			return c < 0
		case "<=":
			return c <= 0
		case ">":
			return c > 0
		case ">=":
			return c >= 0
		}
		return false
	}, nil
}

// rangeCmp compares a date or datetime with a date literal's [from, to) range.
func rangeCmp(col *Column, op string, from, to time.Time) func(Record) bool {
	return func(r Record) bool {
		t, ok := r.Value(col).(time.Time)
		if !ok {
			return op == "!=" || op == "<>"
		}
		switch op {
		case "=":
			return !t.Before(from) && t.Before(to)
		case "!=", "<>":
			return t.Before(from) || !t.Before(to)
		case "<":
			return t.Before(from)
		case "<=":
			return t.Before(to)
		case ">":
			return !t.Before(to)
		case ">=":
			return !t.Before(from)
		}
		return false
	}
}

// compareValues orders two values of a field; nil sorts first unless nilLast.
func compareValues(f Field, a, b any, nilLast bool) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		if nilLast {
			return 1
		}
		return -1
	case b == nil:
		if nilLast {
			return -1
		}
		return 1
	}
	switch x := a.(type) {
	case string:
		y, _ := b.(string)
		typ := strings.ToLower(f.Type)
		if typ == "id" || typ == "reference" {
			// Ids compare case-sensitively on their 15-character form.
			return strings.Compare(x[:min(15, len(x))], y[:min(15, len(y))])
		}
		return strings.Compare(strings.ToLower(x), strings.ToLower(y))
	case float64:
		y, _ := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case bool:
		y, _ := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		y, _ := b.(time.Time)
		return x.Compare(y)
	}
	return 0
}

// likeRegexp turns a LIKE pattern into a case-insensitive regexp: % any run, _ one character, \% and \_ literal.
func likeRegexp(p string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString("(?is)^")
	for i := 0; i < len(p); i++ {
		switch c := p[i]; c {
		case '\\':
			if i+1 < len(p) {
				i++
				b.WriteString(regexp.QuoteMeta(string(p[i])))
			}
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}
