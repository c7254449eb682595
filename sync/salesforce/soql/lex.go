// Package soql parses and evaluates the subset of Salesforce's SOQL that sync engines use, with
// Salesforce's own error codes and messages. The simulated org runs queries with it; the engine can
// validate record filters with it.
package soql

import (
	"fmt"
	"strings"
	"unicode"
)

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tDate     // 2024-01-02
	tDateTime // 2024-01-02T10:00:00Z
	tTime     // 10:00:00.000Z
	tOp       // = != <> < <= > >=
	tLParen
	tRParen
	tComma
	tColon
)

type token struct {
	kind tokKind
	text string // as written (strings unescaped)
	pos  int    // byte offset in the query
}

// Error is a SOQL error with Salesforce's errorCode and message.
type Error struct {
	Code    string // MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE
	Message string
}

func (e *Error) Error() string { return e.Message }

// located formats Salesforce's multi-line error: the query, a caret under the column, the position.
func located(query string, pos int, msg string) string {
	line, col := 1, 1
	start := 0
	for i := 0; i < pos && i < len(query); i++ {
		if query[i] == '\n' {
			line, col, start = line+1, 1, i+1
		} else {
			col++
		}
	}
	end := strings.IndexByte(query[start:], '\n')
	text := query[start:]
	if end >= 0 {
		text = query[start : start+end]
	}
	return fmt.Sprintf("%s\n%s^\nERROR at Row:%d:Column:%d\n%s", text, strings.Repeat(" ", col-1), line, col, msg)
}

func malformed(query string, t token, msg string) *Error {
	return &Error{Code: "MALFORMED_QUERY", Message: located(query, t.pos, msg)}
}

func lex(q string) ([]token, *Error) {
	var toks []token
	i := 0
	for i < len(q) {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{tLParen, "(", i})
			i++
		case c == ')':
			toks = append(toks, token{tRParen, ")", i})
			i++
		case c == ',':
			toks = append(toks, token{tComma, ",", i})
			i++
		case c == ':':
			toks = append(toks, token{tColon, ":", i})
			i++
		case c == '=':
			toks = append(toks, token{tOp, "=", i})
			i++
		case c == '!' || c == '<' || c == '>':
			if i+1 < len(q) && (q[i+1] == '=' || (c == '<' && q[i+1] == '>')) {
				toks = append(toks, token{tOp, q[i : i+2], i})
				i += 2
			} else if c == '!' {
				return nil, &Error{Code: "MALFORMED_QUERY", Message: located(q, i, "unexpected token: '!'")}
			} else {
				toks = append(toks, token{tOp, string(c), i})
				i++
			}
		case c == '\'':
			s, n, err := lexString(q, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{tString, s, i})
			i = n
		case c >= '0' && c <= '9' || (c == '-' || c == '+' || c == '.') && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9':
			t, n := lexNumberOrDate(q, i)
			toks = append(toks, t)
			i = n
		case c == '_' || unicode.IsLetter(rune(c)) || c >= 0x80:
			j := i
			for j < len(q) && (q[j] == '_' || q[j] == '.' || q[j] >= 0x80 || unicode.IsLetter(rune(q[j])) || unicode.IsDigit(rune(q[j]))) {
				j++
			}
			toks = append(toks, token{tIdent, q[i:j], i})
			i = j
		default:
			return nil, &Error{Code: "MALFORMED_QUERY", Message: located(q, i, fmt.Sprintf("unexpected token: '%c'", c))}
		}
	}
	toks = append(toks, token{tEOF, "", len(q)})
	return toks, nil
}

func lexString(q string, i int) (string, int, *Error) {
	var b strings.Builder
	j := i + 1
	for j < len(q) {
		c := q[j]
		switch c {
		case '\\':
			if j+1 >= len(q) {
				return "", 0, &Error{Code: "MALFORMED_QUERY", Message: located(q, i, "unterminated string")}
			}
			switch e := q[j+1]; e {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case '"', '\'', '\\', '_', '%':
				if e == '_' || e == '%' {
					b.WriteByte('\\') // kept for LIKE, where they are literal
				}
				b.WriteByte(e)
			default:
				return "", 0, &Error{Code: "MALFORMED_QUERY", Message: located(q, j, fmt.Sprintf("Invalid string literal '%s'. Illegal character sequence '\\%c' in string literal.", q[i:min(len(q), j+2)], e))}
			}
			j += 2
		case '\'':
			return b.String(), j + 1, nil
		default:
			b.WriteByte(c)
			j++
		}
	}
	return "", 0, &Error{Code: "MALFORMED_QUERY", Message: located(q, i, "unterminated string literal")}
}

// lexNumberOrDate reads a number, or an unquoted date (2024-01-02) or datetime literal.
func lexNumberOrDate(q string, i int) (token, int) {
	j := i
	if q[j] == '-' || q[j] == '+' {
		j++
	}
	for j < len(q) && (q[j] >= '0' && q[j] <= '9') {
		j++
	}
	// yyyy-mm-dd[Thh:mm:ss[.sss](Z|±hh:mm|±hhmm)]
	if j-i == 4 && j < len(q) && q[j] == '-' {
		k := j
		for k < len(q) && strings.IndexByte("0123456789-:T.Z+", q[k]) >= 0 {
			k++
		}
		lit := q[i:k]
		if strings.Contains(lit, "T") {
			return token{tDateTime, lit, i}, k
		}
		return token{tDate, lit, i}, k
	}
	// hh:mm:ss[.sss][Z], a time field's literal
	if j-i == 2 && j+6 <= len(q) && q[j] == ':' && isDigits(q[j+1:j+3]) && q[j+3] == ':' && isDigits(q[j+4:j+6]) {
		k := j + 6
		for k < len(q) && strings.IndexByte("0123456789.Z", q[k]) >= 0 {
			k++
		}
		return token{tTime, q[i:k], i}, k
	}
	for j < len(q) && (q[j] >= '0' && q[j] <= '9' || q[j] == '.' || q[j] == 'e' || q[j] == 'E') {
		j++
	}
	return token{tNumber, q[i:j], i}, j
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
