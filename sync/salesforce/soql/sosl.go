package soql

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Search is a parsed SOSL statement: FIND {term} [IN ALL|NAME|EMAIL|PHONE FIELDS] [RETURNING
// Obj[(fields [WHERE …] [ORDER BY …] [LIMIT n])], …] [LIMIT n].
type Search struct {
	Term      string
	Scope     string // ALL, NAME, EMAIL or PHONE
	Returning []Returning
	Limit     int // overall; -1 when absent
	match     func(text string) bool
}

// Returning is one object of RETURNING, as the SOQL query listing its fields and filters.
type Returning struct {
	Object string
	Query  *Query // SELECT fields FROM Object [WHERE …] [ORDER BY …] [LIMIT n]
}

// Matches reports whether a record's searchable text matches the search term.
func (s *Search) Matches(text string) bool { return s.match(text) }

func searchError(format string, args ...any) *Error {
	return &Error{Code: "MALFORMED_SEARCH", Message: fmt.Sprintf(format, args...)}
}

// ParseSearch parses SOSL. now fixes the date literals of RETURNING filters.
func ParseSearch(q string, now time.Time) (*Search, error) {
	rest := strings.TrimSpace(q)
	if len(rest) < 4 || !strings.EqualFold(rest[:4], "FIND") {
		return nil, searchError("unexpected token: %s (a search starts with FIND {term})", firstWord(rest))
	}
	rest = strings.TrimLeft(rest[4:], " \t\r\n")
	if !strings.HasPrefix(rest, "{") {
		return nil, searchError("the search term goes in braces: FIND {term}")
	}
	term, after, err := braced(rest)
	if err != nil {
		return nil, err
	}
	s := &Search{Term: term, Scope: "ALL", Limit: -1}
	if s.match, err = termMatcher(term); err != nil {
		return nil, err
	}
	toks, lerr := lex(after)
	if lerr != nil {
		return nil, searchError("%s", lerr.Message)
	}
	p := &parser{q: after, toks: toks, now: now.UTC()}
	if p.isKW(p.peek(), "IN") {
		p.next()
		scope := strings.ToUpper(p.next().text)
		if scope != "ALL" && scope != "NAME" && scope != "EMAIL" && scope != "PHONE" {
			return nil, searchError("unexpected token: %s (IN ALL, NAME, EMAIL or PHONE FIELDS)", scope)
		}
		if !p.isKW(p.next(), "FIELDS") {
			return nil, searchError("IN %s needs FIELDS", scope)
		}
		s.Scope = scope
	}
	if p.isKW(p.peek(), "RETURNING") {
		p.next()
		for {
			r, err := p.returning()
			if err != nil {
				return nil, err
			}
			s.Returning = append(s.Returning, r)
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
			return nil, searchError("%s", err.Error())
		}
		s.Limit = n
	}
	if t := p.peek(); t.kind != tEOF {
		return nil, searchError("unexpected token: %s", t.text)
	}
	return s, nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return "<EOF>"
}

// braced reads {term} (a backslash escapes a brace) and returns the term and what follows.
func braced(s string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && i+1 < len(s):
			b.WriteByte(s[i+1])
			i++
		case c == '}':
			return b.String(), s[i+1:], nil
		default:
			b.WriteByte(c)
		}
	}
	return "", "", searchError("the search term is missing its closing brace")
}

// returning reads Obj or Obj(fields [WHERE …] [ORDER BY …] [LIMIT n]) as a SOQL query.
func (p *parser) returning() (Returning, error) {
	obj := p.next()
	if obj.kind != tIdent {
		return Returning{}, searchError("unexpected token: %s", obj.text)
	}
	soql := "SELECT Id FROM " + obj.text
	if p.peek().kind == tLParen {
		open := p.next()
		depth, split, end := 1, -1, -1
		for end < 0 {
			t := p.next()
			switch {
			case t.kind == tEOF:
				return Returning{}, searchError("RETURNING %s( is missing its closing parenthesis", obj.text)
			case t.kind == tLParen:
				depth++
			case t.kind == tRParen:
				if depth--; depth == 0 {
					end = t.pos
				}
			case depth == 1 && split < 0 && t.kind == tIdent && (p.isKW(t, "WHERE") || p.isKW(t, "ORDER") || p.isKW(t, "LIMIT") || p.isKW(t, "OFFSET") || p.isKW(t, "USING")):
				split = t.pos
			}
		}
		if split < 0 {
			split = end
		}
		soql = "SELECT " + p.q[open.pos+1:split] + " FROM " + obj.text + " " + p.q[split:end]
	}
	q, err := Parse(soql, p.now)
	if err != nil {
		return Returning{}, err
	}
	return Returning{Object: obj.text, Query: q}, nil
}

// termMatcher compiles a search term: words (with * and ? wildcards) and "quoted phrases", joined
// by AND (also implied between words), OR and AND NOT, grouped with parentheses; case-insensitive,
// on whole words.
func termMatcher(term string) (func(string) bool, error) {
	words, err := termTokens(term)
	if err != nil {
		return nil, err
	}
	tp := &termParser{toks: words}
	m, err := tp.or()
	if err != nil {
		return nil, err
	}
	if tp.i < len(tp.toks) {
		return nil, searchError("unexpected token in the search term: %s", tp.toks[tp.i])
	}
	return m, nil
}

func termTokens(term string) ([]string, error) {
	var out []string
	for i := 0; i < len(term); {
		switch c := term[i]; {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case c == '(' || c == ')':
			out = append(out, string(c))
			i++
		case c == '"':
			j := strings.IndexByte(term[i+1:], '"')
			if j < 0 {
				return nil, searchError("the phrase %s is missing its closing quote", term[i:])
			}
			out = append(out, term[i:i+j+2])
			i += j + 2
		default:
			j := i
			for j < len(term) && !strings.ContainsRune(" \t\n()\"", rune(term[j])) {
				j++
			}
			out = append(out, term[i:j])
			i = j
		}
	}
	if len(out) == 0 {
		return nil, searchError("search term must be longer than one character")
	}
	return out, nil
}

type termParser struct {
	toks []string
	i    int
}

func (tp *termParser) peekIs(kw string) bool {
	return tp.i < len(tp.toks) && strings.EqualFold(tp.toks[tp.i], kw)
}

func (tp *termParser) or() (func(string) bool, error) {
	l, err := tp.and()
	if err != nil {
		return nil, err
	}
	for tp.peekIs("OR") {
		tp.i++
		r, err := tp.and()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		l = func(s string) bool { return a(s) || b(s) }
	}
	return l, nil
}

func (tp *termParser) and() (func(string) bool, error) {
	l, err := tp.primary()
	if err != nil {
		return nil, err
	}
	for tp.i < len(tp.toks) && !tp.peekIs("OR") && tp.toks[tp.i] != ")" {
		negate := false
		if tp.peekIs("AND") {
			tp.i++
			if tp.peekIs("NOT") {
				tp.i++
				negate = true
			}
		}
		r, err := tp.primary()
		if err != nil {
			return nil, err
		}
		a, b := l, r
		if negate {
			l = func(s string) bool { return a(s) && !b(s) }
		} else {
			l = func(s string) bool { return a(s) && b(s) }
		}
	}
	return l, nil
}

func (tp *termParser) primary() (func(string) bool, error) {
	if tp.i >= len(tp.toks) {
		return nil, searchError("the search term ends too early")
	}
	t := tp.toks[tp.i]
	tp.i++
	if t == "(" {
		m, err := tp.or()
		if err != nil {
			return nil, err
		}
		if tp.i >= len(tp.toks) || tp.toks[tp.i] != ")" {
			return nil, searchError("the search term is missing a closing parenthesis")
		}
		tp.i++
		return m, nil
	}
	phrase := strings.HasPrefix(t, `"`)
	t = strings.Trim(t, `"`)
	if len(strings.NewReplacer("*", "", "?", "").Replace(t)) < 2 {
		return nil, searchError("search term must be longer than one character: %s", t)
	}
	var b strings.Builder
	b.WriteString(`(?i)(^|[^\pL\pN])`)
	for i, w := range strings.Fields(t) {
		if i > 0 {
			b.WriteString(`\s+`)
		}
		for _, r := range w {
			switch {
			case r == '*' && !phrase:
				b.WriteString(`[\pL\pN]*`)
			case r == '?' && !phrase:
				b.WriteString(`[\pL\pN]`)
			default:
				b.WriteString(regexp.QuoteMeta(string(r)))
			}
		}
	}
	b.WriteString(`($|[^\pL\pN])`)
	re, err := regexp.Compile(b.String())
	if err != nil {
		return nil, searchError("bad search term %s", strconv.Quote(t))
	}
	return re.MatchString, nil
}
