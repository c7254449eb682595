package sforg

import (
	"strings"
	"time"
)

// FieldDef is a field's describe.
type FieldDef struct {
	Name              string   `json:"name"`
	Label             string   `json:"label"`
	Type              string   `json:"type"`
	Length            int      `json:"length"`
	Precision         int      `json:"precision"`
	Scale             int      `json:"scale"`
	Digits            int      `json:"digits"`
	Nillable          bool     `json:"nillable"`
	Createable        bool     `json:"createable"`
	Updateable        bool     `json:"updateable"`
	DefaultedOnCreate bool     `json:"defaultedOnCreate"`
	ExternalID        bool     `json:"externalId"`
	IDLookup          bool     `json:"idLookup"`
	Unique            bool     `json:"unique"`
	Calculated        bool     `json:"calculated"`
	AutoNumber        bool     `json:"autoNumber"`
	Custom            bool     `json:"custom"`
	ReferenceTo       []string `json:"referenceTo"`
	RelationshipName  string   `json:"relationshipName,omitempty"`
	// ChildRelationship names this reference from the parent's side ("Contacts" for Contact.AccountId),
	// for parent-to-child subqueries and the parent's describe; empty when the parent has none.
	ChildRelationship string   `json:"childRelationshipName,omitempty"`
	Picklist          []string `json:"picklist,omitempty"` // values in their defined order (the order SOQL sorts by)
	// PicklistLabels holds labels that differ from their values (toLabel() and describe show them).
	PicklistLabels map[string]string `json:"picklistLabels,omitempty"`
	Restricted     bool              `json:"restrictedPicklist"`
	Default        string            `json:"default,omitempty"` // default picklist value / autonumber format
	// Compound names the compound field this one is part of (BillingStreet → BillingAddress).
	Compound string `json:"compoundFieldName,omitempty"`
}

// label returns a picklist value's label.
func (f *FieldDef) label(value string) string {
	if l, ok := f.PicklistLabels[value]; ok {
		return l
	}
	return value
}

// longText reports a long or rich text area: Salesforce cannot filter, sort or group by it.
func (f *FieldDef) longText() bool { return f.Type == "textarea" && f.Length > 255 }

// filterable reports whether SOQL may filter on the field (describe's filterable).
func (f *FieldDef) filterable() bool {
	switch f.Type {
	case "base64", "address", "location", "encryptedstring":
		return false
	}
	return !f.longText()
}

// sortable reports whether SOQL may order by the field (describe's sortable; also groupable).
func (f *FieldDef) sortable() bool { return f.filterable() && f.Type != "multipicklist" }

// ObjectDef is an object's describe.
type ObjectDef struct {
	Name        string      `json:"name"`
	Label       string      `json:"label"`
	LabelPlural string      `json:"labelPlural"`
	KeyPrefix   string      `json:"keyPrefix"`
	Custom      bool        `json:"custom"`
	Fields      []*FieldDef `json:"fields"`
	Rules       []Rule      `json:"rules,omitempty"`
	Modified    time.Time   `json:"modified"` // last metadata change, for If-Modified-Since
	// NotCreateable, NotUpdateable and NotDeletable restrict what the API may do with the object's
	// records regardless of permissions (Users cannot be deleted; Profiles are set up in Setup).
	NotCreateable bool `json:"notCreateable,omitempty"`
	NotUpdateable bool `json:"notUpdateable,omitempty"`
	NotDeletable  bool `json:"notDeletable,omitempty"`
	// System objects (UserPermissionAccess) are queryable views, not replicated or streamed.
	System bool `json:"system,omitempty"`

	index map[string]int // lower-case field name → ordinal
	rels  map[string]int // lower-case relationship name → ordinal of its reference field
}

// Rule is a validation rule: when Condition (a SOQL condition on the record) holds, the save fails
// with FIELD_CUSTOM_VALIDATION_EXCEPTION and Message (on Field when set).
type Rule struct {
	Condition string `json:"condition"`
	Message   string `json:"message"`
	Field     string `json:"field,omitempty"`
}

func (o *ObjectDef) reindex() {
	o.index = map[string]int{}
	o.rels = map[string]int{}
	for i, f := range o.Fields {
		o.index[strings.ToLower(f.Name)] = i
		if f.RelationshipName != "" {
			o.rels[strings.ToLower(f.RelationshipName)] = i
		}
	}
}

func (o *ObjectDef) field(name string) (int, *FieldDef) {
	i, ok := o.index[strings.ToLower(name)]
	if !ok {
		return -1, nil
	}
	return i, o.Fields[i]
}

func (o *ObjectDef) has(name string) bool { _, f := o.field(name); return f != nil }

// components returns the fields that make up a compound field, in their defined order.
func (o *ObjectDef) components(compound string) []int {
	var out []int
	for i, f := range o.Fields {
		if strings.EqualFold(f.Compound, compound) {
			out = append(out, i)
		}
	}
	return out
}

// Field constructors keep the metadata readable.
func idField() *FieldDef {
	return &FieldDef{Name: "Id", Label: "Record ID", Type: "id", Length: 18, IDLookup: true, Unique: false}
}

func sysDate(name, label string) *FieldDef {
	return &FieldDef{Name: name, Label: label, Type: "datetime"}
}

func sysRef(name, label, rel string) *FieldDef {
	return &FieldDef{Name: name, Label: label, Type: "reference", Length: 18, ReferenceTo: []string{"User"}, RelationshipName: rel}
}

func str(name, label string, length int) *FieldDef {
	return &FieldDef{Name: name, Label: label, Type: "string", Length: length, Nillable: true, Createable: true, Updateable: true}
}

func required(f *FieldDef) *FieldDef { f.Nillable = false; return f }

func typed(name, label, typ string, length int) *FieldDef {
	f := str(name, label, length)
	f.Type = typ
	return f
}

func number(name, label, typ string, precision, scale int) *FieldDef {
	f := typed(name, label, typ, 0)
	f.Precision, f.Scale = precision, scale
	if typ == "int" {
		f.Digits, f.Precision, f.Scale = precision, 0, 0
	}
	return f
}

func flag(name, label string) *FieldDef {
	f := typed(name, label, "boolean", 0)
	f.Nillable, f.DefaultedOnCreate, f.Default = false, true, "false"
	return f
}

func picklist(name, label string, values ...string) *FieldDef {
	f := typed(name, label, "picklist", 255)
	f.Picklist = values
	return f
}

// multi is a multi-select picklist: values joined by ";" (Salesforce's length is 4099).
func multi(name, label string, values ...string) *FieldDef {
	f := typed(name, label, "multipicklist", 4099)
	f.Picklist = values
	return f
}

func ref(name, label, rel string, to ...string) *FieldDef {
	f := typed(name, label, "reference", 18)
	f.ReferenceTo, f.RelationshipName = to, rel
	return f
}

// children names a reference from the parent's side (Contact.AccountId → Account.Contacts).
func children(f *FieldDef, name string) *FieldDef { f.ChildRelationship = name; return f }

func readOnly(f *FieldDef) *FieldDef { f.Createable, f.Updateable = false, false; return f }

func external(f *FieldDef) *FieldDef {
	f.ExternalID, f.IDLookup, f.Unique, f.Custom = true, true, true, true
	return f
}

func custom(f *FieldDef) *FieldDef { f.Custom = true; return f }

// numbered is a read-only auto-number field Salesforce fills on insert ("INV-{0000}").
func numbered(name, label, format string) *FieldDef {
	f := readOnly(str(name, label, 30))
	f.AutoNumber, f.Nillable, f.DefaultedOnCreate, f.Default = true, false, true, format
	return f
}

// address returns an address's components and its read-only compound field: prefix "Billing" gives
// BillingStreet … BillingGeocodeAccuracy and BillingAddress, as on Account.
func address(prefix, label string) []*FieldDef {
	compound := prefix + "Address"
	if prefix == "" {
		compound = "Address"
	}
	parts := []*FieldDef{
		typed(prefix+"Street", label+" Street", "textarea", 255), str(prefix+"City", label+" City", 40),
		str(prefix+"State", label+" State/Province", 80), str(prefix+"PostalCode", label+" Zip/Postal Code", 20),
		str(prefix+"Country", label+" Country", 80), number(prefix+"Latitude", label+" Latitude", "double", 18, 15),
		number(prefix+"Longitude", label+" Longitude", "double", 18, 15),
		picklist(prefix+"GeocodeAccuracy", label+" Geocode Accuracy", "Address", "NearAddress", "Block", "Street", "ExtendedZip", "Zip", "Neighborhood", "City", "County", "State", "Unknown"),
	}
	for _, p := range parts {
		p.Compound = compound
	}
	return append(parts, readOnly(&FieldDef{Name: compound, Label: label + " Address", Type: "address", Nillable: true}))
}

// location returns a custom geolocation field: its latitude and longitude components (Ship_To__c →
// Ship_To__Latitude__s, Ship_To__Longitude__s) and the read-only compound.
func location(name, label string, scale int) []*FieldDef {
	base := strings.TrimSuffix(name, "__c")
	lat := custom(number(base+"__Latitude__s", label+" (Latitude)", "double", 3+scale, scale))
	lon := custom(number(base+"__Longitude__s", label+" (Longitude)", "double", 3+scale, scale))
	lat.Compound, lon.Compound = name, name
	return []*FieldDef{custom(readOnly(&FieldDef{Name: name, Label: label, Type: "location", Nillable: true, Scale: scale})), lat, lon}
}

// systemFields are on every object (User has no IsDeleted; CampaignMember no owner).
func systemFields(owner, deleted bool) []*FieldDef {
	fs := []*FieldDef{idField()}
	if deleted {
		fs = append(fs, &FieldDef{Name: "IsDeleted", Label: "Deleted", Type: "boolean", DefaultedOnCreate: true})
	}
	fs = append(fs,
		sysDate("CreatedDate", "Created Date"), sysRef("CreatedById", "Created By ID", "CreatedBy"),
		sysDate("LastModifiedDate", "Last Modified Date"), sysRef("LastModifiedById", "Last Modified By ID", "LastModifiedBy"),
		sysDate("SystemModstamp", "System Modstamp"))
	if owner {
		o := ref("OwnerId", "Owner ID", "Owner", "Group", "User")
		o.Nillable, o.DefaultedOnCreate = false, true
		fs = append(fs, o)
	}
	return fs
}

func object(name, label, plural string, fields ...*FieldDef) *ObjectDef {
	o := &ObjectDef{Name: name, Label: label, LabelPlural: plural, KeyPrefix: keyPrefixes[name], Fields: fields}
	o.reindex()
	return o
}
