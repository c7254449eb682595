package mapping

import (
	"errors"
	"strings"
	"testing"
)

func account() Object {
	return Object{Name: "Account", Queryable: true, Createable: true, Updateable: true, Fields: []Field{
		{Name: "Id", Type: "id", Length: 18},
		{Name: "IsDeleted", Type: "boolean"},
		{Name: "SystemModstamp", Type: "datetime"},
		{Name: "CreatedDate", Type: "datetime"},
		{Name: "Name", Type: "string", Length: 255, Createable: true},
		{Name: "BillingAddress", Type: "address"},
		{Name: "Logo__c", Type: "base64"},
		{Name: "Ext__c", Type: "string", Length: 40, ExternalID: true, Unique: true, Createable: true, Nillable: true},
		{Name: "ParentId", Type: "reference", Length: 18, ReferenceTo: []string{"Account"}, RelationshipName: "Parent"},
		{Name: "OwnerId", Type: "reference", Length: 18, ReferenceTo: []string{"Group", "User"}, RelationshipName: "Owner"},
	}}
}

func env() Env {
	return Env{Describe: func(o string) (Object, error) {
		if o == "Account" {
			return account(), nil
		}
		return Object{}, errors.New("unknown object")
	}}
}

func TestValidateFillsDefaultsAndLocksSystemFields(t *testing.T) {
	c := NewConfig("name", "CreatedDate")
	c.Access = ""
	c.SFPollingSeconds = 0
	r, ps := Validate(c, account(), env(), "config")
	if len(ps) != 0 {
		t.Fatalf("problems: %v", ps)
	}
	got := strings.Join(r.Config.FieldNames(), ",")
	if got != "Id,CreatedDate,IsDeleted,Name,SystemModstamp" {
		t.Fatalf("fields = %s (canonical names and system fields expected)", got)
	}
	if r.Config.Access != ReadOnly || r.Config.SFPollingSeconds != 600 || r.Config.SFMaxDailyAPICalls != 30000 {
		t.Fatalf("defaults = %+v", r.Config)
	}
	if !r.Config.Indexes["Id"].Unique || r.Config.Indexes["SystemModstamp"].Unique {
		t.Fatalf("default indexes = %+v", r.Config.Indexes)
	}
	if len(r.Table) != 5 {
		t.Fatalf("table fields = %+v", r.Table)
	}
}

func TestValidateReportsEveryProblemWithItsPath(t *testing.T) {
	c := NewConfig("Name", "Nope__c", "BillingAddress", "Logo__c", "Parent.Nope__c", "Owner.Ext__c", "Parent.Ext__c")
	c.Access = "write_only"
	c.SFPollingSeconds = 30
	c.Indexes = map[string]IndexOption{"Phone": {}}
	c.UpsertField = "Name"
	r, ps := Validate(c, account(), env(), "mappings[0].config")
	want := map[string]string{
		"mappings[0].config.access":                "must be read_only or read_write",
		"mappings[0].config.sf_polling_seconds":    "between 120 (2 minutes) and 3600",
		"mappings[0].config.fields.Nope__c":        "Account has no field named Nope__c",
		"mappings[0].config.fields.BillingAddress": "compound address field",
		"mappings[0].config.fields.Logo__c":        "binary data",
		"mappings[0].config.fields.Parent.Nope__c": "Account.Nope__c is not an External ID field",
		"mappings[0].config.fields.Owner.Ext__c":   "points to several objects",
		"mappings[0].config.indexes.Phone":         "can only index a mapped field",
		"mappings[0].config.upsert_field":          "Name is not an External ID field",
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Path] = p.Message
	}
	for path, msg := range want {
		if !strings.Contains(got[path], msg) {
			t.Errorf("%s: got %q, want it to mention %q", path, got[path], msg)
		}
	}
	if len(ps) != len(want) {
		t.Errorf("problems = %v", ps)
	}
	if _, ok := r.Config.Fields["Parent.Ext__c"]; !ok {
		t.Errorf("a valid parent external id stays mapped: %v", r.Config.Fields)
	}
	if ps.Failure() == nil || !strings.Contains(ps.Failure().Error(), "mappings[0].config.access") {
		t.Fatal("problems become one Invalid failure naming the paths")
	}
}

func TestUpsertFieldMustBeAMappedExternalID(t *testing.T) {
	c := NewConfig("Name", "ext__c")
	c.UpsertField = "EXT__C"
	r, ps := Validate(c, account(), env(), "config")
	if len(ps) != 0 || r.Config.UpsertField != "Ext__c" {
		t.Fatalf("upsert field: %v %q", ps, r.Config.UpsertField)
	}
	c = NewConfig("Name")
	c.UpsertField = "Ext__c"
	if _, ps := Validate(c, account(), env(), "config"); len(ps) != 1 || !strings.Contains(ps[0].Message, "must also be a mapped field") {
		t.Fatalf("unmapped upsert field: %v", ps)
	}
}

func TestReadWriteNeedsAWritableObject(t *testing.T) {
	o := account()
	o.Createable, o.Updateable = false, false
	c := NewConfig("Name")
	c.Access = ReadWrite
	if _, ps := Validate(c, o, env(), "config"); len(ps) != 1 || ps[0].Path != "config.access" {
		t.Fatalf("read_write on a read-only object: %v", ps)
	}
}

func TestReadWriteMappingsMustMapTheFieldsSalesforceRequiresToCreateARecord(t *testing.T) {
	contact := Object{Name: "Contact", Queryable: true, Createable: true, Updateable: true, Fields: []Field{
		{Name: "Id", Type: "id", Length: 18},
		{Name: "SystemModstamp", Type: "datetime"},
		{Name: "LastName", Type: "string", Length: 80, Createable: true, Updateable: true},
		{Name: "FirstName", Type: "string", Length: 40, Createable: true, Updateable: true, Nillable: true},
		{Name: "OwnerId", Type: "reference", Length: 18, Createable: true, DefaultedOnCreate: true, ReferenceTo: []string{"User"}},
		{Name: "Name", Type: "string", Length: 121}, // compound, not createable
	}}
	c := NewConfig("FirstName")
	c.Access = ReadWrite
	_, ps := Validate(c, contact, env(), "config")
	if len(ps) != 1 || ps[0].Path != "config.fields.LastName" ||
		ps[0].Message != "Contact.LastName is required to create Contact records; add it or make the mapping read-only" {
		t.Fatalf("a read/write Contact mapping without LastName: %v", ps)
	}
	if _, ps := Validate(c, contact, env(), "config"); strings.Contains(ps.Error(), "OwnerId") {
		t.Fatalf("a field Salesforce defaults on create is not required: %v", ps)
	}
	c.Access = ReadOnly
	if _, ps := Validate(c, contact, env(), "config"); len(ps) != 0 {
		t.Fatalf("a read-only mapping needs no field to create records: %v", ps)
	}
	c = NewConfig("lastname")
	c.Access = ReadWrite
	if _, ps := Validate(c, contact, env(), "config"); len(ps) != 0 {
		t.Fatalf("LastName mapped (any case): %v", ps)
	}
}

func TestRecordFilterIsChecked(t *testing.T) {
	c := NewConfig("Name")
	c.PGForce = &Extra{RecordFilter: "Nmae = 'x'"}
	e := env()
	e.CheckFilter = func(object, where string) error { return errors.New("No such column 'Nmae' on entity 'Account'") }
	_, ps := Validate(c, account(), e, "config")
	if len(ps) != 1 || ps[0].Path != "config.pgforce.record_filter" || !strings.Contains(ps[0].Message, "Nmae") {
		t.Fatalf("filter problem: %v", ps)
	}
}

func TestStatesAndTransitions(t *testing.T) {
	for _, s := range []State{Initial, ReloadTable, WaitBulkLoad, LoadingBulkJob, SchemaChanged, Resync} {
		if !s.Loading() || !Abort.Allowed(s) || Reload.Allowed(s) {
			t.Errorf("%s is a loading state: abortable, not reloadable", s)
		}
	}
	for _, s := range []State{DataSynced, Aborted, SystemError} {
		if s.Loading() || Abort.Allowed(s) || !Reload.Allowed(s) {
			t.Errorf("%s: reloadable, not abortable", s)
		}
	}
	if DataSynced.Describe() == "" || DataSynced.Severity() != "ok" || SystemError.Severity() != "bad" {
		t.Fatal("states describe themselves")
	}
}
