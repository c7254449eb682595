package soql

import (
	"fmt"
	"slices"
	"strings"
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
	// Child returns a child relationship (Account's Contacts): the child object and its reference
	// field pointing back.
	Child(rel string) (Object, Field, bool)
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
	ReferenceTo  []string // a reference's targets (several for polymorphic ones)
	Picklist     []string // a picklist's values in their defined order (ORDER BY sorts by it)
	// Labels are picklist labels that differ from their values (toLabel()).
	Labels map[string]string
	// NoFilter and NoSort are describe's filterable = false and sortable/groupable = false.
	NoFilter, NoSort bool
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

// Output is one entry of a (non-aggregate) query's select list, as a record shows it.
type Output struct {
	Name   string  // the record's key: the field, the alias of toLabel()/FORMAT(), the relationship
	Column *Column // a field (nil for subqueries and TYPEOF)
	Label  bool    // toLabel(): the picklist value's label
	Format bool    // FORMAT(): the value formatted for the user's locale
	// Sub is a parent-to-child subquery, linked by Link (the child's reference to the parent).
	Sub  *Bound
	Link Field
	// TypeOf is a TYPEOF on a polymorphic relationship.
	TypeOf *TypeOfOutput
}

// TypeOfOutput renders a polymorphic parent with fields chosen by its type.
type TypeOfOutput struct {
	Field Field                // the polymorphic reference (WhatId)
	Cases map[string][]*Column // lower-case object name → its fields (WHEN branches, then ELSE for the others)
}

// Bound is a query resolved against a schema, ready to run.
type Bound struct {
	Query   *Query
	Object  Object
	Columns []*Column // the plain fields of the select list (FIELDS() expanded), for Bulk CSV
	Outputs []*Output // the select list as records show it (non-aggregate queries)
	Count   bool
	// Aggregated is set for GROUP BY queries and aggregate functions: results are AggregateResult rows.
	Aggregated bool
	Limit      int // -1: none
	Offset     int // -1: none
	// MentionsIsDeleted reports whether WHERE tests IsDeleted (queryAll semantics then apply as written).
	MentionsIsDeleted bool
	Scope             string // USING SCOPE, lower case ("" when absent)
	SecurityEnforced  bool

	match func(Record) bool
	ids   []string // the ids WHERE requires a record to have one of (byIDs)
	byIDs bool
	order []orderKey
	semi  []*SemiJoin
	agg   *aggPlan
}

// SemiJoin is a subquery in a condition (Id IN (SELECT AccountId FROM Contact)): the org runs Sub
// and sets its values before the outer query's records are matched.
type SemiJoin struct {
	Sub *Bound
	set map[string]bool
}

// Set gives the subquery's values (its one column).
func (s *SemiJoin) Set(values []any) {
	s.set = make(map[string]bool, len(values))
	for _, v := range values {
		if str, ok := v.(string); ok && str != "" {
			s.set[idKey(str)] = true
		}
	}
}

func (s *SemiJoin) has(v any) bool {
	str, ok := v.(string)
	return ok && s.set[idKey(str)]
}

// idKey compares ids on their case-sensitive 15-character form.
func idKey(id string) string { return id[:min(15, len(id))] }

type orderKey struct {
	val       *valueOf
	desc      bool
	nullsLast bool
	rank      map[string]int // a picklist's defined order
}

// Match reports whether a record satisfies WHERE. Run SemiJoins first.
func (b *Bound) Match(r Record) bool { return b.match == nil || b.match(r) }

// IDs returns the ids a matching record must have one of, when WHERE requires it (Id = 'x' or
// Id IN ('x', …), alone or ANDed with other conditions): Salesforce answers such a query from its
// index, and so may an org, Match still deciding the rest. ok is false when WHERE does not.
func (b *Bound) IDs() (ids []string, ok bool) { return b.ids, b.byIDs }

// SemiJoins returns the subqueries of WHERE, to run before Match.
func (b *Bound) SemiJoins() []*SemiJoin { return b.semi }

// Sorted reports whether the query has ORDER BY.
func (b *Bound) Sorted() bool { return len(b.order) > 0 }

// Compare orders two records by ORDER BY.
func (b *Bound) Compare(x, y Record) int { return compareBy(b.order, x, y) }

// compareBy orders two records (or aggregate rows) by ORDER BY keys.
func compareBy(order []orderKey, x, y Record) int {
	for _, k := range order {
		c := compareRanked(k.val.typ, k.rank, k.val.eval(x), k.val.eval(y), k.nullsLast != k.desc)
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
	q     *Query
	s     Schema
	obj   Object
	alias string
	del   bool
	semi  []*SemiJoin
	depth int // parent-to-child nesting
}

func errAt(q string, pos int, code, format string, args ...any) *Error {
	return &Error{Code: code, Message: located(q, pos, fmt.Sprintf(format, args...))}
}

// Bind resolves a parsed query's names and types against a schema.
func Bind(q *Query, s Schema) (*Bound, error) {
	obj, ok := s.Object(q.Object.Name)
	if !ok {
		return nil, errAt(q.Text, q.Object.Pos, "INVALID_TYPE", "sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.Object.Name)
	}
	return bindOn(q, s, obj, 0)
}

func bindOn(q *Query, s Schema, obj Object, depth int) (*Bound, error) {
	bd := &binder{q: q, s: s, obj: obj, alias: q.Alias, depth: depth}
	b := &Bound{Query: q, Object: obj, Count: q.Count, Limit: q.Limit, Offset: q.Offset, SecurityEnforced: q.Security}
	if q.Scope.Name != "" {
		scope := strings.ToLower(q.Scope.Name)
		if !slices.Contains([]string{"delegated", "everything", "mine", "mine_and_my_groups", "my_territory", "my_team_territory", "team", "scopingrule"}, scope) {
			return nil, errAt(q.Text, q.Scope.Pos, "MALFORMED_QUERY", "Invalid scope: %s. Use everything, mine, mine_and_my_groups, delegated, team, my_territory or my_team_territory", q.Scope.Name)
		}
		b.Scope = scope
	}
	if q.Where != nil {
		m, err := bd.compile(q.Where)
		if err != nil {
			return nil, err
		}
		b.match = m
		b.ids, b.byIDs = bd.requiredIDs(q.Where)
	}
	b.MentionsIsDeleted, b.semi = bd.del, bd.semi
	b.Aggregated = len(q.GroupBy) > 0 || q.Having != nil || slices.ContainsFunc(q.Items, func(it Item) bool { return it.Term != nil && it.Term.hasAggregate() })
	if b.Aggregated {
		if depth > 0 {
			return nil, errAt(q.Text, q.Pos, "MALFORMED_QUERY", "Aggregate functions and GROUP BY are not supported in a relationship subquery")
		}
		plan, err := bd.aggregate(b)
		if err != nil {
			return nil, err
		}
		b.agg = plan
		return b, nil
	}
	if err := bd.selectList(b); err != nil {
		return nil, err
	}
	if q.FieldsAll() && (q.Limit < 0 || q.Limit > 200) {
		return nil, errAt(q.Text, q.Pos, "MALFORMED_QUERY", "The SOQL FIELDS function must have a LIMIT of at most 200")
	}
	for _, o := range q.OrderBy {
		v, err := bd.value(o.Term, "ORDER BY")
		if err != nil {
			return nil, err
		}
		if v.field.NoSort || v.fn == "TOLABEL" && v.field.Type == "multipicklist" {
			return nil, errAt(q.Text, o.Term.Pos, "INVALID_FIELD", "field '%s' can not be sorted in a query call", v.field.Name)
		}
		b.order = append(b.order, orderKey{val: v, desc: o.Desc, nullsLast: o.NullsLast, rank: picklistRank(v)})
	}
	return b, nil
}

// FieldsAll reports FIELDS(ALL) or FIELDS(CUSTOM), which need LIMIT 200.
func (q *Query) FieldsAll() bool {
	return slices.ContainsFunc(q.Items, func(it Item) bool { return it.Fields == "ALL" || it.Fields == "CUSTOM" })
}

// HasSubqueries reports parent-to-child subqueries in the select list.
func (q *Query) HasSubqueries() bool {
	return slices.ContainsFunc(q.Items, func(it Item) bool { return it.Sub != nil })
}

// HasTypeOf reports TYPEOF in the select list.
func (q *Query) HasTypeOf() bool {
	return slices.ContainsFunc(q.Items, func(it Item) bool { return it.TypeOf != nil })
}

// HasFields reports FIELDS() in the select list.
func (q *Query) HasFields() bool {
	return slices.ContainsFunc(q.Items, func(it Item) bool { return it.Fields != "" })
}

func picklistRank(v *valueOf) map[string]int {
	if v.fn != "" || (v.field.Type != "picklist" && v.field.Type != "combobox") || len(v.field.Picklist) == 0 {
		return nil
	}
	rank := make(map[string]int, len(v.field.Picklist))
	for i, p := range v.field.Picklist {
		rank[strings.ToLower(p)] = i
	}
	return rank
}

func (t *Term) hasAggregate() bool {
	for x := t; x != nil; x = x.Arg {
		if aggregates[x.Func] {
			return true
		}
	}
	return false
}

var aggregates = map[string]bool{"COUNT": true, "COUNT_DISTINCT": true, "SUM": true, "AVG": true, "MIN": true, "MAX": true}

// selectList binds a non-aggregate select list into outputs.
func (bd *binder) selectList(b *Bound) error {
	q := bd.q
	seen := map[string]bool{}
	add := func(o *Output, pos int) error {
		key := strings.ToLower(o.Name)
		if seen[key] {
			return errAt(q.Text, pos, "MALFORMED_QUERY", "duplicate field selected: %s", o.Name)
		}
		seen[key] = true
		b.Outputs = append(b.Outputs, o)
		if o.Column != nil && !o.Label && !o.Format {
			b.Columns = append(b.Columns, o.Column)
		}
		return nil
	}
	for _, it := range q.Items {
		switch {
		case it.Fields != "":
			for _, f := range bd.obj.Fields() {
				if it.Fields == "ALL" || (it.Fields == "CUSTOM") == f.Custom {
					if !seen[strings.ToLower(f.Name)] {
						_ = add(&Output{Name: f.Name, Column: &Column{Path: []Step{{bd.obj, f}}, Name: f.Name}}, it.Pos)
					}
				}
			}
		case it.Sub != nil:
			o, err := bd.subquery(it.Sub)
			if err != nil {
				return err
			}
			if err := add(o, it.Pos); err != nil {
				return err
			}
		case it.TypeOf != nil:
			o, err := bd.typeOf(it.TypeOf)
			if err != nil {
				return err
			}
			if err := add(o, it.Pos); err != nil {
				return err
			}
		default:
			o, err := bd.output(it)
			if err != nil {
				return err
			}
			if err := add(o, it.Pos); err != nil {
				return err
			}
		}
	}
	return nil
}

// output binds a field, toLabel(field) or FORMAT(field) of a non-aggregate select list.
func (bd *binder) output(it Item) (*Output, error) {
	t := it.Term
	o := &Output{}
	switch t.Func {
	case "TOLABEL":
		o.Label = true
	case "FORMAT":
		o.Format = true
	case "CONVERTCURRENCY":
	case "":
		if it.Alias != "" {
			// Aliases name aggregate results; a plain query names its columns by field.
			return nil, errAt(bd.q.Text, it.AliasPos, "MALFORMED_QUERY", "unexpected token: '%s'", it.Alias)
		}
	default:
		if dateFunctions[t.Func] != nil {
			return nil, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "Field must be grouped or aggregated: %s", t.String())
		}
		return nil, errAt(bd.q.Text, t.Pos, "MALFORMED_QUERY", "%s() is not allowed here", t.Func)
	}
	inner := t
	if t.Func != "" {
		inner = t.Arg
		if inner.Func == "CONVERTCURRENCY" && t.Func == "FORMAT" {
			inner = inner.Arg
		}
		if inner.Func != "" {
			return nil, errAt(bd.q.Text, inner.Pos, "MALFORMED_QUERY", "%s() is not allowed here", inner.Func)
		}
	}
	col, err := bd.column(inner.Field)
	if err != nil {
		return nil, err
	}
	if o.Label && !isPicklist(col.Last().Type) {
		return nil, errAt(bd.q.Text, t.Pos, "INVALID_FIELD", "toLabel() only applies to picklist fields: %s", col.Name)
	}
	o.Column, o.Name = col, col.Name
	if it.Alias != "" {
		o.Name = it.Alias
	}
	return o, nil
}

func isPicklist(typ string) bool {
	return typ == "picklist" || typ == "multipicklist" || typ == "combobox"
}

// subquery binds a parent-to-child subquery: FROM names a child relationship of the outer object.
func (bd *binder) subquery(sq *Query) (*Output, error) {
	if bd.depth >= 4 {
		return nil, errAt(bd.q.Text, sq.Pos, "MALFORMED_QUERY", "SOQL statements cannot query aggregate relationships more than 5 levels away from the root entity object.")
	}
	child, link, ok := bd.obj.Child(sq.Object.Name)
	if !ok {
		return nil, errAt(bd.q.Text, sq.Object.Pos, "INVALID_TYPE", "Didn't understand relationship '%s' in FROM part of query call. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", sq.Object.Name)
	}
	if sq.Count {
		return nil, errAt(bd.q.Text, sq.Pos, "MALFORMED_QUERY", "COUNT() is not supported in a relationship subquery")
	}
	sub, err := bindOn(sq, bd.s, child, bd.depth+1)
	if err != nil {
		return nil, err
	}
	return &Output{Name: relName(bd.obj, sq.Object.Name), Sub: sub, Link: link}, nil
}

// relName is a child relationship's canonical name (the describe's casing).
func relName(parent Object, rel string) string {
	if c, ok := parent.(interface{ ChildName(string) string }); ok {
		return c.ChildName(rel)
	}
	return rel
}

// typeOf binds TYPEOF Rel WHEN Type THEN fields … ELSE fields END.
func (bd *binder) typeOf(to *TypeOf) (*Output, error) {
	f, _, ok := bd.obj.Relationship(to.Field.Name)
	if !ok {
		return nil, errAt(bd.q.Text, to.Field.Pos, "INVALID_FIELD", "Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", to.Field.Name)
	}
	if len(f.ReferenceTo) < 2 {
		return nil, errAt(bd.q.Text, to.Field.Pos, "MALFORMED_QUERY", "TYPEOF works on polymorphic relationships only; %s always points to %s", f.Relationship, strings.Join(f.ReferenceTo, ""))
	}
	out := &TypeOfOutput{Field: f, Cases: map[string][]*Column{}}
	bindOn := func(objName string, refs []FieldRef, strict bool) ([]*Column, error) {
		obj, ok := bd.s.Object(objName)
		if !ok {
			return nil, nil
		}
		sub := &binder{q: bd.q, s: bd.s, obj: obj}
		var cols []*Column
		for _, r := range refs {
			col, err := sub.column(r)
			if err != nil {
				if strict {
					return nil, err
				}
				continue // ELSE fields apply to the types that have them
			}
			cols = append(cols, col)
		}
		return cols, nil
	}
	for _, w := range to.Whens {
		i := slices.IndexFunc(f.ReferenceTo, func(t string) bool { return strings.EqualFold(t, w.Type.Name) })
		if i < 0 {
			return nil, errAt(bd.q.Text, w.Type.Pos, "MALFORMED_QUERY", "%s is not a type %s can point to (%s)", w.Type.Name, f.Relationship, strings.Join(f.ReferenceTo, ", "))
		}
		cols, err := bindOn(f.ReferenceTo[i], w.Fields, true)
		if err != nil {
			return nil, err
		}
		out.Cases[strings.ToLower(f.ReferenceTo[i])] = cols
	}
	if len(to.Else) > 0 {
		found := false
		for _, target := range f.ReferenceTo {
			if _, done := out.Cases[strings.ToLower(target)]; done {
				continue
			}
			cols, _ := bindOn(target, to.Else, false)
			found = found || len(cols) > 0
			out.Cases[strings.ToLower(target)] = cols
		}
		if !found {
			return nil, errAt(bd.q.Text, to.Else[0].Pos, "INVALID_FIELD", "No such column '%s' on any type %s can point to", to.Else[0].Name, f.Relationship)
		}
	}
	return &Output{Name: f.Relationship, TypeOf: out}, nil
}

// column resolves a dotted path: relationship names, then a field.
func (bd *binder) column(ref FieldRef) (*Column, error) {
	parts := strings.Split(ref.Name, ".")
	obj := bd.obj
	// A path may start with the object's own name or alias ("Account.Name" in FROM Account, "c.Name" in FROM Contact c).
	if len(parts) > 1 && (strings.EqualFold(parts[0], obj.Name()) || (bd.alias != "" && strings.EqualFold(parts[0], bd.alias))) {
		if _, _, isRel := obj.Relationship(parts[0]); !isRel || strings.EqualFold(parts[0], bd.alias) {
			parts = parts[1:]
		}
	}
	if len(parts) > 6 {
		return nil, errAt(bd.q.Text, ref.Pos, "MALFORMED_QUERY", "SOQL statements cannot query relationships more than 5 levels away from the root entity object.")
	}
	col := &Column{}
	var names []string
	for i, part := range parts {
		if i < len(parts)-1 {
			f, parent, ok := obj.Relationship(part)
			if !ok {
				return nil, errAt(bd.q.Text, ref.Pos, "INVALID_FIELD", "Didn't understand relationship '%s' in field path. If you are attempting to use a custom relationship, be sure to append the '__r' after the custom relationship name. Please reference your WSDL or the describe call for the appropriate names.", part)
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
			return nil, errAt(bd.q.Text, ref.Pos, "INVALID_FIELD", "No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", part, obj.Name())
		}
		col.Path = append(col.Path, Step{obj, f})
		names = append(names, f.Name)
	}
	col.Name = strings.Join(names, ".")
	return col, nil
}

func (bd *binder) noteDeleted(col *Column) {
	if len(col.Path) == 1 && strings.EqualFold(col.Last().Name, "IsDeleted") {
		bd.del = true
	}
}
