package sforg

import (
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

type describedField struct {
	Name              string   `json:"name"`
	Type              string   `json:"type"`
	SoapType          string   `json:"soapType"`
	Createable        bool     `json:"createable"`
	Nillable          bool     `json:"nillable"`
	DefaultedOnCreate bool     `json:"defaultedOnCreate"`
	CompoundFieldName *string  `json:"compoundFieldName"`
	Length            int      `json:"length"`
	ReferenceTo       []string `json:"referenceTo"`
}

func (a *api) describe(object string) (fields map[string]describedField, children []map[string]any) {
	a.t.Helper()
	res, raw := a.do("GET", "/services/data/v62.0/sobjects/"+object+"/describe", nil)
	if res.StatusCode != 200 {
		a.t.Fatalf("describe %s: %d %s", object, res.StatusCode, raw)
	}
	d := decodeJSON[struct {
		Fields   []describedField `json:"fields"`
		Children []map[string]any `json:"childRelationships"`
	}](a.t, raw)
	fields = map[string]describedField{}
	for _, f := range d.Fields {
		fields[f.Name] = f
	}
	return fields, d.Children
}

// The standard objects carry Salesforce's required fields (createable, not nillable, no default),
// compound fields with compoundFieldName on their parts, and every field type.
func TestStandardObjectsHaveRealFieldsAndTypes(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	_, raw := a.do("GET", "/services/data/v62.0/sobjects", nil)
	for _, name := range []string{"Account", "Contact", "Lead", "Opportunity", "Case", "Task", "Event", "User", "Campaign", "CampaignMember",
		"Product2", "Pricebook2", "PricebookEntry", "Order", "OrderItem", "Contract", "Asset", "Attachment", "Invoice__c"} {
		if !strings.Contains(string(raw), `"name":"`+name+`"`) {
			t.Errorf("describe global lacks %s", name)
		}
	}
	required := func(object string) []string {
		fields, _ := a.describe(object)
		var out []string
		for _, f := range fields {
			if f.Createable && !f.Nillable && !f.DefaultedOnCreate {
				out = append(out, f.Name)
			}
		}
		return out
	}
	for object, want := range map[string]string{"Contact": "LastName", "Opportunity": "CloseDate,Name,StageName", "Lead": "Company,LastName",
		"Account": "Name", "Order": "AccountId,EffectiveDate", "PricebookEntry": "Pricebook2Id,Product2Id,UnitPrice", "Attachment": "Body,Name,ParentId"} {
		got := required(object)
		sortStrings(got)
		if strings.Join(got, ",") != want {
			t.Errorf("%s required on create: %v, want %s", object, got, want)
		}
	}
	acct, children := a.describe("Account")
	for part, compound := range map[string]string{"BillingStreet": "BillingAddress", "ShippingLatitude": "ShippingAddress"} {
		if c := acct[part].CompoundFieldName; c == nil || *c != compound {
			t.Errorf("%s.compoundFieldName = %v, want %s", part, c, compound)
		}
	}
	if acct["BillingAddress"].Type != "address" || acct["BillingAddress"].SoapType != "urn:address" || acct["BillingAddress"].Createable {
		t.Errorf("BillingAddress %+v", acct["BillingAddress"])
	}
	contact, _ := a.describe("Contact")
	if c := contact["FirstName"].CompoundFieldName; c == nil || *c != "Name" {
		t.Errorf("Contact.FirstName is part of Name: %v", c)
	}
	rels := map[string]bool{}
	for _, c := range children {
		rels[c["relationshipName"].(string)] = true
	}
	for _, r := range []string{"Contacts", "Opportunities", "Cases", "ChildAccounts", "Invoices__r", "Orders", "Tasks"} {
		if !rels[r] {
			t.Errorf("Account child relationship %s missing (%v)", r, rels)
		}
	}
	inv, _ := a.describe("Invoice__c")
	for field, want := range map[string]string{"Tags__c": "multipicklist/xsd:string", "Exchange_Rate__c": "double/xsd:double", "Reminder_Time__c": "time/xsd:time",
		"Bank_Account__c": "encryptedstring/xsd:string", "Ship_To__c": "location/urn:location", "Ship_To__Latitude__s": "double/xsd:double"} {
		if got := inv[field].Type + "/" + inv[field].SoapType; got != want {
			t.Errorf("%s: %s, want %s", field, got, want)
		}
	}
	if c := inv["Ship_To__Longitude__s"].CompoundFieldName; c == nil || *c != "Ship_To__c" {
		t.Errorf("a geolocation's parts name it: %v", c)
	}
	att, _ := a.describe("Attachment")
	if att["Body"].Type != "base64" || att["Body"].SoapType != "xsd:base64Binary" {
		t.Errorf("Attachment.Body %+v", att["Body"])
	}
	res, raw := a.do("POST", "/services/data/v62.0/sobjects/Contact", map[string]any{"FirstName": "No last name"})
	if e := wantError(t, res, raw, 400, "REQUIRED_FIELD_MISSING"); e[0].Message != "Required fields are missing: [LastName]" {
		t.Fatalf("message %q", e[0].Message)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// Values of the new types round-trip as Salesforce shows them: compound fields as nested objects,
// times as 10:30:00.000Z, base64 as the URL of the blob (which serves the bytes).
func TestCompoundTimeAndBinaryValues(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	acct, _ := a.create("Account", map[string]any{"Name": "Located", "BillingCity": "Paris", "BillingCountry": "France", "BillingLatitude": 48.8566,
		"Support_Opens_At__c": "08:30:00"})
	r := a.query("SELECT BillingAddress, ShippingAddress, Support_Opens_At__c FROM Account WHERE Id = '" + acct + "'").Records[0]
	var addr map[string]any
	_ = json.Unmarshal(r["BillingAddress"], &addr)
	if addr["city"] != "Paris" || addr["country"] != "France" || addr["latitude"] != 48.8566 || addr["street"] != nil {
		t.Fatalf("BillingAddress %s", r["BillingAddress"])
	}
	if string(r["ShippingAddress"]) != "null" || text(r["Support_Opens_At__c"]) != "08:30:00.000Z" {
		t.Fatalf("ShippingAddress %s, time %s", r["ShippingAddress"], r["Support_Opens_At__c"])
	}
	res, raw := a.do("PATCH", "/services/data/v62.0/sobjects/Account/"+acct, map[string]any{"BillingAddress": map[string]any{"city": "Lyon"}})
	wantError(t, res, raw, 400, "INVALID_FIELD_FOR_INSERT_UPDATE")

	body := []byte("%PDF-1.7 binary\x00\x01")
	att, _ := a.create("Attachment", map[string]any{"Name": "contract.pdf", "ParentId": acct, "Body": base64.StdEncoding.EncodeToString(body)})
	_, raw = a.do("GET", "/services/data/v62.0/sobjects/Attachment/"+att, nil)
	rec := decodeJSON[map[string]any](t, raw)
	if rec["Body"] != "/services/data/v62.0/sobjects/Attachment/"+att+"/Body" || rec["BodyLength"] != float64(len(body)) {
		t.Fatalf("attachment %s", raw)
	}
	res, raw = a.do("GET", rec["Body"].(string), nil)
	if res.StatusCode != 200 || !bytes.Equal(raw, body) {
		t.Fatalf("blob %d %q", res.StatusCode, raw)
	}
}

// Bulk API 2.0 queries refuse compound fields and what else Bulk does not support, with the
// FUNCTIONALITY_NOT_ENABLED errors Salesforce answers.
func TestBulkQueryRefusesCompoundFields(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	for q, msg := range map[string]string{
		"SELECT Id, BillingAddress FROM Account":                    "Selecting compound data not supported in Bulk Query",
		"SELECT Id, (SELECT Id FROM Contacts) FROM Account":         "Aggregate Relationships not supported in Bulk Query",
		"SELECT Industry, COUNT(Id) FROM Account GROUP BY Industry": "Aggregate queries",
		"SELECT Id, Body FROM Attachment":                           "base64",
	} {
		res, raw := a.do("POST", "/services/data/v62.0/jobs/query", map[string]any{"operation": "query", "query": q})
		if e := wantError(t, res, raw, 400, "FUNCTIONALITY_NOT_ENABLED"); !strings.Contains(e[0].Message, msg) {
			t.Errorf("%s: %s", q, e[0].Message)
		}
	}
	res, raw := a.do("POST", "/services/data/v62.0/jobs/query", map[string]any{"operation": "query", "query": "SELECT Id, BillingCity, Account.Name FROM Contact"})
	if res.StatusCode != 400 || !strings.Contains(string(raw), "No such column 'BillingCity'") {
		t.Fatalf("a bad column is refused at job creation: %d %s", res.StatusCode, raw)
	}
}

// An aborted ingest job never applies its upload: the rows are its unprocessed records.
func TestAnAbortedIngestJobServesItsUnprocessedRecords(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	before := org.Count("Account")
	_, raw := a.do("POST", "/services/data/v62.0/jobs/ingest", map[string]any{"object": "Account", "operation": "insert"})
	id := decodeJSON[map[string]any](t, raw)["id"].(string)
	data := "Name,Industry\nOne,Banking\nTwo,Energy\n"
	if res, _ := a.do("PUT", "/services/data/v62.0/jobs/ingest/"+id+"/batches", data, "Content-Type", "text/csv"); res.StatusCode != 201 {
		t.Fatal("upload")
	}
	if res, raw := a.do("PATCH", "/services/data/v62.0/jobs/ingest/"+id, map[string]string{"state": "Aborted"}); res.StatusCode != 200 || !strings.Contains(string(raw), `"state":"Aborted"`) {
		t.Fatalf("abort %d %s", res.StatusCode, raw)
	}
	res, raw := a.do("GET", "/services/data/v62.0/jobs/ingest/"+id+"/unprocessedrecords", nil)
	rows, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if res.StatusCode != 200 || err != nil || len(rows) != 3 || strings.Join(rows[0], ",") != "Name,Industry" || strings.Join(rows[2], ",") != "Two,Energy" {
		t.Fatalf("unprocessed records %d %q %v", res.StatusCode, raw, err)
	}
	if _, raw := a.do("GET", "/services/data/v62.0/jobs/ingest/"+id+"/successfulResults", nil); strings.Count(string(raw), "\n") != 1 {
		t.Fatalf("an aborted job has no successful results: %q", raw)
	}
	if org.Count("Account") != before {
		t.Fatal("an aborted job changed records")
	}
}

// The same external id twice in one collections upsert: Salesforce cannot tell which record it
// means, so both fail with DUPLICATE_VALUE; the other records go through.
func TestTheSameExternalIDTwiceInOneUpsertFailsBoth(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	res, raw := a.do("PATCH", "/services/data/v62.0/composite/sobjects/Invoice__c/External_Id__c", map[string]any{"allOrNone": false, "records": []map[string]any{
		{"attributes": map[string]string{"type": "Invoice__c"}, "External_Id__c": "DUP-1", "Amount__c": 1},
		{"attributes": map[string]string{"type": "Invoice__c"}, "External_Id__c": "OK-1", "Amount__c": 2},
		{"attributes": map[string]string{"type": "Invoice__c"}, "External_Id__c": "dup-1", "Amount__c": 3},
	}})
	rs := decodeJSON[[]saveResult](t, raw)
	if res.StatusCode != 200 || len(rs) != 3 || rs[0].Success || !rs[1].Success || rs[2].Success {
		t.Fatalf("results %s", raw)
	}
	for _, i := range []int{0, 2} {
		e := rs[i].Errors[0]
		if e.StatusCode != "DUPLICATE_VALUE" || !strings.HasPrefix(e.Message, "Duplicate external id specified: ") || strings.Join(e.Fields, ",") != "External_Id__c" {
			t.Fatalf("record %d: %+v", i, e)
		}
	}
	n := 0
	for _, rec := range org.Records("Invoice__c") {
		if strings.EqualFold(rec["External_Id__c"].(string), "dup-1") {
			n++
		}
	}
	if n != 0 {
		t.Fatalf("%d records with the duplicated external id were written", n)
	}
}

// Records written by one call share one SystemModstamp in whole seconds, as one Salesforce
// transaction stamps them.
func TestOneCallIsOneTransactionWithOneWholeSecondStamp(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	var recs []map[string]any
	for i := range 50 {
		recs = append(recs, map[string]any{"attributes": map[string]string{"type": "Account"}, "Name": "Tx " + string(rune('A'+i%26))})
	}
	_, raw := a.do("POST", "/services/data/v62.0/composite/sobjects", map[string]any{"records": recs})
	var results []struct{ ID string }
	_ = json.Unmarshal(raw, &results)
	stamps := map[time.Time]bool{}
	for _, r := range results {
		stamp := org.Record("Account", r.ID)["SystemModstamp"].(time.Time)
		if stamp.Nanosecond() != 0 {
			t.Fatalf("stamp %v has a fraction of a second", stamp)
		}
		stamps[stamp] = true
	}
	if len(results) != 50 || len(stamps) != 1 {
		t.Fatalf("%d records with %d stamps, want one", len(results), len(stamps))
	}
}
