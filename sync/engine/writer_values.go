package engine

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
)

// fieldMap maps a mapped table's columns to the Salesforce fields they write.
type fieldMap struct {
	byColumn map[string]mapping.Field // plain fields
	parent   map[string]parentRef     // "account__r__ext__c" → Account__r / Ext__c
}

type parentRef struct {
	Relationship, Field string
	Lookup              string // the reference field the relationship sets (AccountId for Account)
}

func newFieldMap(m mapping.Mapping, obj mapping.Object) fieldMap {
	fm := fieldMap{byColumn: map[string]mapping.Field{}, parent: map[string]parentRef{}}
	for _, af := range m.AppliedFields {
		if rel, ext, ok := strings.Cut(af.Name, "."); ok {
			ref := parentRef{Relationship: rel, Field: ext}
			if f, ok := obj.Relationship(rel); ok {
				ref.Lookup = f.Name
			}
			fm.parent[table.Column(af.Name)] = ref
			continue
		}
		if f, ok := obj.Field(af.Name); ok {
			fm.byColumn[table.Column(af.Name)] = f
		}
	}
	return fm
}

// record turns captured column values (hstore text) into a Salesforce record for an insert or an
// update: only fields Salesforce lets this user write are sent, typed as Salesforce expects.
//
// An insert sends the columns the row set: a NULL column is left out, so a create takes Salesforce's
// default and an upsert matching an existing record keeps its value, unless cleared names it (an
// update merged into the insert set it to NULL). An update sends the columns that changed, NULL
// included (that clears the field).
//
// A parent given by its external id (Account.External_Id__c) is sent as the relationship and its
// lookup id (AccountId) is left out: Salesforce refuses a record naming both, even with a null id.
func (fm fieldMap) record(values map[string]*string, insert bool, cleared map[string]bool) (map[string]any, error) {
	rec := map[string]any{}
	byRef := map[string]bool{} // lookups set through their relationship
	for col, v := range values {
		if ref, ok := fm.parent[col]; ok && v != nil {
			rec[ref.Relationship] = map[string]any{ref.Field: *v}
			byRef[strings.ToLower(ref.Lookup)] = true
		}
	}
	for col, v := range values {
		if _, ok := fm.parent[col]; ok {
			continue // sent above; a relationship cannot be cleared through the parent's external id
		}
		f, ok := fm.byColumn[col]
		if !ok || f.Calculated || strings.EqualFold(f.Name, "Id") || byRef[strings.ToLower(f.Name)] {
			continue // system columns (id, sfid, _hc_*), unmapped or read-only fields, lookups set by reference
		}
		if (insert && !f.Createable) || (!insert && !f.Updateable) || (insert && v == nil && !cleared[col]) {
			continue
		}
		val, err := sfValue(f, v)
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", col, err)
		}
		rec[f.Name] = val
	}
	return rec, nil
}

// sfValue converts a Postgres text value to the JSON value of a Salesforce field.
func sfValue(f mapping.Field, v *string) (any, error) {
	if v == nil {
		return nil, nil
	}
	s := *v
	switch strings.ToLower(f.Type) {
	case "boolean":
		switch strings.ToLower(s) {
		case "t", "true", "1", "yes", "on":
			return true, nil
		case "f", "false", "0", "no", "off":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not a boolean", s)
	case "int", "long":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return n, nil
	case "double", "currency", "percent":
		n, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			// Postgres double precision also holds NaN and ±Infinity, which Salesforce (and JSON) cannot.
			return nil, fmt.Errorf("%q is not a number Salesforce accepts", s)
		}
		if !json.Valid([]byte(s)) || s[0] == '+' {
			// Accepted by Go but not JSON (hex floats, "1_0", "+1", ".5"): send Go's shortest form.
			return json.Number(strconv.FormatFloat(n, 'g', -1, 64)), nil
		}
		return json.Number(s), nil
	case "datetime":
		for _, layout := range []string{"2006-01-02 15:04:05.999999", "2006-01-02 15:04:05.999999-07", "2006-01-02T15:04:05.999999Z07:00"} {
			if t, err := time.Parse(layout, s); err == nil {
				return t.UTC().Format("2006-01-02T15:04:05.000Z"), nil
			}
		}
		return nil, fmt.Errorf("%q is not a timestamp", s)
	case "time":
		if t, err := time.Parse("15:04:05.999999", s); err == nil {
			return t.Format("15:04:05.000Z"), nil
		}
		return nil, fmt.Errorf("%q is not a time", s)
	}
	return s, nil
}
