package mapping

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/table"
	"pgforce/sync/failure"
)

// Problem is one thing wrong with a configuration, located by a JSON path.
type Problem struct {
	Path    string // e.g. "config.fields.Foo__c"
	Message string
}

// Problems is a list of problems; it is an error when not empty.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Path + ": " + p.Message)
	}
	return b.String()
}

// Failure turns problems into an Invalid failure for the dashboard and API.
func (ps Problems) Failure() error {
	if len(ps) == 0 {
		return nil
	}
	return &failure.Error{Kind: failure.Invalid, Message: "The mapping configuration is not valid: " + ps.Error(), Err: ps}
}

// Env gives validation what it cannot know from one describe.
type Env struct {
	// Describe returns a related object's describe, for parent external-id fields (A__r.Ext__c).
	Describe func(object string) (Object, error)
	// CheckFilter validates a record filter (a SOQL WHERE condition) against the object.
	CheckFilter func(object, where string) error
	// Previous is the configuration an edit replaces (nil when creating). Required fields it already
	// lacked while read/write (Salesforce made them required later) are reported as drift and do not
	// block an edit that does not fix them: each fix stands alone.
	Previous *Config
}

// Resolved is a validated configuration with canonical names and the table it needs.
type Resolved struct {
	Config Config
	Table  []table.Field
}

// Validate checks c against the object's describe, fills defaults, canonicalises field names, adds
// the locked system fields, and returns every problem at once with its path under prefix (e.g.
// "mappings[0].config").
func Validate(c Config, obj Object, env Env, prefix string) (Resolved, Problems) {
	var ps Problems
	add := func(path, format string, args ...any) {
		ps = append(ps, Problem{Path: strings.TrimPrefix(prefix+"."+path, "."), Message: fmt.Sprintf(format, args...)})
	}
	out := c.Clone()
	if !obj.Queryable {
		add("object_name", "Salesforce object %s cannot be queried by this user, so it cannot be synced", obj.Name)
	}
	switch out.Access {
	case ReadOnly, ReadWrite:
	case "":
		out.Access = ReadOnly
	default:
		add("access", "must be read_only or read_write, got %q", out.Access)
	}
	if out.Access == ReadWrite && !obj.Createable && !obj.Updateable {
		add("access", "Salesforce does not let this user create or update %s records; use read_only", obj.Name)
	}
	if out.SFPollingSeconds == 0 {
		out.SFPollingSeconds = DefaultPollingSeconds
	}
	if out.SFPollingSeconds < MinPollingSeconds || out.SFPollingSeconds > MaxPollingSeconds {
		add("sf_polling_seconds", "must be between %d (2 minutes) and %d (60 minutes), got %d", MinPollingSeconds, MaxPollingSeconds, out.SFPollingSeconds)
	}
	if out.SFMaxDailyAPICalls == 0 {
		out.SFMaxDailyAPICalls = DefaultMaxDailyCalls
	}
	if out.SFMaxDailyAPICalls < 0 {
		add("sf_max_daily_api_calls", "must not be negative")
	}

	// Fields: canonical names, locked system fields added, every one mappable.
	fields := map[string]struct{}{}
	var tbl []table.Field
	seen := map[string]string{}
	addField := func(path, name string, f table.Field) {
		col := table.Column(f.Name)
		if prev, dup := seen[col]; dup && prev != f.Name {
			add(path, "%s and %s would both become column %q", prev, f.Name, col)
			return
		}
		if err := table.CheckIdentifier("column", col); err != nil {
			add(path, "%s", failure.Message(err))
			return
		}
		if _, err := table.ColumnType(f); err != nil {
			add(path, "%s", err.Error())
			return
		}
		if _, dup := seen[col]; !dup {
			tbl = append(tbl, f)
		}
		seen[col] = f.Name
		fields[f.Name] = struct{}{}
	}
	for _, name := range SystemFields {
		if f, ok := obj.Field(name); ok {
			addField("fields."+name, name, tableField(f, f.Name))
		}
	}
	names := make([]string, 0, len(out.Fields))
	for n := range out.Fields {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		path := "fields." + name
		if rel, ext, ok := strings.Cut(name, "."); ok {
			f, err := parentExternalID(obj, rel, ext, env)
			if err != nil {
				add(path, "%s", err.Error())
				continue
			}
			addField(path, name, f)
			continue
		}
		f, ok := obj.Field(name)
		if !ok {
			add(path, "%s has no field named %s (it may have been removed or renamed in Salesforce, or this user may not see it)", obj.Name, name)
			continue
		}
		addField(path, f.Name, tableField(f, f.Name))
	}
	out.Fields = fields
	if out.Access == ReadWrite && obj.Createable {
		var before []string
		if p := env.Previous; p != nil && p.Access == ReadWrite {
			before = MissingRequired(obj, p.Fields)
		}
		for _, f := range MissingRequired(obj, fields) {
			if !slices.Contains(before, f) {
				add("fields."+f, "%s", RequiredMessage(obj.Name, f))
			}
		}
	}

	// Indexes: only on mapped fields; Id is unique, SystemModstamp is not.
	idx := map[string]IndexOption{}
	for name, opt := range out.Indexes {
		canon := canonical(fields, name)
		if canon == "" {
			add("indexes."+name, "can only index a mapped field")
			continue
		}
		if canon == "Id" {
			opt.Unique = true
		}
		idx[canon] = opt
	}
	if _, ok := idx["Id"]; !ok {
		idx["Id"] = IndexOption{Unique: true}
	}
	if _, ok := fields["SystemModstamp"]; ok {
		if _, has := idx["SystemModstamp"]; !has {
			idx["SystemModstamp"] = IndexOption{Unique: false}
		}
	}
	out.Indexes = idx

	if out.UpsertField != "" {
		canon := canonical(fields, out.UpsertField)
		f, ok := obj.Field(out.UpsertField)
		switch {
		case canon == "":
			add("upsert_field", "%s must also be a mapped field", out.UpsertField)
		case !ok || (!f.ExternalID && !f.IDLookup) || strings.EqualFold(f.Name, "Id"):
			add("upsert_field", "%s is not an External ID field of %s", out.UpsertField, obj.Name)
		default:
			out.UpsertField = canon
		}
	}
	if p := out.ConflictPolicy(); p != "" {
		if pol, err := conflict.ParsePolicy(p); err != nil {
			add("pgforce.conflict_policy", "%s", failure.Message(err))
		} else {
			out.PGForce.ConflictPolicy = string(pol)
		}
	}
	if flt := out.Filter(); flt != "" && env.CheckFilter != nil {
		if err := env.CheckFilter(obj.Name, flt); err != nil {
			add("pgforce.record_filter", "%s", err.Error())
		}
	}
	return Resolved{Config: out, Table: tbl}, ps
}

// MissingRequired lists the fields Salesforce needs to create a record of obj (createable, not
// nillable, no default) that are not among mapped. A read/write mapping without them would see
// every insert from Postgres refused with REQUIRED_FIELD_MISSING.
func MissingRequired(obj Object, mapped map[string]struct{}) []string {
	var out []string
	for _, f := range obj.Fields {
		if f.RequiredOnCreate() && canonical(mapped, f.Name) == "" {
			out = append(out, f.Name)
		}
	}
	return out
}

// RequiredMessage explains one missing required field the same way on every surface.
func RequiredMessage(object, field string) string {
	return fmt.Sprintf("%s.%s is required to create %s records; add it or make the mapping read-only", object, field, object)
}

func canonical(fields map[string]struct{}, name string) string {
	for f := range fields {
		if strings.EqualFold(f, name) {
			return f
		}
	}
	return ""
}

func tableField(f Field, name string) table.Field {
	return table.Field{Name: name, Type: f.Type, Length: f.Length, Precision: f.Precision, Scale: f.Scale, Digits: f.Digits}
}

// parentExternalID resolves "Account__r.External_Id__c": a relationship of obj whose parent object has
// that External ID field. Heroku Connect fills such columns so children can be inserted with their
// parent's external id.
func parentExternalID(obj Object, rel, ext string, env Env) (table.Field, error) {
	ref, ok := obj.Relationship(rel)
	if !ok {
		return table.Field{}, fmt.Errorf("%s has no relationship named %s", obj.Name, rel)
	}
	if len(ref.ReferenceTo) != 1 {
		return table.Field{}, fmt.Errorf("%s points to several objects (%s); an external id lookup needs exactly one", rel, strings.Join(ref.ReferenceTo, ", "))
	}
	if env.Describe == nil {
		return table.Field{}, errors.New("parent objects cannot be described here")
	}
	parent, err := env.Describe(ref.ReferenceTo[0])
	if err != nil {
		return table.Field{}, fmt.Errorf("describe %s: %w", ref.ReferenceTo[0], err)
	}
	pf, ok := parent.Field(ext)
	if !ok || !pf.ExternalID {
		return table.Field{}, fmt.Errorf("%s.%s is not an External ID field", parent.Name, ext)
	}
	return table.Field{Name: ref.RelationshipName + "." + pf.Name, Type: pf.Type, Length: pf.Length, Precision: pf.Precision, Scale: pf.Scale}, nil
}
