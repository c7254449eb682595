package apply

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"

	"pgforce/sync/engine/table"
)

// RecordEncoder turns Salesforce REST records (JSON) into CSV rows in the target's field order, the
// same shape Bulk API results have, so both paths end in one COPY.
type RecordEncoder struct {
	t Target
	w *bufio.Writer
}

// NewRecordEncoder writes CSV rows (no header) to w.
func NewRecordEncoder(t Target, w io.Writer) *RecordEncoder {
	return &RecordEncoder{t: t, w: bufio.NewWriterSize(w, 64<<10)}
}

// Encode writes one record. rec maps field names to raw JSON values; parent fields are nested
// objects ({"Account__r": {"External_Id__c": "x"}}).
func (e *RecordEncoder) Encode(rec map[string]json.RawMessage) error {
	for i, f := range e.t.Fields {
		if i > 0 {
			e.w.WriteByte(',')
		}
		raw, err := lookup(rec, f.Name)
		if err != nil {
			return err
		}
		if err := e.writeValue(raw); err != nil {
			return fmt.Errorf("field %s: %w", f.Name, err)
		}
	}
	return e.w.WriteByte('\n')
}

// Flush writes buffered rows.
func (e *RecordEncoder) Flush() error { return e.w.Flush() }

// lookup finds a field value case-insensitively, following a "Rel.Field" path into nested objects.
func lookup(rec map[string]json.RawMessage, name string) (json.RawMessage, error) {
	rel, rest, nested := strings.Cut(name, ".")
	if !nested {
		return FieldValue(rec, name), nil
	}
	parent := FieldValue(rec, rel)
	if len(parent) == 0 || string(parent) == "null" {
		return nil, nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(parent, &obj); err != nil {
		return nil, fmt.Errorf("field %s: parent %s is not an object", name, rel)
	}
	return lookup(obj, rest)
}

// FieldValue is a field of a record as Salesforce returned it, its name matched without regard to
// case (SOQL names are case-insensitive; the answer spells them as the describe does).
func FieldValue(rec map[string]json.RawMessage, name string) json.RawMessage {
	if v, ok := rec[name]; ok {
		return v
	}
	for k, v := range rec {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

// writeValue writes a JSON scalar as a CSV field: null as an empty unquoted field (NULL), strings
// quoted, numbers and booleans as they are.
func (e *RecordEncoder) writeValue(raw json.RawMessage) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	switch raw[0] {
	case '"':
		s, err := strconv.Unquote(string(raw))
		if err != nil {
			var str string
			if err := json.Unmarshal(raw, &str); err != nil {
				return err
			}
			s = str
		}
		e.writeQuoted(s)
		return nil
	case '{', '[':
		// Compound values (addresses) are not mapped; keep the JSON text rather than fail.
		e.writeQuoted(string(raw))
		return nil
	}
	_, err := e.w.Write(raw)
	return err
}

// writeQuoted writes s as a quoted CSV field. NUL bytes are dropped: Postgres text cannot hold them.
func (e *RecordEncoder) writeQuoted(s string) {
	e.w.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			e.w.WriteString(`""`)
		case 0:
		default:
			e.w.WriteByte(c)
		}
	}
	e.w.WriteByte('"')
}

// stripNUL removes NUL bytes from a CSV stream (Postgres text cannot hold them).
type stripNUL struct{ r io.Reader }

func (s stripNUL) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 && bytes.IndexByte(p[:n], 0) >= 0 {
		j := 0
		for i := 0; i < n; i++ {
			if p[i] != 0 {
				p[j] = p[i]
				j++
			}
		}
		n = j
	}
	return n, err
}

// CheckHeader verifies that a Bulk CSV header names the target's fields in order, so the body can be
// streamed into COPY untouched.
func CheckHeader(t Target, header []string) error {
	if len(header) != len(t.Fields) {
		return fmt.Errorf("bulk result has %d columns, expected %d (%s)", len(header), len(t.Fields), t.SelectList())
	}
	for i, f := range t.Fields {
		if !strings.EqualFold(header[i], f.Name) && table.Column(header[i]) != table.Column(f.Name) {
			return fmt.Errorf("bulk result column %d is %s, expected %s", i+1, header[i], f.Name)
		}
	}
	return nil
}
