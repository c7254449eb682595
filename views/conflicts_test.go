package views_test

import (
	"testing"

	"pgforce/views"
)

func TestConflictsViewShowsBothVersionsAndKeepButtonsForHeldOnes(t *testing.T) {
	m := views.ConflictsPage{ConnID: 1, Held: 1, Rows: []views.ConflictRow{
		{ID: 7, Object: "Invoice__c", MappingID: 2, RecordID: 3, RecordLink: true, SFID: "a0B000000000001AAA", Kind: "Updated on both sides",
			Fields: []views.ConflictField{{Name: "Amount__c", Postgres: "7", Salesforce: "50"}}, SFAt: now, SFBy: "005000000000001AAA",
			Policy: "Manual", Outcome: views.Badge{Label: "Held: choose a side", Severity: "warn"}, Held: true, DetectedAt: now},
		{ID: 8, Object: "Invoice__c", SFID: "a0B000000000002AAA", Kind: "Deleted in Salesforce, updated in Postgres",
			Policy: "Postgres wins", Outcome: views.Badge{Label: "Delete stands"}, DetectedAt: now, ResolvedBy: "policy"},
	}}
	d := doc(t, views.ConflictsView(admin, m))
	row := d.Find(`[data-testid="conflict-7"]`)
	if text(row.Find(`[data-testid="postgres-values"]`)) != "7" || text(row.Find(`[data-testid="salesforce-values"]`)) != "50" {
		t.Fatalf("versions: %q", text(row))
	}
	if row.Find(`a[href="/explorer/2/3"]`).Length() != 1 || row.Find(`[data-testid="keep-postgres"]`).Length() != 1 || row.Find(`[data-testid="keep-salesforce"]`).Length() != 1 {
		t.Fatal("a held conflict links its record and offers both sides")
	}
	if form := row.Find(`form[action="/conflicts/7/keep"]`).First(); form.Find(`input[name=keep]`).AttrOr("value", "") != "postgres" {
		t.Fatal("Keep Postgres posts keep=postgres")
	}
	other := d.Find(`[data-testid="conflict-8"]`)
	if other.Find(`[data-testid="keep-postgres"]`).Length() != 0 || other.Find("a").Length() != 0 {
		t.Fatal("a resolved conflict of a deleted record has no buttons and no record link")
	}
	if d := doc(t, views.ConflictsView(viewer, m)); !disabled(d.Find(`[data-testid="keep-postgres"]`)) {
		t.Fatal("viewers cannot resolve")
	}
}
