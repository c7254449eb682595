package soql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Query is a parsed SELECT: a statement, a parent-to-child subquery in a select list, or a
// semi-join's subquery in a condition.
type Query struct {
	Text     string
	Items    []Item   // the select list
	Count    bool     // SELECT COUNT()
	Object   FieldRef // FROM: an object, or a child relationship in a subquery
	Alias    string   // FROM Contact c
	Scope    FieldRef // USING SCOPE; Name is "" when absent
	Where    Expr     // nil when absent
	Security bool     // WITH SECURITY_ENFORCED
	GroupBy  []*Term
	Rollup   string // "ROLLUP" or "CUBE" for GROUP BY ROLLUP(...) / CUBE(...)
	Having   Expr
	OrderBy  []Order
	Limit    int    // -1 when absent
	Offset   int    // -1 when absent
	For      string // FOR VIEW, REFERENCE or UPDATE
	Pos      int    // where the SELECT starts
}

// Item is one entry of the select list: exactly one of Term, Fields, Sub and TypeOf is set.
type Item struct {
	Term     *Term
	Alias    string
	AliasPos int
	Fields   string // FIELDS(ALL|STANDARD|CUSTOM), upper case
	Sub      *Query // (SELECT ... FROM ChildRelationship)
	TypeOf   *TypeOf
	Pos      int
}

// Term is a field path, or a function of one: CALENDAR_YEAR(CreatedDate), COUNT(Id), COUNT(),
// toLabel(Status), FORMAT(MIN(CloseDate)). Func is upper case; Arg is nil for a plain field and for COUNT().
type Term struct {
	Func  string
	Arg   *Term
	Field FieldRef
	Pos   int
}

// String is the term as Salesforce names it in messages: "Name", "COUNT(Id)".
func (t *Term) String() string {
	if t.Func == "" {
		return t.Field.Name
	}
	if t.Arg == nil {
		return t.Func + "()"
	}
	return t.Func + "(" + t.Arg.String() + ")"
}

// key identifies a term for matching GROUP BY and SELECT entries, case-insensitively.
func (t *Term) key() string { return strings.ToLower(t.String()) }

// TypeOf is TYPEOF Rel WHEN Type THEN fields … [ELSE fields] END.
type TypeOf struct {
	Field FieldRef // the polymorphic relationship: What, Who, Owner
	Whens []When
	Else  []FieldRef
}

// When is one branch of a TYPEOF.
type When struct {
	Type   FieldRef
	Fields []FieldRef
}

// FieldRef is a dotted name as written, with its position for error messages.
type FieldRef struct {
	Name string
	Pos  int
}

// Order is one ORDER BY key.
type Order struct {
	Term       *Term
	Desc       bool
	NullsLast  bool
	NullsGiven bool
}

// Expr is a WHERE or HAVING condition.
type Expr interface{ expr() }

// And, Or, Not combine conditions.
type (
	And struct{ L, R Expr }
	Or  struct{ L, R Expr }
	Not struct{ X Expr }
	// Cmp compares a term with a value: = != < <= > >= LIKE.
	Cmp struct {
		Left  *Term
		Op    string
		Value Value
	}
	// In tests membership: IN, NOT IN (of values or of a semi-join's subquery), INCLUDES, EXCLUDES.
	In struct {
		Left   *Term
		Op     string // IN, NOT IN, INCLUDES, EXCLUDES
		Values []Value
		Sub    *Query
	}
)

func (And) expr() {}
func (Or) expr()  {}
func (Not) expr() {}
func (Cmp) expr() {}
func (In) expr()  {}

// ValueKind says what a literal is.
type ValueKind int

// Literal kinds.
const (
	VString ValueKind = iota
	VNumber
	VBool
	VNull
	VDate
	VDateTime
	VDateRange // TODAY, LAST_N_DAYS:n, ...: a half-open range of days
	VTime
)

// Value is a literal.
type Value struct {
	Kind     ValueKind
	Str      string
	Num      float64
	Bool     bool
	Time     time.Time // VDate (midnight UTC), VDateTime, VTime (on 1970-01-01)
	From, To time.Time // VDateRange: [From, To)
	Pos      int
	Text     string
}

type parser struct {
	q    string
	toks []token
	i    int
	now  time.Time
}

// Parse parses a SOQL statement. now fixes date literals such as TODAY.
func Parse(q string, now time.Time) (*Query, error) {
	toks, lerr := lex(q)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{q: q, toks: toks, now: now.UTC()}
	query, err := p.query(false)
	if err != nil {
		return nil, err
	}
	return query, nil
}

// ParseCondition parses a WHERE condition on its own (a mapping's record filter): it must be one
// condition, so "A = 1) OR (B = 2" or "A = 1 LIMIT 5" are refused.
func ParseCondition(cond string, now time.Time) (Expr, error) {
	toks, lerr := lex(cond)
	if lerr != nil {
		return nil, lerr
	}
	p := &parser{q: cond, toks: toks, now: now.UTC()}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return e, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(n int) token {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isKW(t token, kw string) bool {
	return t.kind == tIdent && strings.EqualFold(t.text, kw)
}

func (p *parser) expectKW(kw string) error {
	t := p.next()
	if !p.isKW(t, kw) {
		return p.unexpected(t)
	}
	return nil
}

func (p *parser) expect(kind tokKind) (token, error) {
	t := p.next()
	if t.kind != kind {
		return t, p.unexpected(t)
	}
	return t, nil
}

func (p *parser) unexpected(t token) *Error {
	if t.kind == tEOF {
		return malformed(p.q, t, "unexpected token: <EOF>")
	}
	return malformed(p.q, t, fmt.Sprintf("unexpected token: '%s'", t.text))
}

// reserved words cannot name fields or aliases.
var reserved = map[string]bool{"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "IN": true, "LIKE": true,
	"ORDER": true, "BY": true, "LIMIT": true, "OFFSET": true, "ASC": true, "DESC": true, "NULLS": true, "INCLUDES": true, "EXCLUDES": true,
	"GROUP": true, "HAVING": true, "USING": true, "WITH": true, "FOR": true, "TYPEOF": true, "WHEN": true, "THEN": true, "ELSE": true,
	"END": true, "NULL": true, "TRUE": true, "FALSE": true, "UPDATE": true}

func (p *parser) isReserved(t token) bool {
	return t.kind == tIdent && reserved[strings.ToUpper(t.text)]
}

// functions are the names that take an argument in parentheses.
var functions = map[string]bool{"COUNT": true, "COUNT_DISTINCT": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true,
	"CALENDAR_MONTH": true, "CALENDAR_QUARTER": true, "CALENDAR_YEAR": true, "DAY_IN_MONTH": true, "DAY_IN_WEEK": true,
	"DAY_IN_YEAR": true, "DAY_ONLY": true, "FISCAL_MONTH": true, "FISCAL_QUARTER": true, "FISCAL_YEAR": true, "HOUR_IN_DAY": true,
	"WEEK_IN_MONTH": true, "WEEK_IN_YEAR": true, "CONVERTTIMEZONE": true, "CONVERTCURRENCY": true, "TOLABEL": true, "FORMAT": true,
	"GROUPING": true, "DISTANCE": true, "GEOLOCATION": true}

func (p *parser) query(sub bool) (*Query, error) {
	start := p.peek()
	q := &Query{Text: p.q, Limit: -1, Offset: -1, Pos: start.pos}
	if err := p.expectKW("SELECT"); err != nil {
		return nil, err
	}
	if err := p.selectList(q); err != nil {
		return nil, err
	}
	if err := p.expectKW("FROM"); err != nil {
		return nil, err
	}
	obj := p.next()
	if obj.kind != tIdent { // any name, reserved or not: Order is an object
		return nil, p.unexpected(obj)
	}
	q.Object = FieldRef{obj.text, obj.pos}
	if t := p.peek(); t.kind == tIdent && !p.isReserved(t) {
		q.Alias = p.next().text
	}
	if p.isKW(p.peek(), "USING") {
		p.next()
		if err := p.expectKW("SCOPE"); err != nil {
			return nil, err
		}
		s := p.next()
		if s.kind != tIdent || p.isReserved(s) {
			return nil, p.unexpected(s)
		}
		q.Scope = FieldRef{s.text, s.pos}
	}
	if p.isKW(p.peek(), "WHERE") {
		p.next()
		w, err := p.or()
		if err != nil {
			return nil, err
		}
		q.Where = w
	}
	if p.isKW(p.peek(), "WITH") {
		p.next()
		t := p.next()
		if !p.isKW(t, "SECURITY_ENFORCED") {
			return nil, p.unexpected(t)
		}
		q.Security = true
	}
	if p.isKW(p.peek(), "GROUP") {
		p.next()
		if err := p.expectKW("BY"); err != nil {
			return nil, err
		}
		if err := p.groupBy(q); err != nil {
			return nil, err
		}
	}
	if p.isKW(p.peek(), "HAVING") {
		p.next()
		h, err := p.or()
		if err != nil {
			return nil, err
		}
		q.Having = h
	}
	if p.isKW(p.peek(), "ORDER") {
		p.next()
		if err := p.expectKW("BY"); err != nil {
			return nil, err
		}
		if err := p.orderBy(q); err != nil {
			return nil, err
		}
	}
	if p.isKW(p.peek(), "LIMIT") {
		p.next()
		n, err := p.count()
		if err != nil {
			return nil, err
		}
		q.Limit = n
	}
	if p.isKW(p.peek(), "OFFSET") {
		p.next()
		t := p.peek()
		n, err := p.count()
		if err != nil {
			return nil, err
		}
		if n > 2000 {
			return nil, &Error{Code: "NUMBER_OUTSIDE_VALID_RANGE", Message: located(p.q, t.pos, "Maximum SOQL offset allowed is 2000")}
		}
		q.Offset = n
	}
	if p.isKW(p.peek(), "FOR") {
		p.next()
		t := p.next()
		switch u := strings.ToUpper(t.text); {
		case t.kind == tIdent && (u == "VIEW" || u == "REFERENCE" || u == "UPDATE"):
			q.For = u
		default:
			return nil, p.unexpected(t)
		}
	}
	if sub {
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
	} else if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return q, nil
}

func (p *parser) groupBy(q *Query) error {
	if t := p.peek(); (p.isKW(t, "ROLLUP") || p.isKW(t, "CUBE")) && p.peekAt(1).kind == tLParen {
		q.Rollup = strings.ToUpper(p.next().text)
		p.next()
		terms, err := p.termList()
		if err != nil {
			return err
		}
		q.GroupBy = terms
		_, err = p.expect(tRParen)
		return err
	}
	terms, err := p.termList()
	q.GroupBy = terms
	return err
}

func (p *parser) termList() ([]*Term, error) {
	var out []*Term
	for {
		t, err := p.term()
		if err != nil {
			return nil, err
		}
		out = append(out, t)
		if p.peek().kind != tComma {
			return out, nil
		}
		p.next()
	}
}

func (p *parser) orderBy(q *Query) error {
	for {
		t, err := p.term()
		if err != nil {
			return err
		}
		o := Order{Term: t}
		if p.isKW(p.peek(), "ASC") {
			p.next()
		} else if p.isKW(p.peek(), "DESC") {
			p.next()
			o.Desc = true
		}
		o.NullsLast = o.Desc
		if p.isKW(p.peek(), "NULLS") {
			p.next()
			t := p.next()
			switch {
			case p.isKW(t, "FIRST"):
				o.NullsLast = false
			case p.isKW(t, "LAST"):
				o.NullsLast = true
			default:
				return p.unexpected(t)
			}
			o.NullsGiven = true
		}
		q.OrderBy = append(q.OrderBy, o)
		if p.peek().kind != tComma {
			return nil
		}
		p.next()
	}
}

func (p *parser) count() (int, error) {
	t := p.next()
	if t.kind != tNumber {
		return 0, p.unexpected(t)
	}
	n, err := strconv.Atoi(t.text)
	if err != nil || n < 0 {
		return 0, malformed(p.q, t, fmt.Sprintf("unexpected token: '%s'", t.text))
	}
	return n, nil
}

// term reads a field path or a function call.
func (p *parser) term() (*Term, error) {
	t := p.next()
	if t.kind != tIdent || p.isReserved(t) {
		return nil, p.unexpected(t)
	}
	name := strings.ToUpper(t.text)
	if !functions[name] || p.peek().kind != tLParen {
		return &Term{Field: FieldRef{t.text, t.pos}, Pos: t.pos}, nil
	}
	if name == "DISTANCE" || name == "GEOLOCATION" {
		return nil, malformed(p.q, t, name+"() (location-based SOQL) is not supported by this org")
	}
	p.next() // (
	term := &Term{Func: name, Pos: t.pos}
	if name == "COUNT" && p.peek().kind == tRParen {
		p.next()
		return term, nil
	}
	arg, err := p.term()
	if err != nil {
		return nil, err
	}
	term.Arg = arg
	if _, err := p.expect(tRParen); err != nil {
		return nil, err
	}
	return term, nil
}

func (p *parser) selectList(q *Query) error {
	for {
		t := p.peek()
		item := Item{Pos: t.pos}
		switch {
		case t.kind == tLParen:
			p.next()
			if !p.isKW(p.peek(), "SELECT") {
				return p.unexpected(p.peek())
			}
			sub, err := p.query(true)
			if err != nil {
				return err
			}
			item.Sub = sub
		case p.isKW(t, "TYPEOF"):
			p.next()
			to, err := p.typeOf()
			if err != nil {
				return err
			}
			item.TypeOf = to
		case p.isKW(t, "FIELDS") && p.peekAt(1).kind == tLParen:
			p.next()
			p.next()
			kind := p.next()
			if kind.kind != tIdent || (!strings.EqualFold(kind.text, "ALL") && !strings.EqualFold(kind.text, "STANDARD") && !strings.EqualFold(kind.text, "CUSTOM")) {
				return p.unexpected(kind)
			}
			if _, err := p.expect(tRParen); err != nil {
				return err
			}
			item.Fields = strings.ToUpper(kind.text)
		default:
			term, err := p.term()
			if err != nil {
				return err
			}
			if term.Func == "COUNT" && term.Arg == nil {
				// COUNT() stands alone: SELECT COUNT() FROM …
				if len(q.Items) > 0 || p.peek().kind == tComma {
					return malformed(p.q, t, "COUNT() cannot be combined with other fields; use COUNT(field) with an alias")
				}
				q.Count = true
				return nil
			}
			item.Term = term
			if a := p.peek(); a.kind == tIdent && !p.isReserved(a) {
				p.next()
				item.Alias, item.AliasPos = a.text, a.pos
			}
		}
		q.Items = append(q.Items, item)
		if p.peek().kind != tComma {
			return nil
		}
		p.next()
	}
}

// typeOf reads the rest of TYPEOF Rel WHEN Type THEN f, … [ELSE f, …] END.
func (p *parser) typeOf() (*TypeOf, error) {
	rel := p.next()
	if rel.kind != tIdent || p.isReserved(rel) {
		return nil, p.unexpected(rel)
	}
	to := &TypeOf{Field: FieldRef{rel.text, rel.pos}}
	fields := func() ([]FieldRef, error) {
		var out []FieldRef
		for {
			f := p.next()
			if f.kind != tIdent || p.isReserved(f) {
				return nil, p.unexpected(f)
			}
			out = append(out, FieldRef{f.text, f.pos})
			if p.peek().kind != tComma {
				return out, nil
			}
			p.next()
		}
	}
	for p.isKW(p.peek(), "WHEN") {
		p.next()
		typ := p.next()
		if typ.kind != tIdent {
			return nil, p.unexpected(typ)
		}
		if err := p.expectKW("THEN"); err != nil {
			return nil, err
		}
		fs, err := fields()
		if err != nil {
			return nil, err
		}
		to.Whens = append(to.Whens, When{Type: FieldRef{typ.text, typ.pos}, Fields: fs})
	}
	if len(to.Whens) == 0 {
		return nil, p.unexpected(p.peek())
	}
	if p.isKW(p.peek(), "ELSE") {
		p.next()
		fs, err := fields()
		if err != nil {
			return nil, err
		}
		to.Else = fs
	}
	return to, p.expectKW("END")
}

func (p *parser) or() (Expr, error) {
	l, err := p.and()
	if err != nil {
		return nil, err
	}
	for p.isKW(p.peek(), "OR") {
		p.next()
		r, err := p.and()
		if err != nil {
			return nil, err
		}
		l = Or{l, r}
	}
	return l, nil
}

func (p *parser) and() (Expr, error) {
	l, err := p.not()
	if err != nil {
		return nil, err
	}
	for p.isKW(p.peek(), "AND") {
		p.next()
		r, err := p.not()
		if err != nil {
			return nil, err
		}
		l = And{l, r}
	}
	return l, nil
}

func (p *parser) not() (Expr, error) {
	if p.isKW(p.peek(), "NOT") {
		p.next()
		x, err := p.not()
		if err != nil {
			return nil, err
		}
		return Not{x}, nil
	}
	return p.primary()
}

func (p *parser) primary() (Expr, error) {
	if p.peek().kind == tLParen {
		p.next()
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tRParen); err != nil {
			return nil, err
		}
		return x, nil
	}
	left, err := p.term()
	if err != nil {
		return nil, err
	}
	op := p.next()
	switch {
	case op.kind == tOp:
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		return Cmp{left, op.text, v}, nil
	case p.isKW(op, "LIKE"):
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if v.Kind != VString {
			return nil, malformed(p.q, token{pos: v.Pos}, "LIKE needs a string pattern")
		}
		return Cmp{left, "LIKE", v}, nil
	case p.isKW(op, "NOT") && p.isKW(p.peek(), "IN"):
		p.next()
		return p.in(left, "NOT IN")
	case p.isKW(op, "IN"), p.isKW(op, "INCLUDES"), p.isKW(op, "EXCLUDES"):
		return p.in(left, strings.ToUpper(op.text))
	}
	return nil, p.unexpected(op)
}

// in reads IN's list: values, or (for IN and NOT IN) a semi-join's subquery.
func (p *parser) in(left *Term, op string) (Expr, error) {
	if p.peek().kind == tLParen && p.isKW(p.peekAt(1), "SELECT") {
		if op != "IN" && op != "NOT IN" {
			return nil, p.unexpected(p.peekAt(1))
		}
		p.next()
		sub, err := p.query(true)
		if err != nil {
			return nil, err
		}
		return In{Left: left, Op: op, Sub: sub}, nil
	}
	vs, err := p.valueList()
	return In{Left: left, Op: op, Values: vs}, err
}

func (p *parser) valueList() ([]Value, error) {
	if _, err := p.expect(tLParen); err != nil {
		return nil, err
	}
	var vs []Value
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
		t := p.next()
		if t.kind == tRParen {
			return vs, nil
		}
		if t.kind != tComma {
			return nil, p.unexpected(t)
		}
	}
}

func (p *parser) value() (Value, error) {
	t := p.next()
	v := Value{Pos: t.pos, Text: t.text}
	bad := func() (Value, error) {
		return v, &Error{Code: "MALFORMED_QUERY", Message: located(p.q, t.pos, fmt.Sprintf("line 1:%d no viable alternative at character '%s'", t.pos, t.text))}
	}
	switch t.kind {
	case tString:
		v.Kind, v.Str = VString, t.text
		return v, nil
	case tNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return v, p.unexpected(t)
		}
		v.Kind, v.Num = VNumber, n
		return v, nil
	case tDate:
		d, err := time.Parse("2006-01-02", t.text)
		if err != nil {
			return bad()
		}
		v.Kind, v.Time = VDate, d
		return v, nil
	case tDateTime:
		d, err := parseDateTime(t.text)
		if err != nil {
			return bad()
		}
		v.Kind, v.Time = VDateTime, d
		return v, nil
	case tTime:
		d, err := time.Parse("15:04:05.999", strings.TrimSuffix(t.text, "Z"))
		if err != nil {
			return bad()
		}
		v.Kind, v.Time = VTime, time.Date(1970, 1, 1, d.Hour(), d.Minute(), d.Second(), d.Nanosecond(), time.UTC)
		return v, nil
	case tColon:
		return v, malformed(p.q, t, "bind variables (:name) only work in Apex; put the value in the query")
	case tIdent:
		switch u := strings.ToUpper(t.text); u {
		case "TRUE", "FALSE":
			v.Kind, v.Bool = VBool, u == "TRUE"
			return v, nil
		case "NULL":
			v.Kind = VNull
			return v, nil
		}
		from, to, ok, err := p.dateRange(t)
		if err != nil {
			return v, err
		}
		if ok {
			v.Kind, v.From, v.To = VDateRange, from, to
			return v, nil
		}
	}
	return v, p.unexpected(t)
}

// parseDateTime accepts Salesforce's datetime literal formats.
func parseDateTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05Z", "2006-01-02T15:04:05.999Z", "2006-01-02T15:04:05-07:00", "2006-01-02T15:04:05.999-07:00",
		"2006-01-02T15:04:05-0700", "2006-01-02T15:04:05.999-0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad datetime %q", s)
}
