package engine

import (
	"reflect"
	"testing"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
)

func contactFields() fieldMap {
	obj := mapping.Object{Name: "Contact", Fields: []mapping.Field{
		{Name: "LastName", Type: "string", Createable: true, Updateable: true},
		{Name: "Title", Type: "string", Createable: true, Updateable: true, Nillable: true},
		{Name: "AccountId", Type: "reference", Createable: true, Updateable: true, Nillable: true, ReferenceTo: []string{"Account"}, RelationshipName: "Account"},
	}}
	m := mapping.Mapping{AppliedFields: []table.Field{{Name: "LastName"}, {Name: "Title"}, {Name: "AccountId"}, {Name: "Account.External_Id__c"}}}
	return newFieldMap(m, obj)
}

func text(s string) *string { return &s }

func TestWhatAWriteSendsForEachColumn(t *testing.T) {
	fm := contactFields()
	cases := []struct {
		name    string
		values  map[string]*string
		insert  bool
		cleared map[string]bool
		want    map[string]any
	}{
		{"an insert leaves NULL columns out", map[string]*string{"lastname": text("Ng"), "title": nil, "accountid": nil}, true, nil,
			map[string]any{"LastName": "Ng"}},
		{"an insert sends a column an update merged into it cleared", map[string]*string{"lastname": text("Ng"), "title": nil}, true, map[string]bool{"title": true},
			map[string]any{"LastName": "Ng", "Title": nil}},
		{"an update clears a column set to NULL", map[string]*string{"title": nil}, false, nil,
			map[string]any{"Title": nil}},
		{"a parent by external id is sent as the relationship, without the lookup id", map[string]*string{"lastname": text("Ng"), "accountid": nil, "account__external_id__c": text("ACC-1")}, true, map[string]bool{"accountid": true},
			map[string]any{"LastName": "Ng", "Account": map[string]any{"External_Id__c": "ACC-1"}}},
		{"the lookup id is sent when the external id is not", map[string]*string{"accountid": text("001000000000001AAA"), "account__external_id__c": nil}, false, nil,
			map[string]any{"AccountId": "001000000000001AAA"}},
	}
	for _, c := range cases {
		got, err := fm.record(c.values, c.insert, c.cleared)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %v (%v), want %v", c.name, got, err, c.want)
		}
	}
}
