package soql

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Aggregate queries: GROUP BY (plain, ROLLUP, CUBE), HAVING, aggregate functions with or without
// GROUP BY, and their AggregateResult rows, named by alias or expr0, expr1, … as Salesforce names them.

// AggRow is one AggregateResult: its columns in select-list order.
type AggRow []AggValue

// AggValue is one column of an AggregateResult.
type AggValue struct {
	Name   string
	Value  any    // float64 (counts and sums), string, bool, time.Time or nil
	Type   string // the value's type for rendering: int (counts), double, date, datetime, string, …
	Format bool   // FORMAT(): show the value formatted for the user's locale
}

type aggSpec struct {
	fn  string   // COUNT, COUNT_DISTINCT, SUM, AVG, MIN, MAX
	val *valueOf // nil for COUNT()
	typ string   // the result's type
	key string
}

type aggItem struct {
	name     string
	group    int // index into groups, or -1
	agg      int // index into aggs, or -1
	grouping int // GROUPING(field): index into groups, or -1
	format   bool
	label    bool
	typ      string
}

type aggPlan struct {
	groups  []*valueOf
	granks  []map[string]int // picklist groups sort in their defined order
	gkeys   []string
	aggs    []aggSpec
	items   []aggItem
	rollup  string
	having  func(Record) bool
	order   []orderKey
	extract map[*Column]func(*aggRow) any // synthetic columns of HAVING and ORDER BY terms
}

// aggRow is one group being aggregated; it is a Record for HAVING and ORDER BY.
type aggRow struct {
	plan   *aggPlan
	keys   []any
	rolled []bool // the group summarizes over groups[i] (GROUPING = 1)
	acc    []accumulator
}

func (r *aggRow) Value(c *Column) any {
	if f := r.plan.extract[c]; f != nil {
		return f(r)
	}
	return nil
}

type accumulator struct {
	n        int
	sum      float64
	best     any
	distinct map[string]bool
}

// aggregate binds an aggregate query's select list, GROUP BY, HAVING and ORDER BY.
func (bd *binder) aggregate(b *Bound) (*aggPlan, error) {
	q := bd.q
	plan := &aggPlan{rollup: q.Rollup, extract: map[*Column]func(*aggRow) any{}}
	for _, g := range q.GroupBy {
		v, err := bd.value(g, "GROUP BY")
		if err != nil {
			return nil, err
		}
		if v.fn == "TOLABEL" {
			return nil, errAt(q.Text, g.Pos, "MALFORMED_QUERY", "toLabel() cannot be used in GROUP BY")
		}
		if v.fn == "" && !groupable(v.field) {
			return nil, errAt(q.Text, g.Pos, "INVALID_FIELD", "field '%s' can not be grouped in a query call", v.field.Name)
		}
		plan.groups, plan.gkeys, plan.granks = append(plan.groups, v), append(plan.gkeys, g.key()), append(plan.granks, picklistRank(v))
	}
	exprs := 0
	nextExpr := func(alias string) string {
		if alias != "" {
			return alias
		}
		exprs++
		return "expr" + strconv.Itoa(exprs-1)
	}
	seen := map[string]bool{}
	for _, it := range q.Items {
		if it.Term == nil {
			return nil, errAt(q.Text, it.Pos, "MALFORMED_QUERY", "aggregate queries cannot select subqueries, TYPEOF or FIELDS()")
		}
		item, err := bd.aggItem(plan, it, nextExpr)
		if err != nil {
			return nil, err
		}
		if seen[strings.ToLower(item.name)] {
			return nil, errAt(q.Text, it.Pos, "MALFORMED_QUERY", "duplicate alias: %s", item.name)
		}
		seen[strings.ToLower(item.name)] = true
		plan.items = append(plan.items, item)
	}
	if q.Having != nil {
		hb := &binder{q: q, s: bd.s, obj: bd.obj, alias: bd.alias}
		h, err := hb.compileAgg(plan, q.Having)
		if err != nil {
			return nil, err
		}
		plan.having = h
	}
	for _, o := range q.OrderBy {
		v, err := bd.aggTerm(plan, o.Term)
		if err != nil {
			return nil, err
		}
		plan.order = append(plan.order, orderKey{val: v, desc: o.Desc, nullsLast: o.NullsLast, rank: picklistRank(v)})
	}
	if b.Count && len(q.GroupBy) == 0 {
		return nil, errAt(q.Text, q.Pos, "MALFORMED_QUERY", "COUNT() cannot be combined with HAVING without GROUP BY")
	}
	return plan, nil
}

// groupable reports a field Salesforce can group by (not numbers with decimals, datetimes or long text).
func groupable(f Field) bool {
	switch f.Type {
	case "double", "currency", "percent", "datetime", "multipicklist", "base64", "address", "location", "encryptedstring", "time":
		return false
	}
	return !f.NoSort
}

func (bd *binder) groupIndex(plan *aggPlan, t *Term) int {
	return slices.Index(plan.gkeys, t.key())
}

// aggItem binds one entry of an aggregate query's select list.
func (bd *binder) aggItem(plan *aggPlan, it Item, nextExpr func(string) string) (aggItem, error) {
	t := it.Term
	item := aggItem{group: -1, agg: -1, grouping: -1}
	if t.Func == "FORMAT" {
		item.format, t = true, t.Arg
	}
	if t.Func == "TOLABEL" {
		item.label, t = true, t.Arg
	}
	switch {
	case aggregates[t.Func]:
		i, err := bd.aggFunc(plan, t)
		if err != nil {
			return item, err
		}
		item.agg, item.typ, item.name = i, plan.aggs[i].typ, nextExpr(it.Alias)
	case t.Func == "GROUPING":
		if plan.rollup == "" {
			return item, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "GROUPING() needs GROUP BY ROLLUP or CUBE")
		}
		g := bd.groupIndex(plan, t.Arg)
		if g < 0 {
			return item, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "GROUPING() needs a field of GROUP BY: %s", t.Arg.String())
		}
		item.grouping, item.typ, item.name = g, "int", nextExpr(it.Alias)
	default:
		g := bd.groupIndex(plan, t)
		if g < 0 {
			return item, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "Field must be grouped or aggregated: %s", t.String())
		}
		v := plan.groups[g]
		item.group, item.typ = g, v.typ
		if item.label && !isPicklist(v.typ) {
			return item, errAt(bd.q.Text, it.Term.Pos, "INVALID_FIELD", "toLabel() only applies to picklist fields: %s", v.col.Name)
		}
		if v.fn != "" {
			item.name = nextExpr(it.Alias)
		} else {
			item.name = cmpOr(it.Alias, v.field.Name)
		}
	}
	return item, nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// aggFunc binds an aggregate function (reusing an identical one) and returns its index.
func (bd *binder) aggFunc(plan *aggPlan, t *Term) (int, error) {
	key := t.key()
	if i := slices.IndexFunc(plan.aggs, func(a aggSpec) bool { return a.key == key }); i >= 0 {
		return i, nil
	}
	spec := aggSpec{fn: t.Func, key: key, typ: "int"}
	if t.Arg != nil {
		if t.Arg.hasAggregate() {
			return 0, errAt(bd.q.Text, t.Arg.Pos, "MALFORMED_QUERY", "aggregate functions cannot be nested: %s", t.String())
		}
		v, err := bd.value(t.Arg, t.Func+"()")
		if err != nil {
			return 0, err
		}
		if !aggregatable(t.Func, v) {
			return 0, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "field %s does not support aggregate operator %s", v.field.Name, t.Func)
		}
		spec.val = v
		switch t.Func {
		case "SUM", "AVG":
			spec.typ = "double"
		case "MIN", "MAX":
			spec.typ = v.typ
		}
	} else if t.Func != "COUNT" {
		return 0, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "%s() needs a field", t.Func)
	}
	plan.aggs = append(plan.aggs, spec)
	return len(plan.aggs) - 1, nil
}

func aggregatable(fn string, v *valueOf) bool {
	switch v.typ {
	case "multipicklist", "base64", "address", "location", "encryptedstring":
		return false
	}
	if v.field.NoFilter && v.fn == "" {
		return false // long text areas
	}
	switch fn {
	case "SUM", "AVG":
		return isNumber(v.typ)
	case "MIN", "MAX":
		return v.typ != "boolean"
	}
	return true
}

// aggTerm binds a HAVING or ORDER BY term of an aggregate query as a synthetic column of the rows.
func (bd *binder) aggTerm(plan *aggPlan, t *Term) (*valueOf, error) {
	col := &Column{Name: t.String()}
	var typ string
	switch {
	case aggregates[t.Func]:
		i, err := bd.aggFunc(plan, t)
		if err != nil {
			return nil, err
		}
		typ = plan.aggs[i].typ
		plan.extract[col] = func(r *aggRow) any { return plan.result(r, i) }
	default:
		g := bd.groupIndex(plan, t)
		if g < 0 {
			return nil, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "Field must be grouped or aggregated: %s", t.String())
		}
		typ = plan.groups[g].typ
		plan.extract[col] = func(r *aggRow) any { return r.keys[g] }
	}
	f := Field{Name: t.String(), Type: typ}
	if t.Func == "" {
		f = plan.groups[bd.groupIndex(plan, t)].field
	}
	col.Path = []Step{{bd.obj, f}}
	return &valueOf{col: col, typ: typ, field: f}, nil
}

// compileAgg compiles HAVING: conditions on aggregates and grouped fields.
func (bd *binder) compileAgg(plan *aggPlan, e Expr) (func(Record) bool, error) {
	return logical(e, func(e Expr) (func(Record) bool, error) {
		switch x := e.(type) {
		case Cmp:
			v, err := bd.aggTerm(plan, x.Left)
			if err != nil {
				return nil, err
			}
			return bd.cmp(v, x.Op, x.Value)
		case In:
			if x.Sub != nil {
				return nil, errAt(bd.q.Text, x.Sub.Pos, "MALFORMED_QUERY", "semi-joins cannot be used in HAVING")
			}
			v, err := bd.aggTerm(plan, x.Left)
			if err != nil {
				return nil, err
			}
			return bd.in(v, x)
		}
		return nil, fmt.Errorf("soql: unknown expression %T", e)
	})
}

// result is an aggregate's value for a row.
func (plan *aggPlan) result(r *aggRow, i int) any {
	a, acc := plan.aggs[i], r.acc[i]
	switch a.fn {
	case "COUNT":
		return float64(acc.n)
	case "COUNT_DISTINCT":
		return float64(len(acc.distinct))
	case "SUM":
		if acc.n == 0 {
			return nil
		}
		return acc.sum
	case "AVG":
		if acc.n == 0 {
			return nil
		}
		return acc.sum / float64(acc.n)
	}
	return acc.best
}

// groupKey is a value's identity for grouping and COUNT_DISTINCT: text case-insensitively, ids
// on their 15-character form.
func groupKey(typ string, v any) string {
	switch x := v.(type) {
	case nil:
		return "\x00"
	case string:
		if typ == "id" || typ == "reference" {
			return idKey(x)
		}
		return strings.ToLower(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

// Aggregate groups the records matching WHERE into AggregateResult rows: HAVING, ORDER BY, OFFSET
// and LIMIT applied.
func (b *Bound) Aggregate(recs []Record) []AggRow {
	plan := b.agg
	n := len(plan.groups)
	var sets []uint // which groups each grouping set keeps, as bits
	switch plan.rollup {
	case "ROLLUP":
		for k := n; k >= 0; k-- {
			sets = append(sets, uint(1)<<k-1)
		}
	case "CUBE":
		for m := uint(1)<<n - 1; ; m-- {
			sets = append(sets, m)
			if m == 0 {
				break
			}
		}
	default:
		sets = []uint{uint(1)<<n - 1}
	}
	var rows []*aggRow
	index := map[string]*aggRow{}
	keys := make([]any, n)
	for _, rec := range recs {
		for i, g := range plan.groups {
			keys[i] = g.eval(rec)
		}
		for _, set := range sets {
			var kb strings.Builder
			fmt.Fprintf(&kb, "%d|", set)
			for i := range n {
				if set&(1<<i) != 0 {
					kb.WriteString(groupKey(plan.groups[i].typ, keys[i]))
				}
				kb.WriteByte('|')
			}
			row := index[kb.String()]
			if row == nil {
				row = plan.newRow(set, keys)
				index[kb.String()] = row
				rows = append(rows, row)
			}
			plan.accumulate(row, rec)
		}
	}
	if n == 0 && len(rows) == 0 { // aggregates over no records still give one row (COUNT = 0)
		rows = append(rows, plan.newRow(0, keys))
	}
	if plan.having != nil {
		rows = slices.DeleteFunc(rows, func(r *aggRow) bool { return !plan.having(r) })
	}
	if len(plan.order) > 0 {
		slices.SortStableFunc(rows, func(x, y *aggRow) int { return compareBy(plan.order, x, y) })
	} else {
		// Groups in key order, each subtotal after the groups it sums up, the grand total last.
		slices.SortStableFunc(rows, func(x, y *aggRow) int {
			for i := range n {
				switch {
				case x.rolled[i] != y.rolled[i]:
					if x.rolled[i] {
						return 1
					}
					return -1
				case x.rolled[i]:
					continue
				}
				if c := compareRanked(plan.groups[i].typ, plan.granks[i], x.keys[i], y.keys[i], false); c != 0 {
					return c
				}
			}
			return 0
		})
	}
	if b.Offset > 0 {
		rows = rows[min(b.Offset, len(rows)):]
	}
	if b.Limit >= 0 && b.Limit < len(rows) {
		rows = rows[:b.Limit]
	}
	out := make([]AggRow, len(rows))
	for i, r := range rows {
		out[i] = plan.render(r)
	}
	return out
}

func (plan *aggPlan) newRow(set uint, keys []any) *aggRow {
	n := len(plan.groups)
	r := &aggRow{plan: plan, keys: make([]any, n), rolled: make([]bool, n), acc: make([]accumulator, len(plan.aggs))}
	for i := range n {
		if set&(1<<i) != 0 {
			r.keys[i] = keys[i]
		} else {
			r.rolled[i] = true
		}
	}
	return r
}

func (plan *aggPlan) accumulate(row *aggRow, rec Record) {
	for i, a := range plan.aggs {
		acc := &row.acc[i]
		if a.val == nil { // COUNT()
			acc.n++
			continue
		}
		v := a.val.eval(rec)
		if v == nil {
			continue
		}
		switch a.fn {
		case "COUNT":
			acc.n++
		case "COUNT_DISTINCT":
			if acc.distinct == nil {
				acc.distinct = map[string]bool{}
			}
			acc.distinct[groupKey(a.val.typ, v)] = true
		case "SUM", "AVG":
			x, _ := v.(float64)
			acc.sum += x
			acc.n++
		case "MIN":
			if acc.best == nil || compareValues(a.val.typ, v, acc.best, false) < 0 {
				acc.best = v
			}
		case "MAX":
			if acc.best == nil || compareValues(a.val.typ, v, acc.best, false) > 0 {
				acc.best = v
			}
		}
	}
}

func (plan *aggPlan) render(r *aggRow) AggRow {
	out := make(AggRow, len(plan.items))
	for i, it := range plan.items {
		v := AggValue{Name: it.name, Type: it.typ, Format: it.format}
		switch {
		case it.agg >= 0:
			v.Value = plan.result(r, it.agg)
		case it.grouping >= 0:
			v.Value = map[bool]float64{true: 1, false: 0}[r.rolled[it.grouping]]
		default:
			v.Value = r.keys[it.group]
			if s, ok := v.Value.(string); ok && it.label {
				v.Value = labelOf(plan.groups[it.group].field, s)
			}
		}
		out[i] = v
	}
	return out
}
