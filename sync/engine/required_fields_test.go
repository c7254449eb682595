package engine_test

import (
	"strings"
	"testing"

	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/salesforce/sforg"
)

// A read/write mapping without a field Salesforce requires to create a record would see every insert
// from Postgres refused with REQUIRED_FIELD_MISSING: it is refused when created, edited or imported.
func TestReadWriteMappingsWithoutTheFieldsSalesforceRequiresAreRefused(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	cfg := mapping.NewConfig("FirstName", "Email")
	cfg.Access = mapping.ReadWrite
	_, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Contact", cfg)
	want := "Contact.LastName is required to create Contact records; add it or make the mapping read-only"
	if failure.KindOf(err) != failure.Invalid || !strings.Contains(failure.Message(err), want) {
		t.Fatalf("create: %v", err)
	}
	m := b.CreateMapping("Contact", mapping.ReadOnly, "FirstName", "Email")
	b.MappingState(m.ID, mapping.DataSynced)
	edit := m.Config.Clone()
	edit.Access = mapping.ReadWrite
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, edit, nil); failure.KindOf(err) != failure.Invalid || !strings.Contains(failure.Message(err), want) {
		t.Fatalf("edit to read/write: %v", err)
	}
	doc := `{"version": 1, "connection": {"organization_id": "", "app_name": "", "exported_at": "2026-01-01T00:00:00Z", "features": {}},
		"mappings": [{"object_name": "Opportunity", "config": {"access": "read_write", "sf_notify_enabled": false, "sf_polling_seconds": 600,
		"sf_max_daily_api_calls": 30000, "fields": {"Id": {}, "SystemModstamp": {}, "IsDeleted": {}, "Name": {}}, "indexes": {}}}]}`
	plan, err := b.Admin.Configuration.PlanImport(b.Ctx, b.Conn.ID, []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if got := plan.Problems.Error(); !strings.Contains(got, "mappings[0].config.fields.StageName: Opportunity.StageName is required to create Opportunity records") ||
		!strings.Contains(got, "Opportunity.CloseDate is required") {
		t.Fatalf("import plan: %s", got)
	}
	if _, err := b.Admin.Configuration.ApplyImport(b.Ctx, enginetest.Admin, b.Conn.ID, []byte(doc)); failure.KindOf(err) != failure.Invalid {
		t.Fatalf("import: %v", err)
	}
}

// A field Salesforce starts to require after a read/write mapping was saved is reported as drift,
// with a one-step fix: map it.
func TestAFieldThatBecomesRequiredIsReportedAsDrift(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{})
	m := b.CreateMapping("Contact", mapping.ReadWrite, "LastName", "Email")
	b.MappingState(m.ID, mapping.DataSynced)
	if err := b.Org.ChangeField("Contact", "Title", func(f *sforg.FieldDef) { f.Nillable = false }); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Mappings.CheckSchema(b.Ctx, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	m, _ = b.Admin.Mappings.Get(b.Ctx, m.ID)
	if len(m.Drift) != 1 || m.Drift[0].Field != "Title" || !m.Drift[0].Required ||
		!strings.Contains(m.Drift[0].Fix, "Contact.Title is required to create Contact records") {
		t.Fatalf("drift = %+v", m.Drift)
	}
	edit := m.Config.Clone()
	edit.Fields["Phone"] = struct{}{}
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, edit, nil); err != nil {
		t.Fatalf("an edit that does not fix the drift still stands alone: %v", err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	edit.Fields["Title"] = struct{}{}
	if _, err := b.Admin.Mappings.Edit(b.Ctx, enginetest.Admin, m.ID, edit, nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Mappings.CheckSchema(b.Ctx, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	if m, _ = b.Admin.Mappings.Get(b.Ctx, m.ID); len(m.Drift) != 0 {
		t.Fatalf("drift once Title is mapped: %+v", m.Drift)
	}
}
