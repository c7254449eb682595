package soql

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Query is a parsed SELECT.
type Query struct {
	Text    string
	Fields  []FieldRef // select list; empty with Count
	Count   bool       // SELECT COUNT()
	FieldsX string     // FIELDS(ALL|STANDARD|CUSTOM), upper case, or ""
	Object  FieldRef   // FROM
	Where   Expr       // nil when absent
	OrderBy []Order
	Limit   int // -1 when absent
	Offset  int // -1 when absent
}

// FieldRef is a dotted name as written, with its position for error messages.
type FieldRef struct {
	Name string
	Pos  int
}

// Order is one ORDER BY key.
type Order struct {
	Field      FieldRef
	Desc       bool
	NullsLast  bool
	NullsGiven bool
}

// Expr is a WHERE condition.
type Expr interface{ expr() }

// And, Or, Not combine conditions.
type (
	And struct{ L, R Expr }
	Or  struct{ L, R Expr }
	Not struct{ X Expr }
	// Cmp compares a field with a value: = != < <= > >= LIKE.
	Cmp struct {
		Field FieldRef
		Op    string
		Value Value
	}
	// In tests membership: IN, NOT IN, INCLUDES, EXCLUDES.
	In struct {
		Field  FieldRef
		Op     string // IN, NOT IN, INCLUDES, EXCLUDES
		Values []Value
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
)

// Value is a literal.
type Value struct {
	Kind     ValueKind
	Str      string
	Num      float64
	Bool     bool
	Time     time.Time // VDate (midnight UTC), VDateTime
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
	query, err := p.query()
	if err != nil {
		return nil, err
	}
	return query, nil
}

func (p *parser) peek() token { return p.toks[p.i] }

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

func (p *parser) unexpected(t token) *Error {
	if t.kind == tEOF {
		return malformed(p.q, t, "unexpected token: <EOF>")
	}
	return malformed(p.q, t, fmt.Sprintf("unexpected token: '%s'", t.text))
}

var reserved = map[string]bool{"SELECT": true, "FROM": true, "WHERE": true, "AND": true, "OR": true, "NOT": true, "IN": true, "LIKE": true,
	"ORDER": true, "BY": true, "LIMIT": true, "OFFSET": true, "ASC": true, "DESC": true, "NULLS": true, "INCLUDES": true, "EXCLUDES": true,
	"GROUP": true, "HAVING": true}

func (p *parser) query() (*Query, error) {
	q := &Query{Text: p.q, Limit: -1, Offset: -1}
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
	if obj.kind != tIdent || reserved[strings.ToUpper(obj.text)] {
		return nil, p.unexpected(obj)
	}
	q.Object = FieldRef{obj.text, obj.pos}
	if p.isKW(p.peek(), "WHERE") {
		p.next()
		w, err := p.or()
		if err != nil {
			return nil, err
		}
		q.Where = w
	}
	if p.isKW(p.peek(), "GROUP") {
		return nil, malformed(p.q, p.peek(), "GROUP BY is not supported by this org")
	}
	if p.isKW(p.peek(), "ORDER") {
		p.next()
		if err := p.expectKW("BY"); err != nil {
			return nil, err
		}
		for {
			t := p.next()
			if t.kind != tIdent {
				return nil, p.unexpected(t)
			}
			o := Order{Field: FieldRef{t.text, t.pos}}
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
					return nil, p.unexpected(t)
				}
				o.NullsGiven = true
			}
			q.OrderBy = append(q.OrderBy, o)
			if p.peek().kind != tComma {
				break
			}
			p.next()
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
	if t := p.peek(); t.kind != tEOF {
		return nil, p.unexpected(t)
	}
	return q, nil
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

func (p *parser) selectList(q *Query) error {
	t := p.peek()
	if p.isKW(t, "COUNT") && p.toks[p.i+1].kind == tLParen {
		p.next()
		p.next()
		if c := p.next(); c.kind != tRParen {
			return malformed(p.q, c, "COUNT(field) and other aggregates are not supported by this org; use COUNT()")
		}
		q.Count = true
		return nil
	}
	for {
		t := p.next()
		switch {
		case t.kind == tLParen:
			return malformed(p.q, t, "relationship subqueries are not supported by this org")
		case p.isKW(t, "FIELDS") && p.peek().kind == tLParen:
			p.next()
			kind := p.next()
			if kind.kind != tIdent || (!strings.EqualFold(kind.text, "ALL") && !strings.EqualFold(kind.text, "STANDARD") && !strings.EqualFold(kind.text, "CUSTOM")) {
				return p.unexpected(kind)
			}
			if c := p.next(); c.kind != tRParen {
				return p.unexpected(c)
			}
			q.FieldsX = strings.ToUpper(kind.text)
		case t.kind == tIdent && !reserved[strings.ToUpper(t.text)]:
			q.Fields = append(q.Fields, FieldRef{t.text, t.pos})
		default:
			return p.unexpected(t)
		}
		if p.peek().kind != tComma {
			return nil
		}
		p.next()
	}
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
	t := p.next()
	if t.kind == tLParen {
		x, err := p.or()
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != tRParen {
			return nil, p.unexpected(c)
		}
		return x, nil
	}
	if t.kind != tIdent || reserved[strings.ToUpper(t.text)] {
		return nil, p.unexpected(t)
	}
	field := FieldRef{t.text, t.pos}
	op := p.next()
	switch {
	case op.kind == tOp:
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		return Cmp{field, op.text, v}, nil
	case p.isKW(op, "LIKE"):
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if v.Kind != VString {
			return nil, malformed(p.q, token{pos: v.Pos}, "LIKE needs a string pattern")
		}
		return Cmp{field, "LIKE", v}, nil
	case p.isKW(op, "NOT") && p.isKW(p.peek(), "IN"):
		p.next()
		vs, err := p.valueList()
		return In{field, "NOT IN", vs}, err
	case p.isKW(op, "IN"), p.isKW(op, "INCLUDES"), p.isKW(op, "EXCLUDES"):
		if p.peek().kind == tLParen && p.isKW(p.toks[p.i+1], "SELECT") {
			return nil, malformed(p.q, p.toks[p.i+1], "semi-join subqueries are not supported by this org")
		}
		vs, err := p.valueList()
		return In{field, strings.ToUpper(op.text), vs}, err
	}
	return nil, p.unexpected(op)
}

func (p *parser) valueList() ([]Value, error) {
	if t := p.next(); t.kind != tLParen {
		return nil, p.unexpected(t)
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
			return v, &Error{Code: "MALFORMED_QUERY", Message: located(p.q, t.pos, fmt.Sprintf("line 1:%d no viable alternative at character '%s'", t.pos, t.text))}
		}
		v.Kind, v.Time = VDate, d
		return v, nil
	case tDateTime:
		d, err := parseDateTime(t.text)
		if err != nil {
			return v, &Error{Code: "MALFORMED_QUERY", Message: located(p.q, t.pos, fmt.Sprintf("line 1:%d no viable alternative at character '%s'", t.pos, t.text))}
		}
		v.Kind, v.Time = VDateTime, d
		return v, nil
	case tIdent:
		switch u := strings.ToUpper(t.text); u {
		case "TRUE", "FALSE":
			v.Kind, v.Bool = VBool, u == "TRUE"
			return v, nil
		case "NULL":
			v.Kind = VNull
			return v, nil
		}
		if from, to, ok := p.dateRange(t); ok {
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

// dateRange resolves date literals (TODAY, LAST_N_DAYS:n, ...) to a half-open UTC range of days.
func (p *parser) dateRange(t token) (time.Time, time.Time, bool) {
	day := time.Date(p.now.Year(), p.now.Month(), p.now.Day(), 0, 0, 0, 0, time.UTC)
	d := func(n int) time.Time { return day.AddDate(0, 0, n) }
	name := strings.ToUpper(t.text)
	switch name {
	case "TODAY":
		return day, d(1), true
	case "YESTERDAY":
		return d(-1), day, true
	case "TOMORROW":
		return d(1), d(2), true
	case "THIS_MONTH":
		first := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		return first, first.AddDate(0, 1, 0), true
	case "LAST_MONTH":
		first := time.Date(day.Year(), day.Month(), 1, 0, 0, 0, 0, time.UTC)
		return first.AddDate(0, -1, 0), first, true
	case "THIS_YEAR":
		first := time.Date(day.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		return first, first.AddDate(1, 0, 0), true
	case "LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO":
		if p.peek().kind != tColon {
			return time.Time{}, time.Time{}, false
		}
		p.next()
		nt := p.next()
		n, err := strconv.Atoi(nt.text)
		if nt.kind != tNumber || err != nil || n < 0 {
			return time.Time{}, time.Time{}, false
		}
		switch name {
		case "LAST_N_DAYS":
			return d(-n), d(1), true
		case "NEXT_N_DAYS":
			return d(1), d(n + 1), true
		default:
			return d(-n), d(-n + 1), true
		}
	}
	return time.Time{}, time.Time{}, false
}
