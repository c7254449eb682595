package sforg

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hamba/avro/v2"

	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/pubsub"
)

// eventSchema is an object's change event schema as the Pub/Sub API serves it: a record named
// <Object>ChangeEvent in com.sforce.eventbus holding the ChangeEventHeader and every field of the
// object, each optional (unchanged fields are null), an address's parts nested in a record at the
// address field's position, datetimes as epoch milliseconds.
type eventSchema struct {
	id     string
	json   string
	schema *avro.RecordSchema
	// place maps a field name of the CometD payload to its place in the record: "Name" → "Name",
	// "BillingCity" → "BillingAddress.City".
	place map[string]string
	kinds map[string]string // top-level or "Compound.Part" name → value kind: string, boolean, int, double, millis
}

// addressParts are the nested fields of Salesforce's Address record.
var addressParts = []string{"Street", "City", "State", "PostalCode", "Country", "Latitude", "Longitude", "GeocodeAccuracy"}

const changeHeaderSchema = `{"type":"record","name":"ChangeEventHeader","fields":[` +
	`{"name":"entityName","type":"string"},{"name":"recordIds","type":{"type":"array","items":"string"}},` +
	`{"name":"changeType","type":{"type":"enum","name":"ChangeType","symbols":["CREATE","UPDATE","DELETE","UNDELETE","GAP_CREATE","GAP_UPDATE","GAP_DELETE","GAP_UNDELETE","GAP_OVERFLOW"]}},` +
	`{"name":"changeOrigin","type":"string"},{"name":"transactionKey","type":"string"},{"name":"sequenceNumber","type":"int"},` +
	`{"name":"commitTimestamp","type":"long"},{"name":"commitNumber","type":"long"},{"name":"commitUser","type":"string"},` +
	`{"name":"nulledFields","type":{"type":"array","items":"string"}},{"name":"diffFields","type":{"type":"array","items":"string"}},` +
	`{"name":"changedFields","type":{"type":"array","items":"string"}}]}`

// avroKind is how a field type travels in Avro: the Avro type and the value kind.
func avroKind(typ string) (avroType, kind string, ok bool) {
	switch typ {
	case "boolean":
		return "boolean", "boolean", true
	case "int":
		return "int", "int", true
	case "long":
		return "long", "long", true
	case "double", "currency", "percent":
		return "double", "double", true
	case "datetime", "date":
		return "long", "millis", true
	case "time":
		return "long", "msofday", true
	case "base64", "address", "location":
		return "", "", false
	}
	return "string", "string", true
}

// buildEventSchema derives the schema from the object's definition.
func buildEventSchema(def *ObjectDef) (*eventSchema, error) {
	es := &eventSchema{place: map[string]string{}, kinds: map[string]string{}}
	byName := map[string]*FieldDef{}
	for _, f := range def.Fields {
		byName[f.Name] = f
	}
	nested := map[string]bool{} // address parts, placed inside their compound
	var fields []string
	fields = append(fields, `{"name":"ChangeEventHeader","type":`+changeHeaderSchema+`,"doc":"Data:ChangeEventHeader"}`)
	addressDefined := false
	for _, f := range def.Fields {
		if f.Type != "address" {
			continue
		}
		prefix := strings.TrimSuffix(f.Name, "Address")
		for _, p := range addressParts {
			if part, ok := byName[prefix+p]; ok {
				nested[part.Name] = true
				// Events name a part by its field (BillingCity) or, as CometD's changedFields do, as
				// Compound.Part (BillingAddress.City): both are the same place.
				es.place[part.Name] = f.Name + "." + p
				es.place[f.Name+"."+p] = f.Name + "." + p
				_, kind, _ := avroKind(part.Type)
				es.kinds[f.Name+"."+p] = kind
			}
		}
	}
	for _, f := range def.Fields {
		// Change events leave out the record id (it is in the header), IsDeleted and formula fields.
		if f.Name == "Id" || f.Name == "IsDeleted" || f.Calculated || nested[f.Name] {
			continue
		}
		doc, _ := json.Marshal(f.Name + ":" + f.Type)
		if f.Type == "address" {
			typ := `"` + addressType + `"`
			if !addressDefined {
				var parts []string
				for _, p := range addressParts {
					t := "string"
					if p == "Latitude" || p == "Longitude" {
						t = "double"
					}
					parts = append(parts, fmt.Sprintf(`{"name":%q,"type":["null",%q],"default":null}`, p, t))
				}
				typ = `{"type":"record","name":"Address","fields":[` + strings.Join(parts, ",") + `]}`
				addressDefined = true
			}
			fields = append(fields, fmt.Sprintf(`{"name":%q,"type":["null",%s],"doc":%s,"default":null}`, f.Name, typ, doc))
			for _, p := range addressParts {
				if _, ok := es.kinds[f.Name+"."+p]; !ok {
					es.kinds[f.Name+"."+p] = map[bool]string{true: "double", false: "string"}[p == "Latitude" || p == "Longitude"]
				}
			}
			continue
		}
		typ, kind, ok := avroKind(f.Type)
		if !ok {
			continue
		}
		fields = append(fields, fmt.Sprintf(`{"name":%q,"type":["null",%q],"doc":%s,"default":null}`, f.Name, typ, doc))
		es.place[f.Name] = f.Name
		es.kinds[f.Name] = kind
	}
	name := strings.TrimPrefix(salesforce.ChannelFor(def.Name), "/data/")
	body := fmt.Sprintf(`{"type":"record","name":%q,"namespace":"com.sforce.eventbus","fields":[%s]`, name, strings.Join(fields, ","))
	sum := sha256.Sum256([]byte(body))
	es.id = base64.RawURLEncoding.EncodeToString(sum[:])[:22]
	es.json = body + fmt.Sprintf(`,"uuid":%q}`, es.id)
	s, err := pubsub.ParseSchema(es.json)
	if err != nil {
		return nil, fmt.Errorf("change event schema of %s: %w", def.Name, err)
	}
	es.schema = s
	return es, nil
}

// encode turns a change event's CometD payload (JSON, field names, ISO datetimes) into its Avro
// form: every field present (null unless changed), compound parts nested, bitmap field lists.
func (es *eventSchema) encode(payload json.RawMessage) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber() // commitNumber does not fit a float64
	var in map[string]any
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("decode the event payload: %w", err)
	}
	rec := make(map[string]any, len(es.schema.Fields()))
	for _, f := range es.schema.Fields() {
		rec[f.Name()] = nil
	}
	header, _ := in["ChangeEventHeader"].(map[string]any)
	if header == nil {
		return nil, fmt.Errorf("the event has no ChangeEventHeader")
	}
	if _, ok := header["nulledFields"]; !ok && header["changeType"] == "UPDATE" {
		header["nulledFields"] = nulledFields(in) // CometD's form sends a nulled field as null
	}
	h, err := es.header(header)
	if err != nil {
		return nil, err
	}
	rec["ChangeEventHeader"] = h
	for name, v := range in {
		if name == "ChangeEventHeader" {
			continue
		}
		if sub, ok := v.(map[string]any); ok { // a compound sent nested: {"BillingAddress": {"City": ..}}
			for part, pv := range sub {
				if err := es.set(rec, name+"."+part, pv); err != nil {
					return nil, err
				}
			}
			continue
		}
		if at, ok := es.place[name]; ok {
			if err := es.set(rec, at, v); err != nil {
				return nil, err
			}
		}
	}
	return avro.Marshal(es.schema, rec)
}

func (es *eventSchema) header(h map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for _, k := range []string{"entityName", "changeOrigin", "transactionKey", "commitUser", "changeType"} {
		s, _ := h[k].(string)
		out[k] = s
	}
	var ids []any
	if xs, ok := h["recordIds"].([]any); ok {
		ids = xs
	}
	out["recordIds"] = append([]any{}, ids...)
	for _, k := range []string{"sequenceNumber", "commitTimestamp", "commitNumber"} {
		n, _ := h[k].(json.Number)
		v, _ := n.Int64()
		if k == "sequenceNumber" {
			out[k] = int(v)
		} else {
			out[k] = v
		}
	}
	for _, k := range []string{"changedFields", "nulledFields", "diffFields"} {
		var names []string
		xs, _ := h[k].([]any)
		for _, x := range xs {
			s, _ := x.(string)
			if at, ok := es.place[s]; ok {
				names = append(names, at)
			}
		}
		bms, err := pubsub.Bitmaps(es.schema, names)
		if err != nil {
			return nil, fmt.Errorf("ChangeEventHeader.%s: %w", k, err)
		}
		arr := make([]any, len(bms))
		for i, b := range bms {
			arr[i] = b
		}
		out[k] = arr
	}
	return out, nil
}

// set stores a value at a top-level or "Compound.Part" place, converted to the field's Avro kind.
func (es *eventSchema) set(rec map[string]any, at string, v any) error {
	kind, ok := es.kinds[at]
	if !ok {
		return nil // not part of the change event (IsDeleted, a formula)
	}
	val, err := avroValue(kind, v)
	if err != nil {
		return fmt.Errorf("field %s: %w", at, err)
	}
	parent, part, isNested := strings.Cut(at, ".")
	if !isNested {
		rec[at] = val
		return nil
	}
	// A union holding a named record is written as {full name: value}.
	wrapped, _ := rec[parent].(map[string]any)
	if wrapped == nil {
		sub := make(map[string]any, len(addressParts))
		for _, p := range addressParts {
			sub[p] = nil
		}
		wrapped = map[string]any{addressType: sub}
		rec[parent] = wrapped
	}
	wrapped[addressType].(map[string]any)[part] = val
	return nil
}

const addressType = "com.sforce.eventbus.Address"

func avroValue(kind string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch kind {
	case "string":
		if s, ok := v.(string); ok {
			return s, nil
		}
		return fmt.Sprint(v), nil
	case "boolean":
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%v is not a boolean", v)
		}
		return b, nil
	case "int", "long", "double":
		n, ok := v.(json.Number)
		if !ok {
			return nil, fmt.Errorf("%v is not a number", v)
		}
		if kind == "double" {
			return n.Float64()
		}
		i, err := n.Int64()
		if err != nil {
			f, ferr := n.Float64()
			if ferr != nil {
				return nil, err
			}
			i = int64(f)
		}
		if kind == "int" {
			return int(i), nil
		}
		return i, nil
	case "millis", "msofday":
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a date or time", v)
		}
		if kind == "msofday" {
			t, err := time.Parse("15:04:05.000Z", s)
			if err != nil {
				return nil, err
			}
			return int64(t.Hour()*3600000 + t.Minute()*60000 + t.Second()*1000 + t.Nanosecond()/1e6), nil
		}
		if len(s) == len("2006-01-02") {
			t, err := time.Parse(time.DateOnly, s)
			if err != nil {
				return nil, err
			}
			return t.UnixMilli(), nil
		}
		t, err := salesforce.ParseTime(s)
		if err != nil {
			return nil, err
		}
		return t.UnixMilli(), nil
	}
	return nil, fmt.Errorf("unknown kind %s", kind)
}

// schemaRegistry keeps every schema the org has served, so a schema id handed out before a field
// was added still resolves (events already delivered name it).
type schemaRegistry struct {
	mu       sync.Mutex
	byID     map[string]*eventSchema
	byObject map[string]*eventSchema // object → its current schema, keyed with the definition's shape
	shapes   map[string]string       // object → the shape the current schema was built from
}

func newSchemaRegistry() *schemaRegistry {
	return &schemaRegistry{byID: map[string]*eventSchema{}, byObject: map[string]*eventSchema{}, shapes: map[string]string{}}
}

// current returns the object's schema for its definition now.
func (r *schemaRegistry) current(def *ObjectDef) (*eventSchema, error) {
	var shape strings.Builder
	for _, f := range def.Fields {
		fmt.Fprintf(&shape, "%s:%s:%t;", f.Name, f.Type, f.Calculated)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if es, ok := r.byObject[def.Name]; ok && r.shapes[def.Name] == shape.String() {
		return es, nil
	}
	es, err := buildEventSchema(def)
	if err != nil {
		return nil, err
	}
	if old, ok := r.byID[es.id]; ok {
		es = old
	}
	r.byID[es.id], r.byObject[def.Name], r.shapes[def.Name] = es, es, shape.String()
	return es, nil
}

func (r *schemaRegistry) get(id string) *eventSchema {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byID[id]
}

// nulledFields names the fields an update's CometD payload sets to null (compound parts as
// Compound.Part), which Pub/Sub lists in nulledFields.
func nulledFields(payload map[string]any) []any {
	var out []any
	for name, v := range payload {
		switch x := v.(type) {
		case nil:
			out = append(out, name)
		case map[string]any:
			if name == "ChangeEventHeader" {
				continue
			}
			for part, pv := range x {
				if pv == nil {
					out = append(out, name+"."+part)
				}
			}
		}
	}
	return out
}
