package sforg

import (
	"encoding/json"
	"fmt"
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
		switch typ {
		case "date":
			return append(append(append(b, '"'), x.Format("2006-01-02")...), '"')
		case "time":
			return append(append(append(b, '"'), x.Format("15:04:05.000Z")...), '"')
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
		switch typ {
		case "date":
			return x.Format("2006-01-02")
		case "time":
			return x.Format("15:04:05.000Z")
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

// colNode is a select list as a tree: fields, subqueries and TYPEOFs at the leaves, parent
// relationships (to follow) inside.
type colNode struct {
	name     string
	field    soql.Field   // the leaf field, or the reference field of a relationship
	object   string       // a relationship's target as bound (a polymorphic one may point elsewhere)
	out      *soql.Output // a leaf's select-list entry
	leaf     bool
	children []*colNode
}

func colTree(outs []*soql.Output) *colNode {
	root := &colNode{}
	for _, out := range outs {
		if out.Column == nil || out.Label || out.Format {
			root.children = append(root.children, &colNode{name: out.Name, out: out, leaf: true, field: leafField(out)})
			continue
		}
		n := root
		for i, step := range out.Column.Path {
			leaf := i == len(out.Column.Path)-1
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
				next = &colNode{name: name, field: step.Field, leaf: leaf, out: out}
				if !leaf {
					next.object = out.Column.Path[i+1].Object.Name()
				}
				n.children = append(n.children, next)
			}
			n = next
		}
	}
	return root
}

func leafField(out *soql.Output) soql.Field {
	if out.Column != nil {
		return out.Column.Last()
	}
	return soql.Field{}
}

// recordJSON renders a record with the query's select list: attributes first, parent paths nested
// (a missing parent as null), subqueries as nested query results (null when empty).
func (o *Org) recordJSON(b []byte, version string, c *cursor, t *table, r *row, tree *colNode) []byte {
	b = o.attributes(b, version, t, r)
	for _, ch := range tree.children {
		b = append(b, ',')
		enc, _ := json.Marshal(ch.name)
		b = append(append(b, enc...), ':')
		switch {
		case ch.out != nil && ch.out.Sub != nil:
			b = o.subqueryJSON(b, version, c, ch.out, t.id(r))
		case ch.out != nil && ch.out.TypeOf != nil:
			b = o.typeOfJSON(b, version, t, r, ch.out.TypeOf)
		case ch.leaf:
			b = o.valueJSON(b, version, t, r, ch)
		default:
			id, _ := o.fieldValue(t, r, ch.field).(string)
			pt := o.tableOf(id)
			var pr *row
			if pt != nil {
				pr = pt.lookup(id)
			}
			if pr == nil {
				b = append(b, "null"...)
				continue
			}
			b = o.recordJSON(b, version, c, pt, pr, ch)
		}
	}
	return append(b, '}')
}

// fieldValue is a bound field's value on a record; a record of another object than the field was
// bound on (a polymorphic parent: What is an Opportunity, not an Account) is read by field name.
func (o *Org) fieldValue(t *table, r *row, f soql.Field) any {
	if f.Index < len(t.def.Fields) && t.def.Fields[f.Index].Name == f.Name {
		return r.val(f.Index)
	}
	if i, fd := t.def.field(f.Name); fd != nil {
		return r.val(i)
	}
	return nil
}

// valueJSON renders one field of a record: compound fields from their components, base64 fields as
// the URL of their blob, toLabel() and FORMAT() values.
func (o *Org) valueJSON(b []byte, version string, t *table, r *row, n *colNode) []byte {
	i := n.field.Index
	if i >= len(t.def.Fields) || t.def.Fields[i].Name != n.field.Name { // a polymorphic parent: by name
		if i, _ = t.def.field(n.field.Name); i < 0 {
			return append(b, "null"...)
		}
	}
	fd, v := t.def.Fields[i], r.val(i)
	switch {
	case fd.Type == "address" || fd.Type == "location":
		return o.compoundJSON(b, t, r, fd)
	case fd.Type == "base64" && v != nil:
		return appendJSONValue(b, "string", o.path("/services/data/v"+version+"/sobjects/"+t.def.Name+"/"+t.id(r)+"/"+fd.Name))
	case n.out.Label:
		if s, ok := v.(string); ok {
			return appendJSONValue(b, "string", labels(fd, s))
		}
	case n.out.Format:
		if v != nil {
			return appendJSONValue(b, "string", formatLocale(fd.Type, fd.Scale, v))
		}
	}
	return appendJSONValue(b, fd.Type, v)
}

// labels turns a picklist value (each part of a multi-select one) into its labels.
func labels(fd *FieldDef, s string) string {
	parts := strings.Split(s, ";")
	for i, p := range parts {
		parts[i] = fd.label(p)
	}
	return strings.Join(parts, ";")
}

// compoundJSON renders an address or a location from its component fields (null when all are empty).
func (o *Org) compoundJSON(b []byte, t *table, r *row, fd *FieldDef) []byte {
	parts := t.def.components(fd.Name)
	m := map[string]any{}
	empty := true
	for _, i := range parts {
		f := t.def.Fields[i]
		key := strings.TrimPrefix(f.Name, strings.TrimSuffix(fd.Name, "Address"))
		if fd.Type == "location" {
			key = strings.TrimSuffix(strings.TrimPrefix(f.Name, strings.TrimSuffix(fd.Name, "__c")+"__"), "__s")
		}
		key = strings.ToLower(key[:1]) + key[1:]
		m[key] = r.val(i)
		empty = empty && r.val(i) == nil
	}
	if empty {
		return append(b, "null"...)
	}
	enc, _ := json.Marshal(m)
	return append(b, enc...)
}

// subqueryJSON renders a parent-to-child subquery's records of one parent.
func (o *Org) subqueryJSON(b []byte, version string, c *cursor, out *soql.Output, parentID string) []byte {
	rows := c.children[out][parentID]
	if len(rows) == 0 {
		return append(b, "null"...)
	}
	ct := o.table(out.Sub.Object.Name())
	tree := c.subTrees[out]
	if tree == nil {
		tree = colTree(out.Sub.Outputs)
		c.subTrees[out] = tree
	}
	b = fmt.Appendf(b, `{"totalSize":%d,"done":true,"records":[`, len(rows))
	for i, r := range rows {
		if i > 0 {
			b = append(b, ',')
		}
		b = o.recordJSON(b, version, c, ct, r, tree)
	}
	return append(b, "]}"...)
}

// typeOfJSON renders a polymorphic parent with the fields of its type's WHEN (or ELSE) branch.
func (o *Org) typeOfJSON(b []byte, version string, t *table, r *row, to *soql.TypeOfOutput) []byte {
	id, _ := o.fieldValue(t, r, to.Field).(string)
	pt := o.tableOf(id)
	if pt == nil || pt.lookup(id) == nil {
		return append(b, "null"...)
	}
	pr := pt.lookup(id)
	var outs []*soql.Output
	for _, col := range to.Cases[strings.ToLower(pt.def.Name)] {
		outs = append(outs, &soql.Output{Name: col.Name, Column: col})
	}
	return o.recordJSON(b, version, nil, pt, pr, colTree(outs))
}

// aggregateJSON renders an AggregateResult row.
func aggregateJSON(b []byte, row soql.AggRow) []byte {
	b = append(b, `{"attributes":{"type":"AggregateResult"}`...)
	for _, v := range row {
		enc, _ := json.Marshal(v.Name)
		b = append(append(append(b, ','), enc...), ':')
		switch {
		case v.Format && v.Value != nil:
			b = appendJSONValue(b, "string", formatLocale(v.Type, 2, v.Value))
		case v.Type == "int":
			if x, ok := v.Value.(float64); ok {
				b = strconv.AppendInt(b, int64(x), 10)
				continue
			}
			b = appendJSONValue(b, v.Type, v.Value)
		default:
			b = appendJSONValue(b, v.Type, v.Value)
		}
	}
	return append(b, '}')
}

// formatLocale is FORMAT()'s rendering for the user's locale (en_US): $1,234.50, 1,234.5, 15%,
// 12/28/2015, 4/10/2025, 3:31 PM.
func formatLocale(typ string, scale int, v any) string {
	switch x := v.(type) {
	case float64:
		switch typ {
		case "currency":
			s := groupThousands(strconv.FormatFloat(math.Abs(x), 'f', 2, 64))
			if x < 0 {
				return "-$" + s
			}
			return "$" + s
		case "percent":
			return groupThousands(strconv.FormatFloat(x, 'f', -1, 64)) + "%"
		case "int":
			return groupThousands(strconv.FormatInt(int64(x), 10))
		}
		if scale > 0 {
			return groupThousands(strconv.FormatFloat(x, 'f', scale, 64))
		}
		return groupThousands(strconv.FormatFloat(x, 'f', -1, 64))
	case time.Time:
		switch typ {
		case "date":
			return x.Format("1/2/2006")
		case "time":
			return x.Format("3:04 PM")
		}
		return x.UTC().Format("1/2/2006, 3:04 PM")
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}

// groupThousands puts commas between thousands of a formatted number ("-1234.5" → "-1,234.5").
func groupThousands(s string) string {
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	intPart, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteString("." + frac)
	}
	return sign + b.String()
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
	b := o.attributes(nil, version, t, r)
	for i, f := range t.def.Fields {
		if len(fields) > 0 && !containsFold(fields, f.Name) {
			continue
		}
		b = append(append(append(b, `,"`...), f.Name...), `":`...)
		b = o.valueJSON(b, version, t, r, &colNode{field: soqlField(i, f), out: &soql.Output{}})
	}
	return append(b, '}')
}

func containsFold(xs []string, s string) bool {
	for _, x := range xs {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}
