package engine

import (
	"encoding/json"
	"testing"

	"pgforce/sync/engine/mapping"
)

// FuzzColumnTextBecomesSendableSalesforceValue decodes any captured column text (as the trigger log
// holds it) for every field type the writer converts: it never panics, and whatever it accepts can be
// encoded in the JSON request to Salesforce, so one odd value (NaN, Infinity, a hex float) fails its
// own row with a message instead of breaking the request for the whole batch.
func FuzzColumnTextBecomesSendableSalesforceValue(f *testing.F) {
	types := []string{"boolean", "int", "long", "double", "currency", "percent", "datetime", "time", "date", "string", "textarea", "reference"}
	for _, s := range []string{"t", "false", "42", "-9223372036854775808", "9223372036854775808", "3.14", "1e308", "1e309", "NaN", "Infinity", "-Infinity", "0x1p-2",
		"1_000", "+5", "2024-02-29 12:00:00", "2024-02-29 12:00:00.123456+02", "infinity", "294276-12-31 23:59:59", "0044-03-15 00:00:00 BC",
		"23:59:59.999999", "24:00:00", "<script>alert(1)</script>", "", "Ünïcödé"} {
		for i := range types {
			f.Add(uint8(i), s)
		}
	}
	f.Fuzz(func(t *testing.T, typ uint8, s string) {
		field := mapping.Field{Name: "F__c", Type: types[int(typ)%len(types)]}
		v, err := sfValue(field, &s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("a refused value needs a message")
			}
			return
		}
		raw, err := json.Marshal(map[string]any{field.Name: v})
		if err != nil {
			t.Fatalf("%s value %q was accepted as %#v but cannot be sent: %v", field.Type, s, v, err)
		}
		if !json.Valid(raw) {
			t.Fatalf("invalid JSON %s", raw)
		}
		if n, ok := v.(json.Number); ok {
			if _, err := n.Float64(); err != nil {
				t.Fatalf("%s value %q became number %q that does not parse: %v", field.Type, s, n, err)
			}
		}
		if nv, err := sfValue(field, nil); nv != nil || err != nil {
			t.Fatalf("NULL must become null, got %#v %v", nv, err)
		}
	})
}
