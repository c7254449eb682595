package sforg

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"

	"pgforce/sync/salesforce/soql"
)

func formatDateTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000+0000") }

// appendJSONValue appends a field value as Salesforce's JSON.
func appendJSONValue(b []byte, typ string, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		enc, _ := json.Marshal(x)
		return append(b, enc...)
	case bool:
		return strconv.AppendBool(b, x)
	case float64:
		if typ == "int" || (x == math.Trunc(x) && math.Abs(x) < 1e15) {
			return strconv.AppendInt(b, int64(x), 10)
		}
		return strconv.AppendFloat(b, x, 'f', -1, 64)
	case time.Time:
		if typ == "date" {
			return append(append(append(b, '"'), x.Format("2006-01-02")...), '"')
		}
		return append(append(append(b, '"'), formatDateTime(x)...), '"')
	}
	enc, _ := json.Marshal(v)
	return append(b, enc...)
}

// csvValue renders a value as Bulk API CSV text.
func csvValue(typ string, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		if typ == "int" || (x == math.Trunc(x) && math.Abs(x) < 1e15) {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	case time.Time:
		if typ == "date" {
			return x.Format("2006-01-02")
		}
		return x.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return ""
}

// appendCSVField appends a quoted CSV field (Bulk API quotes every value).
func appendCSVField(b []byte, s string) []byte {
	b = append(b, '"')
	if strings.IndexByte(s, '"') < 0 {
		b = append(b, s...)
	} else {
		b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	}
	return append(b, '"')
}

// colNode is a select list as a tree: fields at the leaves, relationships (to follow) inside.
type colNode struct {
	name     string
	field    soql.Field // the leaf field, or the reference field of a relationship
	leaf     bool
	children []*colNode
}

func colTree(cols []*soql.Column) *colNode {
	root := &colNode{}
	for _, c := range cols {
		n := root
		for i, step := range c.Path {
			leaf := i == len(c.Path)-1
			name := step.Field.Name
			if !leaf {
				name = step.Field.Relationship
			}
			var next *colNode
			for _, ch := range n.children {
				if ch.name == name && ch.leaf == leaf {
					next = ch
				}
			}
			if next == nil {
				next = &colNode{name: name, field: step.Field, leaf: leaf}
				n.children = append(n.children, next)
			}
			n = next
		}
	}
	return root
}

// recordJSON renders a record with the query's columns: attributes first, parent paths nested, a
// missing parent as null.
func (o *Org) recordJSON(b []byte, version string, t *table, r *row, tree *colNode) []byte {
	b = o.attributes(b, version, t, r)
	for _, ch := range tree.children {
		b = append(b, ',')
		enc, _ := json.Marshal(ch.name)
		b = append(append(b, enc...), ':')
		if ch.leaf {
			b = appendJSONValue(b, ch.field.Type, r.vals[ch.field.Index])
			continue
		}
		id, _ := r.vals[ch.field.Index].(string)
		var pr *row
		pt := o.tableOf(id)
		if pt != nil {
			pr = pt.byID[id]
		}
		if pr == nil {
			b = append(b, "null"...)
			continue
		}
		b = o.recordJSON(b, version, pt, pr, ch)
	}
	return append(b, '}')
}

// attributes opens a record object with Salesforce's "attributes" member.
func (o *Org) attributes(b []byte, version string, t *table, r *row) []byte {
	b = append(b, `{"attributes":{"type":"`...)
	b = append(b, t.def.Name...)
	b = append(b, `","url":"`...)
	b = append(b, o.path("/services/data/v"+version+"/sobjects/"+t.def.Name+"/"+t.id(r))...)
	return append(b, `"}`...)
}

// fullRecordJSON renders every field of a record (GET /sobjects/{Obj}/{id}), or only fields.
func (o *Org) fullRecordJSON(version string, t *table, r *row, fields []string) []byte {
	var b bytes.Buffer
	out := o.attributes(nil, version, t, r)
	b.Write(out)
	for i, f := range t.def.Fields {
		if len(fields) > 0 && !containsFold(fields, f.Name) {
			continue
		}
		if f.Type == "address" {
			b.WriteString(`,"` + f.Name + `":null`)
			continue
		}
		b.WriteString(`,"` + f.Name + `":`)
		b.Write(appendJSONValue(nil, f.Type, r.vals[i]))
	}
	b.WriteByte('}')
	return b.Bytes()
}

func containsFold(xs []string, s string) bool {
	for _, x := range xs {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}
