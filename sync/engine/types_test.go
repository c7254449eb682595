package engine_test

import (
	"errors"
	"strings"
	"testing"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
)

// Every field type of the org's objects has a Postgres column or a clear refusal (compound and
// binary fields, whose parts or nothing are mapped), and the demo's seeded data loads into mappings
// of every mappable field: multi-select picklists, times, doubles, geolocation parts, encrypted text.
func TestEveryFieldTypeMapsAndTheDemoDataLoads(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 1})
	b.ConnState(connection.Idle)
	if err := b.Org.Generate("Invoice__c", 30, 5); err != nil { // fills Tags__c, Reminder_Time__c, Bank_Account__c …
		t.Fatal(err)
	}
	located, err := b.Org.CreateAsUser("Invoice__c", map[string]any{"External_Id__c": "LOC-1", "Ship_To__Latitude__s": 48.856613, "Ship_To__Longitude__s": 2.352222,
		"Tags__c": "Partner;Urgent", "Reminder_Time__c": "09:15:00", "Exchange_Rate__c": 1.085432})
	if err != nil {
		t.Fatal(err)
	}
	objects := []string{"Account", "Contact", "Opportunity", "Event", "Task", "Order", "OrderItem", "Campaign", "CampaignMember", "Product2", "Invoice__c", "Attachment"}
	mappings := map[string]mapping.Mapping{}
	for _, object := range objects {
		obj, err := b.Admin.Mappings.Describe(b.Ctx, b.Conn.ID, object)
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, f := range obj.Fields {
			_, err := table.ColumnType(table.Field{Name: f.Name, Type: f.Type, Length: f.Length, Precision: f.Precision, Scale: f.Scale, Digits: f.Digits})
			var unsupported *table.UnsupportedTypeError
			switch {
			case err == nil:
				if !obj.Required(f.Name) {
					fields = append(fields, f.Name)
				}
			case errors.As(err, &unsupported) && (f.Type == "address" || f.Type == "location" || f.Type == "base64"):
			default:
				t.Errorf("%s.%s (%s) has no column: %v", object, f.Name, f.Type, err)
			}
		}
		mappings[object] = b.CreateMapping(object, mapping.ReadOnly, fields...)
	}
	for object, m := range mappings {
		b.MappingState(m.ID, mapping.DataSynced)
		if got, want := b.Count(table.Name(object), ""), b.Org.Count(object); got != want {
			t.Errorf("%s: %d rows loaded, the org has %d", object, got, want)
		}
	}
	var tags, reminder string
	var lat, rate float64
	if err := b.Pool.QueryRow(b.Ctx, `SELECT tags__c, reminder_time__c::text, ship_to__latitude__s, exchange_rate__c FROM `+b.Schema+`.invoice__c WHERE sfid = $1`, located).
		Scan(&tags, &reminder, &lat, &rate); err != nil {
		t.Fatal(err)
	}
	if tags != "Urgent;Partner" || reminder != "09:15:00" || lat != 48.856613 || rate != 1.085432 {
		t.Fatalf("invoice values: tags %q, reminder %q, latitude %v, rate %v", tags, reminder, lat, rate)
	}
	// Types are what Heroku Connect makes of them.
	for col, want := range map[string]string{"tags__c": "character varying(4099)", "reminder_time__c": "time without time zone",
		"bank_account__c": "character varying(40)", "exchange_rate__c": "double precision", "sent_at__c": "timestamp without time zone"} {
		var typ string
		if err := b.Pool.QueryRow(b.Ctx, `SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = $2`,
			b.Schema+".invoice__c", col).Scan(&typ); err != nil || typ != want {
			t.Errorf("column %s: %q (%v), want %s", col, typ, err, want)
		}
	}
	// A binary field is refused with the reason.
	cfg := mapping.NewConfig("Name", "Body")
	_, err = b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, mappings["Attachment"].ID, cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "binary data (base64)") {
		t.Fatalf("mapping Attachment.Body: %v", err)
	}
}
