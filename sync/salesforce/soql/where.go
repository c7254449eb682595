package soql

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// valueOf is a bound term outside aggregates: a field path, through an optional function
// (a date function, toLabel(), convertCurrency()).
type valueOf struct {
	col   *Column
	fn    string // "", a date function, TOLABEL
	typ   string // the result's type: the field's, "int" for date parts, "date" for DAY_ONLY
	field Field  // the column's last field
}

func (v *valueOf) eval(r Record) any {
	x := r.Value(v.col)
	if x == nil || v.fn == "" {
		return x
	}
	if v.fn == "TOLABEL" {
		s, _ := x.(string)
		return labelOf(v.field, s)
	}
	t, ok := x.(time.Time)
	if !ok {
		return nil
	}
	return dateFunctions[v.fn](t)
}

// labelOf returns a picklist value's label (each part of a multi-select value).
func labelOf(f Field, s string) string {
	if len(f.Labels) == 0 {
		return s
	}
	parts := strings.Split(s, ";")
	for i, p := range parts {
		if l, ok := f.Labels[p]; ok {
			parts[i] = l
		}
	}
	return strings.Join(parts, ";")
}

// value binds a term of WHERE, ORDER BY or GROUP BY (where says which, for messages).
func (bd *binder) value(t *Term, where string) (*valueOf, error) {
	switch {
	case t.Func == "":
		col, err := bd.column(t.Field)
		if err != nil {
			return nil, err
		}
		return &valueOf{col: col, typ: col.Last().Type, field: col.Last()}, nil
	case aggregates[t.Func]:
		return nil, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "Aggregate functions such as %s() cannot be used in %s", t.Func, where)
	case t.Func == "TOLABEL" || t.Func == "CONVERTCURRENCY":
		inner, err := bd.value(t.Arg, where)
		if err != nil {
			return nil, err
		}
		if inner.fn != "" {
			return nil, errAt(bd.q.Text, t.Arg.Pos, "MALFORMED_QUERY", "%s() cannot take %s()", t.Func, inner.fn)
		}
		if t.Func == "TOLABEL" {
			if !isPicklist(inner.typ) {
				return nil, errAt(bd.q.Text, t.Pos, "INVALID_FIELD", "toLabel() only applies to picklist fields: %s", inner.col.Name)
			}
			inner.fn = "TOLABEL"
		} else if !isNumber(inner.typ) {
			return nil, errAt(bd.q.Text, t.Pos, "INVALID_FIELD", "convertCurrency() only applies to currency fields: %s", inner.col.Name)
		}
		return inner, nil
	case dateFunctions[t.Func] != nil:
		arg := t.Arg
		if arg.Func == "CONVERTTIMEZONE" { // the org's time zone is UTC: convertTimezone() changes nothing
			arg = arg.Arg
		}
		if arg.Func != "" {
			return nil, errAt(bd.q.Text, arg.Pos, "MALFORMED_QUERY", "%s() cannot take %s()", t.Func, arg.Func)
		}
		col, err := bd.column(arg.Field)
		if err != nil {
			return nil, err
		}
		typ := col.Last().Type
		if typ != "date" && typ != "datetime" {
			return nil, errAt(bd.q.Text, t.Pos, "INVALID_FIELD", "%s() needs a date or dateTime field; %s is %s", t.Func, col.Name, typ)
		}
		if (t.Func == "DAY_ONLY" || t.Func == "HOUR_IN_DAY") && typ != "datetime" {
			return nil, errAt(bd.q.Text, t.Pos, "INVALID_FIELD", "%s() needs a dateTime field; %s is a date", t.Func, col.Name)
		}
		out := &valueOf{col: col, fn: t.Func, typ: "int", field: col.Last()}
		if t.Func == "DAY_ONLY" {
			out.typ = "date"
		}
		return out, nil
	case t.Func == "CONVERTTIMEZONE":
		return nil, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "convertTimezone() can only be used inside a date function")
	}
	return nil, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "%s() cannot be used in %s", t.Func, where)
}

func isNumber(typ string) bool {
	switch typ {
	case "int", "long", "double", "currency", "percent":
		return true
	}
	return false
}

// logical compiles AND, OR and NOT over the conditions leaf compiles (WHERE's and HAVING's).
func logical(e Expr, leaf func(Expr) (func(Record) bool, error)) (func(Record) bool, error) {
	switch x := e.(type) {
	case And:
		return pair(x.L, x.R, leaf, true)
	case Or:
		return pair(x.L, x.R, leaf, false)
	case Not:
		inner, err := logical(x.X, leaf)
		if err != nil {
			return nil, err
		}
		return func(rec Record) bool { return !inner(rec) }, nil
	}
	return leaf(e)
}

// pair compiles l AND r (and) or l OR r.
func pair(l, r Expr, leaf func(Expr) (func(Record) bool, error), and bool) (func(Record) bool, error) {
	lf, err := logical(l, leaf)
	if err != nil {
		return nil, err
	}
	rf, err := logical(r, leaf)
	if err != nil {
		return nil, err
	}
	if and {
		return func(rec Record) bool { return lf(rec) && rf(rec) }, nil
	}
	return func(rec Record) bool { return lf(rec) || rf(rec) }, nil
}

func (bd *binder) compile(e Expr) (func(Record) bool, error) {
	return logical(e, func(e Expr) (func(Record) bool, error) {
		switch x := e.(type) {
		case Cmp:
			v, err := bd.filterValue(x.Left)
			if err != nil {
				return nil, err
			}
			return bd.cmp(v, x.Op, x.Value)
		case In:
			v, err := bd.filterValue(x.Left)
			if err != nil {
				return nil, err
			}
			return bd.in(v, x)
		}
		return nil, fmt.Errorf("soql: unknown expression %T", e)
	})
}

// requiredIDs returns the ids an AND of conditions requires through one of them, Id = 'x' or
// Id IN ('x', …) of the object's own Id (the intersection when several do).
func (bd *binder) requiredIDs(e Expr) ([]string, bool) {
	switch x := e.(type) {
	case And:
		l, lok := bd.requiredIDs(x.L)
		r, rok := bd.requiredIDs(x.R)
		switch {
		case lok && rok:
			keep := map[string]bool{}
			for _, id := range r {
				keep[idKey(id)] = true
			}
			return slices.DeleteFunc(l, func(id string) bool { return !keep[idKey(id)] }), true
		case lok:
			return l, true
		}
		return r, rok
	case Cmp:
		if x.Op == "=" && x.Value.Kind == VString && bd.isOwnID(x.Left) {
			return []string{x.Value.Str}, true
		}
	case In:
		if x.Op != "IN" || x.Sub != nil || !bd.isOwnID(x.Left) {
			return nil, false
		}
		ids := make([]string, 0, len(x.Values))
		for _, v := range x.Values {
			if v.Kind != VString {
				return nil, false
			}
			ids = append(ids, v.Str)
		}
		return ids, true
	}
	return nil, false
}

// isOwnID reports whether a condition's term is the queried object's own Id field, as written.
func (bd *binder) isOwnID(t *Term) bool {
	if t == nil || t.Func != "" {
		return false
	}
	col, err := bd.column(t.Field)
	return err == nil && len(col.Path) == 1 && col.Last().Type == "id" && strings.EqualFold(col.Last().Name, "Id")
}

// filterValue binds the left side of a condition, which must be a filterable field.
func (bd *binder) filterValue(t *Term) (*valueOf, error) {
	v, err := bd.value(t, "WHERE")
	if err != nil {
		return nil, err
	}
	if v.field.NoFilter {
		return nil, errAt(bd.q.Text, t.Pos, "INVALID_FIELD", "field '%s' can not be filtered in a query call", v.field.Name)
	}
	if v.fn == "" {
		bd.noteDeleted(v.col)
	}
	return v, nil
}

func (bd *binder) in(v *valueOf, x In) (func(Record) bool, error) {
	if x.Sub != nil {
		return bd.semiJoin(v, x)
	}
	if x.Op == "INCLUDES" || x.Op == "EXCLUDES" {
		if v.typ != "multipicklist" {
			return nil, errAt(bd.q.Text, x.Left.Pos, "INVALID_FIELD", "includes or excludes operator only valid on multipicklist field")
		}
		// INCLUDES ('A;B', 'C'): A and B both selected, or C selected.
		var sets [][]string
		for _, val := range x.Values {
			if val.Kind != VString {
				return nil, typeError(bd.q.Text, val, v.field.Name, "string")
			}
			sets = append(sets, splitMulti(val.Str))
		}
		any := func(r Record) bool {
			s, _ := v.eval(r).(string)
			have := splitMulti(s)
			for _, want := range sets {
				if len(want) > 0 && !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(have, w) }) {
					return true
				}
			}
			return false
		}
		if x.Op == "EXCLUDES" {
			return func(r Record) bool { return !any(r) }, nil
		}
		return any, nil
	}
	var tests []func(Record) bool
	for _, val := range x.Values {
		t, err := bd.cmp(v, "=", val)
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
	if keys := inKeys(v.typ, x.Values); keys != nil {
		// A list of ids (or strings) is looked up, the field read once: Salesforce answers
		// "Id IN (300 ids)" from its index, not by comparing every record with every id.
		slow := anyOf
		anyOf = func(r Record) bool {
			switch got := v.eval(r).(type) {
			case nil:
				return false
			case string:
				return keys[inKey(v.typ, got)]
			default:
				return slow(r)
			}
		}
	}
	if x.Op == "NOT IN" {
		return func(r Record) bool { return !anyOf(r) }, nil
	}
	return anyOf, nil
}

// semiJoin binds Id IN (SELECT AccountId FROM Contact …) and its NOT IN (anti-join) form.
func (bd *binder) semiJoin(v *valueOf, x In) (func(Record) bool, error) {
	if v.fn != "" || (v.typ != "id" && v.typ != "reference") {
		return nil, errAt(bd.q.Text, x.Left.Pos, "INVALID_FIELD", "a semi-join's field must be an Id or a reference field: %s", x.Left.String())
	}
	sub, err := Bind(x.Sub, bd.s)
	if err != nil {
		return nil, err
	}
	if sub.Aggregated || sub.Count || len(sub.Outputs) != 1 || sub.Outputs[0].Column == nil || sub.Outputs[0].Label || sub.Outputs[0].Format {
		return nil, errAt(bd.q.Text, x.Sub.Pos, "MALFORMED_QUERY", "a semi-join subquery selects exactly one Id or reference field")
	}
	if typ := sub.Columns[0].Last().Type; typ != "id" && typ != "reference" {
		return nil, errAt(bd.q.Text, x.Sub.Pos, "INVALID_FIELD", "a semi-join subquery selects an Id or a reference field, not %s", sub.Columns[0].Name)
	}
	sj := &SemiJoin{Sub: sub}
	bd.semi = append(bd.semi, sj)
	in := func(r Record) bool { return sj.has(v.eval(r)) }
	if x.Op == "NOT IN" {
		return func(r Record) bool { return !in(r) }, nil
	}
	return in, nil
}

// splitMulti splits a multi-select value into its lower-case parts.
func splitMulti(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ";") {
		if p = strings.ToLower(strings.TrimSpace(p)); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func typeError(q string, v Value, field, want string) *Error {
	return &Error{Code: "INVALID_FIELD", Message: located(q, v.Pos, fmt.Sprintf("value of filter criterion for field '%s' must be of type %s and should not be enclosed in quotes", field, want))}
}

// cmp compiles value <op> literal with Salesforce's typing rules.
func (bd *binder) cmp(v *valueOf, op string, lit Value) (func(Record) bool, error) {
	name := v.field.Name
	if v.fn != "" {
		name = v.fn + "(" + v.col.Name + ")"
	}
	if lit.Kind == VNull {
		switch op {
		case "=":
			return func(r Record) bool { return v.eval(r) == nil }, nil
		case "!=", "<>":
			return func(r Record) bool { return v.eval(r) != nil }, nil
		}
		return nil, &Error{Code: "MALFORMED_QUERY", Message: located(bd.q.Text, lit.Pos, "null can only be compared with = or !=")}
	}
	if op == "LIKE" {
		if v.typ == "multipicklist" {
			return nil, errAt(bd.q.Text, lit.Pos, "INVALID_FIELD", "invalid operator on multipicklist field")
		}
		re := likeRegexp(lit.Str)
		return func(r Record) bool {
			s, ok := v.eval(r).(string)
			return ok && re.MatchString(s)
		}, nil
	}
	var want any
	switch v.typ {
	case "boolean":
		if lit.Kind != VBool {
			return nil, typeError(bd.q.Text, lit, name, "boolean")
		}
		want = lit.Bool
	case "int", "long", "double", "currency", "percent":
		if lit.Kind != VNumber {
			return nil, typeError(bd.q.Text, lit, name, map[bool]string{true: "int", false: "double"}[v.typ == "int"])
		}
		want = lit.Num
	case "date", "datetime":
		kind, typeName := VDate, "date"
		if v.typ == "datetime" {
			kind, typeName = VDateTime, "dateTime"
		}
		switch lit.Kind {
		case kind:
			want = lit.Time
		case VDateRange:
			return rangeCmp(v, op, lit.From, lit.To), nil
		default:
			return nil, typeError(bd.q.Text, lit, name, typeName)
		}
	case "time":
		if lit.Kind != VTime {
			return nil, typeError(bd.q.Text, lit, name, "time")
		}
		want = lit.Time
	case "multipicklist":
		if lit.Kind != VString {
			return nil, &Error{Code: "INVALID_FIELD", Message: located(bd.q.Text, lit.Pos, fmt.Sprintf("value of filter criterion for field '%s' must be of type string and should be enclosed in quotes", name))}
		}
		if op != "=" && op != "!=" && op != "<>" {
			return nil, errAt(bd.q.Text, lit.Pos, "INVALID_FIELD", "invalid operator on multipicklist field")
		}
		// = 'A;B' matches exactly A and B selected, in any order.
		want := splitMulti(lit.Str)
		slices.Sort(want)
		return func(r Record) bool {
			s, _ := v.eval(r).(string)
			have := splitMulti(s)
			slices.Sort(have)
			return slices.Equal(have, want) == (op == "=")
		}, nil
	default:
		if lit.Kind != VString {
			return nil, &Error{Code: "INVALID_FIELD", Message: located(bd.q.Text, lit.Pos, fmt.Sprintf("value of filter criterion for field '%s' must be of type string and should be enclosed in quotes", name))}
		}
		if (v.typ == "id" || v.typ == "reference") && lit.Str != "" && !validID(lit.Str) {
			return nil, errAt(bd.q.Text, lit.Pos, "INVALID_QUERY_FILTER_OPERATOR", "invalid ID field: %s", lit.Str)
		}
		want = lit.Str
		if lit.Str == "" && (v.typ == "id" || v.typ == "reference") {
			want = nil // '' is no id at all
		}
	}
	return func(r Record) bool {
		got := v.eval(r)
		if got == nil || want == nil {
			eq := got == nil && want == nil
			switch op {
			case "=":
				return eq
			case "!=", "<>":
				return !eq
			}
			return false
		}
		if t, ok := got.(time.Time); ok && v.typ == "datetime" {
			// Salesforce ignores the milliseconds of stored datetimes when filtering: a record
			// stamped 10:00:00.250 is not "> 10:00:00Z".
			got = t.Truncate(time.Second)
		}
		c := compareValues(v.typ, got, want, false)
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

// validID reports a well-formed 15- or 18-character id.
func validID(s string) bool {
	if len(s) != 15 && len(s) != 18 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// rangeCmp compares a date or datetime with a date literal's [from, to) range.
func rangeCmp(v *valueOf, op string, from, to time.Time) func(Record) bool {
	return func(r Record) bool {
		t, ok := v.eval(r).(time.Time)
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

// compareRanked orders two values of a type, picklists by their defined order (rank); nil sorts
// first unless nilLast.
func compareRanked(typ string, rank map[string]int, a, b any, nilLast bool) int {
	if rank != nil && a != nil && b != nil {
		x, _ := a.(string)
		y, _ := b.(string)
		rx, okx := rank[strings.ToLower(x)]
		ry, oky := rank[strings.ToLower(y)]
		switch {
		case okx && oky:
			return rx - ry
		case okx:
			return -1 // values the picklist does not define sort after its own
		case oky:
			return 1
		}
	}
	return compareValues(typ, a, b, nilLast)
}

// compareValues orders two values of a type; nil sorts first unless nilLast.
// inKeys is the set of an IN list's values as compareValues matches strings of a field of type typ
// (ids by their 15-character form, other strings case-insensitively), or nil when the list or the
// type is not of strings compared that way.
func inKeys(typ string, values []Value) map[string]bool {
	switch typ {
	case "boolean", "int", "long", "double", "currency", "percent", "date", "datetime", "time", "multipicklist":
		return nil
	}
	keys := make(map[string]bool, len(values))
	for _, val := range values {
		if val.Kind != VString || val.Str == "" {
			return nil
		}
		keys[inKey(typ, val.Str)] = true
	}
	return keys
}

func inKey(typ, s string) string {
	if typ == "id" || typ == "reference" {
		return idKey(s)
	}
	return strings.ToLower(s)
}

func compareValues(typ string, a, b any, nilLast bool) int {
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
		if typ == "id" || typ == "reference" {
			// Ids compare case-sensitively on their 15-character form.
			return strings.Compare(idKey(x), idKey(y))
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
