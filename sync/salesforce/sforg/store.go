package sforg

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"pgforce/sync/salesforce/soql"
)

// apiError is Salesforce's error: HTTP status plus an element of the JSON error array.
type apiError struct {
	Status  int      `json:"-"`
	Code    string   `json:"errorCode"`
	Message string   `json:"message"`
	Fields  []string `json:"fields,omitempty"`
}

func (e *apiError) Error() string { return e.Code + ": " + e.Message }

// table holds one object's records.
type table struct {
	def  *ObjectDef
	rows []*row
	// byID finds saved records; generated ones are found through their block (lookup).
	byID    map[string]*row
	unique  map[int]map[string]*row // field ordinal → lower-case value → row (unique / external id fields)
	autoNum int
	blocks  []*genBlock
}

// row is one record: values by field ordinal (string, bool, float64, time.Time or nil). A generated
// record keeps no values until it is first written (stored is nil): they are computed from its
// block and index on every read, so that millions of generated records take a few words each.
// Read with val or values; write through own.
type row struct {
	stored    []any
	gen       *genBlock
	genIndex  int32
	deleted   bool
	deletedAt time.Time
}

// generated reports whether the record's values are still computed from its block.
func (r *row) generated() bool { return r.stored == nil && r.gen != nil }

// val is the value of field ordinal i.
func (r *row) val(i int) any {
	if r.generated() {
		return r.gen.value(i, int(r.genIndex))
	}
	if i >= len(r.stored) {
		return nil
	}
	return r.stored[i]
}

// values are the record's values by field ordinal, not to be changed (use own).
func (r *row) values() []any {
	if r.generated() {
		return r.gen.values(int(r.genIndex))
	}
	return r.stored
}

// own returns the record's values for writing in place, storing a generated record's first.
func (r *row) own() []any {
	if r.generated() {
		r.stored = r.gen.values(int(r.genIndex))
	}
	return r.stored
}

// lookup finds a record by its 18-character id (deleted ones too).
func (t *table) lookup(id string) *row {
	if r := t.byID[id]; r != nil {
		return r
	}
	for _, b := range t.blocks {
		if r := b.find(id); r != nil {
			return r
		}
	}
	return nil
}

func newTable(def *ObjectDef) *table {
	t := &table{def: def, byID: map[string]*row{}, unique: map[int]map[string]*row{}}
	for i, f := range def.Fields {
		if f.Unique || f.ExternalID {
			t.unique[i] = map[string]*row{}
		}
	}
	return t
}

func (t *table) id(r *row) string { s, _ := r.val(0).(string); return s }

func (t *table) get(r *row, field string) any {
	i, f := t.def.field(field)
	if f == nil {
		return nil
	}
	return r.val(i)
}

// stamp returns the SystemModstamp of a write. Salesforce stamps whole seconds (.000), and every
// record of one transaction gets the transaction's stamp, so records of a second, or of one call,
// tie: pollers must order by (SystemModstamp, Id) and re-read the second they stopped in.
func (o *Org) stamp() time.Time {
	o.muts.Add(1)
	if pinned := o.pinnedStamp; !pinned.IsZero() { // a transaction's stamp, or CreateCommittedLate's (once)
		if o.pinOnce {
			o.pinnedStamp, o.pinOnce = time.Time{}, false
		}
		return pinned
	}
	now := o.opts.Now().UTC().Truncate(time.Second)
	if now.Before(o.lastStamp) { // the clock went back: stamps never do
		now = o.lastStamp
	}
	o.lastStamp = now
	return now
}

// transaction stamps every write until the returned function is called with one SystemModstamp,
// as one Salesforce transaction does (a collections call, a Bulk API batch). Call with the lock held.
func (o *Org) transaction() (end func()) {
	if !o.pinnedStamp.IsZero() {
		return func() {} // already inside one (a composite request's subrequests)
	}
	o.pinnedStamp, o.pinOnce = o.stamp(), false
	return func() { o.pinnedStamp = time.Time{} }
}

func (o *Org) nextID(prefix string) string {
	o.seq[prefix]++
	return newID(prefix, o.seq[prefix])
}

// table returns an object's table by name, case-insensitively.
func (o *Org) table(name string) *table { return o.tables[strings.ToLower(name)] }

// tableOf returns the table an id belongs to, by key prefix.
func (o *Org) tableOf(id string) *table {
	if len(id) < 3 {
		return nil
	}
	for _, t := range o.tables {
		if t.def.KeyPrefix == id[:3] {
			return t
		}
	}
	return nil
}

// find returns a live (or, with deleted, any) record by id.
func (o *Org) find(t *table, id string, deleted bool) *row {
	r := t.lookup(normalizeID(id))
	if r == nil || (r.deleted && !deleted) {
		return nil
	}
	return r
}

// parseInput decodes a JSON record body into typed values by field ordinal, applying Salesforce's
// write rules: unknown fields, read-only fields, types, lengths, restricted picklists, references and
// parent external id references ("Account__r": {"External_Id__c": "x"}).
func (o *Org) parseInput(t *table, body map[string]json.RawMessage, insert bool) (map[int]any, *apiError) {
	vals := map[int]any{}
	var readonly []string
	keys := make([]string, 0, len(body))
	for k := range body {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		raw := body[k]
		if k == "attributes" || strings.EqualFold(k, "Id") {
			continue
		}
		if ri, ok := t.def.rels[strings.ToLower(k)]; ok {
			if ref := t.def.Fields[ri]; hasKey(body, ref.Name) {
				// As Salesforce: a relationship by external id and its lookup id in one record are
				// refused, even when the id is null.
				return nil, &apiError{Status: 400, Code: "INVALID_FIELD", Fields: []string{ref.Name},
					Message: fmt.Sprintf("Cannot specify both an external ID reference %s and a salesforce id, %s", ref.RelationshipName, ref.Name)}
			}
			id, err := o.resolveParent(t.def.Fields[ri], raw)
			if err != nil {
				return nil, err
			}
			vals[ri] = id
			continue
		}
		i, f := t.def.field(k)
		if f == nil {
			return nil, &apiError{Status: 400, Code: "INVALID_FIELD", Message: fmt.Sprintf("No such column '%s' on sobject of type %s", k, t.def.Name)}
		}
		if (insert && !f.Createable) || (!insert && !f.Updateable) {
			readonly = append(readonly, f.Name)
			continue
		}
		v, err := o.decodeValue(f, raw)
		if err != nil {
			return nil, err
		}
		vals[i] = v
	}
	if len(readonly) > 0 {
		return nil, &apiError{Status: 400, Code: "INVALID_FIELD_FOR_INSERT_UPDATE", Fields: readonly,
			Message: fmt.Sprintf("Unable to create/update fields: %s. Please check the security settings of this field and verify that it is read/write for your profile or permission set.", strings.Join(readonly, ", "))}
	}
	return vals, nil
}

// hasKey reports whether a record body names a field, case-insensitively.
func hasKey(body map[string]json.RawMessage, name string) bool {
	for k := range body {
		if strings.EqualFold(k, name) {
			return true
		}
	}
	return false
}

func jsonTypeError(f *FieldDef, raw json.RawMessage, want string) *apiError {
	return &apiError{Status: 400, Code: "JSON_PARSER_ERROR",
		Message: fmt.Sprintf("Cannot deserialize instance of %s from %s value %s or request may be missing a required field", want, jsonKind(raw), strings.Trim(string(raw), `"`))}
}

func jsonKind(raw json.RawMessage) string {
	switch {
	case len(raw) == 0:
		return "VALUE_NULL"
	case raw[0] == '"':
		return "VALUE_STRING"
	case raw[0] == 't' || raw[0] == 'f':
		return "VALUE_" + strings.ToUpper(string(raw))
	case raw[0] == '{':
		return "START_OBJECT"
	case raw[0] == '[':
		return "START_ARRAY"
	}
	return "VALUE_NUMBER"
}

// decodeValue converts one JSON value to a field's stored value, with Salesforce's errors.
func (o *Org) decodeValue(f *FieldDef, raw json.RawMessage) (any, *apiError) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	switch f.Type {
	case "boolean":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			var s string
			if json.Unmarshal(raw, &s) == nil && (strings.EqualFold(s, "true") || strings.EqualFold(s, "false")) {
				return strings.EqualFold(s, "true"), nil
			}
			return nil, jsonTypeError(f, raw, "boolean")
		}
		return b, nil
	case "int", "double", "currency", "percent", "long":
		var n float64
		if err := json.Unmarshal(raw, &n); err != nil {
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return nil, jsonTypeError(f, raw, "double")
			}
			if n, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				return nil, jsonTypeError(f, raw, "double")
			}
		}
		if math.IsInf(n, 0) || math.IsNaN(n) {
			return nil, jsonTypeError(f, raw, "double")
		}
		if f.Type == "int" {
			if n != math.Trunc(n) || math.Abs(n) > math.MaxInt32 {
				return nil, &apiError{Status: 400, Code: "NUMBER_OUTSIDE_VALID_RANGE", Message: fmt.Sprintf("%s: value outside of valid range on numeric field: %v", f.Label, n), Fields: []string{f.Name}}
			}
		} else if f.Precision > 0 && math.Abs(n) >= math.Pow10(f.Precision-f.Scale) {
			return nil, &apiError{Status: 400, Code: "NUMBER_OUTSIDE_VALID_RANGE", Message: fmt.Sprintf("%s: value outside of valid range on numeric field: %v", f.Label, n), Fields: []string{f.Name}}
		}
		if f.Scale >= 0 && f.Type != "int" && f.Precision > 0 {
			p := math.Pow10(f.Scale)
			n = math.Round(n*p) / p
		}
		return n, nil
	case "date":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, jsonTypeError(f, raw, "date")
		}
		d, err := time.Parse("2006-01-02", strings.TrimSpace(s))
		if err != nil {
			if t, err2 := parseTimeInput(s); err2 == nil {
				return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC), nil
			}
			return nil, jsonTypeError(f, raw, "date")
		}
		return d, nil
	case "datetime":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, jsonTypeError(f, raw, "datetime")
		}
		t, err := parseTimeInput(s)
		if err != nil {
			return nil, jsonTypeError(f, raw, "datetime")
		}
		return t, nil
	case "reference":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, jsonTypeError(f, raw, "reference")
		}
		if s == "" {
			return nil, nil
		}
		id := normalizeID(s)
		if id == "" {
			return nil, &apiError{Status: 400, Code: "MALFORMED_ID", Message: fmt.Sprintf("%s: id value of incorrect type: %s", f.Label, s), Fields: []string{f.Name}}
		}
		t := o.tableOf(id)
		if t == nil || !slices.Contains(f.ReferenceTo, t.def.Name) || o.find(t, id, false) == nil {
			return nil, &apiError{Status: 400, Code: "INVALID_CROSS_REFERENCE_KEY", Message: "invalid cross reference id", Fields: []string{f.Name}}
		}
		return id, nil
	case "address", "location":
		return nil, &apiError{Status: 400, Code: "INVALID_FIELD_FOR_INSERT_UPDATE", Message: fmt.Sprintf("Unable to create/update fields: %s.", f.Name), Fields: []string{f.Name}}
	case "time":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, jsonTypeError(f, raw, "time")
		}
		t, err := parseTimeOfDay(s)
		if err != nil {
			return nil, jsonTypeError(f, raw, "time")
		}
		return t, nil
	case "base64":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, jsonTypeError(f, raw, "base64")
		}
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		if err != nil {
			return nil, jsonTypeError(f, raw, "base64")
		}
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		// Salesforce coerces numbers and booleans sent to text fields.
		if raw[0] == '{' || raw[0] == '[' {
			return nil, jsonTypeError(f, raw, "string")
		}
		s = string(raw)
	}
	if f.Length > 0 && len([]rune(s)) > f.Length {
		return nil, &apiError{Status: 400, Code: "STRING_TOO_LONG", Fields: []string{f.Name},
			Message: fmt.Sprintf("%s: data value too large: %s (max length=%d)", f.Label, truncate(s, 40), f.Length)}
	}
	if f.Type == "picklist" && f.Restricted && s != "" && !slices.Contains(f.Picklist, s) {
		return nil, &apiError{Status: 400, Code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", Fields: []string{f.Name},
			Message: fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label, s)}
	}
	if f.Type == "multipicklist" {
		var bad string
		s, bad = normalizeMulti(f, s)
		if bad != "" {
			return nil, &apiError{Status: 400, Code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", Fields: []string{f.Name},
				Message: fmt.Sprintf("%s: bad value for restricted picklist field: %s", f.Label, bad)}
		}
	}
	if s == "" {
		return nil, nil // Salesforce stores empty text as null
	}
	return s, nil
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "..."
}

// normalizeMulti stores a multi-select picklist value as Salesforce does: each value once, in the
// picklist's defined order (values it does not define after them, as given). bad is a value a
// restricted picklist does not allow.
func normalizeMulti(f *FieldDef, s string) (norm, bad string) {
	var known, other []string
	for _, v := range strings.Split(s, ";") {
		if v = strings.TrimSpace(v); v == "" || slices.Contains(known, v) || slices.Contains(other, v) {
			continue
		}
		if slices.Contains(f.Picklist, v) {
			known = append(known, v)
		} else if f.Restricted {
			return "", v
		} else {
			other = append(other, v)
		}
	}
	slices.SortFunc(known, func(a, b string) int { return slices.Index(f.Picklist, a) - slices.Index(f.Picklist, b) })
	return strings.Join(append(known, other...), ";"), ""
}

// parseTimeOfDay accepts a time field's input (13:45:00, 13:45:00.250, 13:45:00.250Z) as a time on
// 1970-01-01 UTC.
func parseTimeOfDay(s string) (time.Time, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), "Z")
	for _, layout := range []string{"15:04:05.000", "15:04:05", "15:04"} {
		if t, err := time.Parse(layout, s); err == nil {
			return time.Date(1970, 1, 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad time %q", s)
}

// parseTimeInput accepts Salesforce's datetime input formats.
func parseTimeInput(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05-0700", time.RFC3339Nano, "2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC().Truncate(time.Millisecond), nil
		}
	}
	return time.Time{}, fmt.Errorf("bad datetime %q", s)
}

// resolveParent turns {"External_Id__c": "x"} under a relationship into the parent's id.
func (o *Org) resolveParent(f *FieldDef, raw json.RawMessage) (any, *apiError) {
	if string(bytes.TrimSpace(raw)) == "null" {
		return nil, nil
	}
	var ref map[string]json.RawMessage
	if err := json.Unmarshal(raw, &ref); err != nil {
		return nil, jsonTypeError(f, raw, "object")
	}
	delete(ref, "attributes")
	if len(ref) != 1 {
		return nil, &apiError{Status: 400, Code: "INVALID_FIELD", Message: fmt.Sprintf("A relationship (%s) must name exactly one external id field", f.RelationshipName)}
	}
	for _, parentName := range f.ReferenceTo {
		pt := o.table(parentName)
		if pt == nil {
			continue
		}
		for k, v := range ref {
			i, pf := pt.def.field(k)
			if pf == nil || (!pf.ExternalID && !pf.IDLookup) {
				return nil, &apiError{Status: 400, Code: "INVALID_FIELD", Message: fmt.Sprintf("Field %s is not an External ID or indexed field for %s", k, pt.def.Name)}
			}
			var s string
			_ = json.Unmarshal(v, &s)
			if pf.Type == "id" {
				if r := o.find(pt, s, false); r != nil {
					return pt.id(r), nil
				}
			} else if r := pt.unique[i][strings.ToLower(s)]; r != nil && !r.deleted {
				return pt.id(r), nil
			}
			return nil, &apiError{Status: 400, Code: "INVALID_FIELD", Message: fmt.Sprintf("Foreign key external ID: %s not found for field %s in entity %s", s, pf.Name, pt.def.Name)}
		}
	}
	return nil, &apiError{Status: 400, Code: "INVALID_FIELD", Message: "unknown relationship " + f.RelationshipName}
}

// save validates and writes a record: create when r is nil, else update. It maintains system fields,
// defaults, autonumbers, uniqueness and validation rules, then records the change.
func (o *Org) save(t *table, r *row, vals map[int]any, user string) (*row, []string, *apiError) {
	def := t.def
	insert := r == nil
	if !insert && o.locked[t.id(r)] > 0 {
		o.locked[t.id(r)]--
		return nil, nil, &apiError{Status: 400, Code: "UNABLE_TO_LOCK_ROW", Message: "unable to obtain exclusive access to this record or 1 records: " + t.id(r), Fields: []string{}}
	}
	next := make([]any, len(def.Fields))
	if !insert {
		copy(next, r.values())
	}
	var changed []string
	for i, v := range vals {
		if insert || !equalValue(next[i], v) {
			changed = append(changed, def.Fields[i].Name)
		}
		next[i] = v
	}
	if insert {
		for i, f := range def.Fields {
			switch {
			case next[i] != nil:
			case f.AutoNumber:
				t.autoNum++
				next[i] = autoNumber(f.Default, t.autoNum)
			case f.Type == "boolean" && f.DefaultedOnCreate:
				next[i] = f.Default == "true"
			case f.Type == "picklist" && f.Default != "":
				next[i] = f.Default
			}
		}
		if i, f := def.field("OwnerId"); f != nil && next[i] == nil {
			next[i] = user
		}
	}
	var missing []string
	for i, f := range def.Fields {
		if f.Createable && !f.Nillable && !f.DefaultedOnCreate && next[i] == nil {
			missing = append(missing, f.Name)
		}
	}
	if len(missing) > 0 {
		return nil, nil, &apiError{Status: 400, Code: "REQUIRED_FIELD_MISSING", Fields: missing, Message: fmt.Sprintf("Required fields are missing: [%s]", strings.Join(missing, ", "))}
	}
	for i, idx := range t.unique {
		s, ok := next[i].(string)
		if !ok || s == "" {
			continue
		}
		if other := idx[strings.ToLower(s)]; other != nil && other != r && !other.deleted {
			return nil, nil, &apiError{Status: 400, Code: "DUPLICATE_VALUE", Fields: []string{def.Fields[i].Name},
				Message: fmt.Sprintf("duplicate value found: %s duplicates value on record with id: %s", def.Fields[i].Name, t.id(other))}
		}
	}
	if err := o.checkRules(t, next); err != nil {
		return nil, nil, err
	}
	now := o.stamp()
	set := func(name string, v any) {
		if i, f := def.field(name); f != nil {
			next[i] = v
		}
	}
	if insert {
		next[0] = o.nextID(def.KeyPrefix)
		set("CreatedDate", now)
		set("CreatedById", user)
		set("IsDeleted", false)
	}
	set("LastModifiedDate", now)
	set("LastModifiedById", user)
	set("SystemModstamp", now)
	o.derive(def, next)
	if insert {
		r = &row{stored: next}
		t.rows = append(t.rows, r)
		t.byID[next[0].(string)] = r
	} else {
		for i, idx := range t.unique {
			if s, ok := r.val(i).(string); ok && idx[strings.ToLower(s)] == r {
				delete(idx, strings.ToLower(s))
			}
		}
		r.stored = next
	}
	for i, idx := range t.unique {
		if s, ok := next[i].(string); ok && s != "" {
			idx[strings.ToLower(s)] = r
		}
	}
	return r, changed, nil
}

// derive keeps read-only derived fields (full names, closed flags, totals) consistent, as Salesforce does.
func (o *Org) derive(def *ObjectDef, vals []any) {
	get := func(n string) any {
		if i, f := def.field(n); f != nil {
			return vals[i]
		}
		return nil
	}
	set := func(n string, v any) {
		if i, f := def.field(n); f != nil {
			vals[i] = v
		}
	}
	num := func(n string) (float64, bool) { x, ok := get(n).(float64); return x, ok }
	if i, f := def.field("Name"); f != nil && !f.Createable && !f.AutoNumber && def.has("LastName") {
		first, _ := get("FirstName").(string)
		last, _ := get("LastName").(string)
		vals[i] = strings.TrimSpace(first + " " + last)
	}
	if _, f := def.field("IsClosed"); f != nil {
		s, _ := get("Status").(string)
		if def.Name == "Opportunity" {
			s, _ = get("StageName").(string)
		}
		set("IsClosed", strings.HasPrefix(s, "Closed") || s == "Completed")
		if def.has("IsWon") {
			set("IsWon", s == "Closed Won")
		}
	}
	switch def.Name {
	case "Task":
		set("IsHighPriority", get("Priority") == "High")
	case "CampaignMember":
		set("HasResponded", get("Status") == "Responded")
	case "Opportunity":
		amount, ok1 := num("Amount")
		p, ok2 := num("Probability")
		if ok1 && ok2 {
			set("ExpectedRevenue", math.Round(amount*p)/100)
		} else {
			set("ExpectedRevenue", nil)
		}
	case "Attachment":
		if b, ok := get("Body").([]byte); ok {
			set("BodyLength", float64(len(b)))
		}
	case "Contract":
		start, ok := get("StartDate").(time.Time)
		term, ok2 := num("ContractTerm")
		if ok && ok2 {
			set("EndDate", start.AddDate(0, int(term), -1))
		} else {
			set("EndDate", nil)
		}
	case "User":
		if get("CommunityNickname") == nil {
			set("CommunityNickname", get("Alias"))
		}
	case "PricebookEntry":
		if p := o.parent(get("Product2Id")); p != nil {
			set("Name", p.get("Name"))
			set("ProductCode", p.get("ProductCode"))
		}
	case "OrderItem":
		if e := o.parent(get("PricebookEntryId")); e != nil {
			set("Product2Id", e.get("Product2Id"))
			set("ListPrice", e.get("UnitPrice"))
		}
		q, ok1 := num("Quantity")
		price, ok2 := num("UnitPrice")
		if ok1 && ok2 {
			set("TotalPrice", math.Round(q*price*100)/100)
		}
	}
}

// parent is a referenced record with its table, for derived values (nil when missing).
func (o *Org) parent(id any) *boundRow {
	s, _ := id.(string)
	t := o.tableOf(s)
	if t == nil {
		return nil
	}
	r := t.lookup(s)
	if r == nil {
		return nil
	}
	return &boundRow{t, r}
}

// boundRow is a record with its table.
type boundRow struct {
	t *table
	r *row
}

func (b *boundRow) get(field string) any { return b.t.get(b.r, field) }

func autoNumber(format string, n int) string {
	open, end := strings.IndexByte(format, '{'), strings.IndexByte(format, '}')
	if open < 0 || end < open {
		return fmt.Sprint(n)
	}
	width := end - open - 1
	return format[:open] + fmt.Sprintf("%0*d", width, n) + format[end+1:]
}

func equalValue(a, b any) bool {
	switch x := a.(type) {
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []byte:
		y, ok := b.([]byte)
		return ok && bytes.Equal(x, y)
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	return a == b
}

// checkRules evaluates the object's validation rules on the record as it would be saved.
func (o *Org) checkRules(t *table, vals []any) *apiError {
	for _, rule := range t.def.Rules {
		q, err := soql.Parse("SELECT Id FROM "+t.def.Name+" WHERE "+rule.Condition, o.opts.Now())
		if err != nil {
			continue
		}
		b, err := soql.Bind(q, schemaOf{o})
		if err != nil {
			continue
		}
		if b.Match(rowRecord{o: o, t: t, r: &row{stored: vals}}) {
			e := &apiError{Status: 400, Code: "FIELD_CUSTOM_VALIDATION_EXCEPTION", Message: rule.Message}
			if rule.Field != "" {
				e.Fields = []string{rule.Field}
			}
			return e
		}
	}
	return nil
}

// remove soft-deletes a record into the recycle bin (queryAll still sees it, IsDeleted = true).
func (o *Org) remove(t *table, r *row, user string) {
	now := o.stamp()
	vals := r.own()
	r.deleted, r.deletedAt = true, now
	for _, name := range []string{"IsDeleted"} {
		if i, f := t.def.field(name); f != nil {
			vals[i] = true
		}
	}
	if i, f := t.def.field("SystemModstamp"); f != nil {
		vals[i] = now
	}
	if i, f := t.def.field("LastModifiedById"); f != nil {
		vals[i] = user
	}
	for i, idx := range t.unique {
		if s, ok := vals[i].(string); ok && idx[strings.ToLower(s)] == r {
			delete(idx, strings.ToLower(s))
		}
	}
}

// ---- SOQL adapter ----

// schemaOf shows SOQL the objects the integration user may read.
type schemaOf struct{ o *Org }

func (s schemaOf) Object(name string) (soql.Object, bool) {
	t := s.o.readable(name)
	if t == nil {
		return nil, false
	}
	return objectOf{s.o, t}, true
}

type objectOf struct {
	o *Org
	t *table
}

func (x objectOf) Name() string { return x.t.def.Name }

func (x objectOf) Field(name string) (soql.Field, bool) {
	i, f := x.t.def.field(name)
	if f == nil {
		return soql.Field{}, false
	}
	return soqlField(i, f), true
}

func soqlField(i int, f *FieldDef) soql.Field {
	return soql.Field{Name: f.Name, Type: f.Type, Custom: f.Custom, Index: i, Relationship: f.RelationshipName, ReferenceTo: f.ReferenceTo,
		Picklist: f.Picklist, Labels: f.PicklistLabels, NoFilter: !f.filterable(), NoSort: !f.sortable()}
}

func (x objectOf) Relationship(rel string) (soql.Field, soql.Object, bool) {
	i, ok := x.t.def.rels[strings.ToLower(rel)]
	if !ok {
		return soql.Field{}, nil, false
	}
	f := x.t.def.Fields[i]
	// A polymorphic reference (Owner: Group or User) resolves through User, as Salesforce's Name does.
	target := f.ReferenceTo[0]
	if slices.Contains(f.ReferenceTo, "User") {
		target = "User"
	}
	pt := x.o.readable(target)
	if pt == nil {
		return soql.Field{}, nil, false
	}
	return soqlField(i, f), objectOf{x.o, pt}, true
}

// Child finds a child relationship: a reference on another object pointing here under that name.
func (x objectOf) Child(rel string) (soql.Object, soql.Field, bool) {
	ct, i := x.o.childRelationship(x.t, rel)
	if ct == nil || !x.o.access(ct).Read {
		return nil, soql.Field{}, false
	}
	return objectOf{x.o, ct}, soqlField(i, ct.def.Fields[i]), true
}

// ChildName is a child relationship's name as the describe spells it.
func (x objectOf) ChildName(rel string) string {
	ct, i := x.o.childRelationship(x.t, rel)
	if ct == nil {
		return rel
	}
	return ct.def.Fields[i].ChildRelationship
}

// childRelationship finds the object and field behind a child relationship of t ("Contacts").
func (o *Org) childRelationship(t *table, rel string) (*table, int) {
	for _, name := range o.objectNames() {
		ct := o.table(name)
		for i, f := range ct.def.Fields {
			if f.ChildRelationship != "" && strings.EqualFold(f.ChildRelationship, rel) && slices.Contains(f.ReferenceTo, t.def.Name) {
				return ct, i
			}
		}
	}
	return nil, -1
}

func (x objectOf) Fields() []soql.Field {
	out := make([]soql.Field, 0, len(x.t.def.Fields))
	for i, f := range x.t.def.Fields {
		if f.Type != "address" && f.Type != "location" {
			out = append(out, soqlField(i, f))
		}
	}
	return out
}

// rowRecord lets the evaluator read a row, following references to parent records.
type rowRecord struct {
	o *Org
	t *table
	r *row
}

func (rr rowRecord) Value(c *soql.Column) any {
	t, r := rr.t, rr.r
	for i, step := range c.Path {
		if r == nil {
			return nil
		}
		v := rr.o.fieldValue(t, r, step.Field)
		if i == len(c.Path)-1 {
			return v
		}
		id, _ := v.(string)
		if id == "" {
			return nil
		}
		if t = rr.o.tableOf(id); t == nil {
			return nil
		}
		r = t.lookup(id)
	}
	return nil
}
