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
	Picklist          []string `json:"picklist,omitempty"`
	Restricted        bool     `json:"restrictedPicklist"`
	Default           string   `json:"default,omitempty"` // default picklist value / autonumber format
	Compound          string   `json:"compoundFieldName,omitempty"`
}

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

// Field constructors keep the metadata below readable.
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

func ref(name, label, rel string, to ...string) *FieldDef {
	f := typed(name, label, "reference", 18)
	f.ReferenceTo, f.RelationshipName = to, rel
	return f
}

func readOnly(f *FieldDef) *FieldDef { f.Createable, f.Updateable = false, false; return f }

func external(f *FieldDef) *FieldDef {
	f.ExternalID, f.IDLookup, f.Unique, f.Custom = true, true, true, true
	return f
}

func custom(f *FieldDef) *FieldDef { f.Custom = true; return f }

// systemFields are on every object (User has no IsDeleted).
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

var (
	industries = []string{"Agriculture", "Apparel", "Banking", "Biotechnology", "Chemicals", "Communications", "Construction", "Consulting",
		"Education", "Electronics", "Energy", "Engineering", "Entertainment", "Environmental", "Finance", "Food & Beverage", "Government",
		"Healthcare", "Hospitality", "Insurance", "Machinery", "Manufacturing", "Media", "Not For Profit", "Recreation", "Retail",
		"Shipping", "Technology", "Telecommunications", "Transportation", "Utilities", "Other"}
	leadSources = []string{"Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other"}
	ratings     = []string{"Hot", "Warm", "Cold"}
	stages      = []string{"Prospecting", "Qualification", "Needs Analysis", "Value Proposition", "Id. Decision Makers",
		"Perception Analysis", "Proposal/Price Quote", "Negotiation/Review", "Closed Won", "Closed Lost"}
)

// standardObjects returns the metadata of a fresh org.
func standardObjects(now time.Time) []*ObjectDef {
	with := func(fs []*FieldDef, more ...*FieldDef) []*FieldDef { return append(fs, more...) }
	name := func(length int) *FieldDef { return required(str("Name", "Name", length)) }
	fullName := func() *FieldDef { return readOnly(str("Name", "Full Name", 121)) }
	desc := func() *FieldDef { return typed("Description", "Description", "textarea", 32000) }
	status := func(values ...string) *FieldDef {
		f := picklist("Status", "Status", values...)
		f.Nillable, f.DefaultedOnCreate, f.Default, f.Restricted = false, true, values[0], true
		return f
	}
	objs := []*ObjectDef{
		object("Account", "Account", "Accounts", with(systemFields(true, true),
			name(255), picklist("Type", "Account Type", "Prospect", "Customer - Direct", "Customer - Channel", "Channel Partner / Reseller", "Installation Partner", "Technology Partner", "Other"),
			ref("ParentId", "Parent Account ID", "Parent", "Account"),
			typed("BillingStreet", "Billing Street", "textarea", 255), str("BillingCity", "Billing City", 40), str("BillingState", "Billing State/Province", 80),
			str("BillingPostalCode", "Billing Zip/Postal Code", 20), str("BillingCountry", "Billing Country", 80),
			readOnly(&FieldDef{Name: "BillingAddress", Label: "Billing Address", Type: "address", Nillable: true}),
			typed("Phone", "Account Phone", "phone", 40), typed("Website", "Website", "url", 255), str("AccountNumber", "Account Number", 40),
			picklist("Industry", "Industry", industries...), number("AnnualRevenue", "Annual Revenue", "currency", 18, 0),
			number("NumberOfEmployees", "Employees", "int", 8, 0), picklist("Rating", "Account Rating", ratings...), desc(),
			external(str("External_Id__c", "External ID", 40)))...),
		object("Contact", "Contact", "Contacts", with(systemFields(true, true),
			ref("AccountId", "Account ID", "Account", "Account"), required(str("LastName", "Last Name", 80)), str("FirstName", "First Name", 40),
			picklist("Salutation", "Salutation", "Mr.", "Ms.", "Mrs.", "Dr.", "Prof."), fullName(), str("Title", "Title", 128),
			typed("Email", "Email", "email", 80), typed("Phone", "Business Phone", "phone", 40), typed("MobilePhone", "Mobile Phone", "phone", 40),
			typed("Birthdate", "Birthdate", "date", 0), picklist("LeadSource", "Lead Source", leadSources...), desc(),
			external(str("External_Id__c", "External ID", 40)))...),
		object("Lead", "Lead", "Leads", with(systemFields(true, true),
			required(str("LastName", "Last Name", 80)), str("FirstName", "First Name", 40), fullName(), required(str("Company", "Company", 255)),
			str("Title", "Title", 128), typed("Email", "Email", "email", 80), typed("Phone", "Phone", "phone", 40),
			status("Open - Not Contacted", "Working - Contacted", "Closed - Converted", "Closed - Not Converted"),
			picklist("LeadSource", "Lead Source", leadSources...), picklist("Industry", "Industry", industries...), picklist("Rating", "Rating", ratings...),
			number("AnnualRevenue", "Annual Revenue", "currency", 18, 0), number("NumberOfEmployees", "Employees", "int", 8, 0),
			readOnly(flag("IsConverted", "Converted")), desc())...),
		object("Opportunity", "Opportunity", "Opportunities", with(systemFields(true, true),
			ref("AccountId", "Account ID", "Account", "Account"), required(str("Name", "Name", 120)),
			func() *FieldDef {
				f := picklist("StageName", "Stage", stages...)
				f.Nillable, f.Restricted = false, true
				return f
			}(),
			number("Amount", "Amount", "currency", 18, 2), number("Probability", "Probability (%)", "percent", 3, 0),
			required(typed("CloseDate", "Close Date", "date", 0)), picklist("Type", "Opportunity Type", "Existing Customer - Upgrade", "Existing Customer - Replacement", "New Customer"),
			picklist("LeadSource", "Lead Source", leadSources...), readOnly(flag("IsClosed", "Closed")), readOnly(flag("IsWon", "Won")), desc())...),
		object("Case", "Case", "Cases", with(systemFields(true, true),
			func() *FieldDef {
				f := readOnly(str("CaseNumber", "Case Number", 30))
				f.AutoNumber, f.Nillable, f.Default = true, false, "{00000000}"
				return f
			}(),
			ref("AccountId", "Account ID", "Account", "Account"), ref("ContactId", "Contact ID", "Contact", "Contact"), str("Subject", "Subject", 255),
			status("New", "Working", "Escalated", "Closed"), picklist("Priority", "Priority", "High", "Medium", "Low"), picklist("Origin", "Case Origin", "Phone", "Email", "Web"),
			picklist("Type", "Case Type", "Mechanical", "Electrical", "Electronic", "Structural", "Other"), readOnly(flag("IsClosed", "Closed")), desc())...),
		object("Task", "Task", "Tasks", with(systemFields(true, true),
			ref("WhoId", "Name ID", "Who", "Contact", "Lead"), ref("WhatId", "Related To ID", "What", "Account", "Opportunity", "Case"),
			typed("Subject", "Subject", "combobox", 255), typed("ActivityDate", "Due Date Only", "date", 0),
			status("Not Started", "In Progress", "Completed", "Waiting on someone else", "Deferred"),
			func() *FieldDef {
				f := picklist("Priority", "Priority", "High", "Normal", "Low")
				f.Nillable, f.DefaultedOnCreate, f.Default, f.Restricted = false, true, "Normal", true
				return f
			}(),
			readOnly(flag("IsClosed", "Closed")), desc())...),
		object("User", "User", "Users", with(systemFields(false, false),
			func() *FieldDef {
				f := required(str("Username", "Username", 80))
				f.Unique, f.IDLookup = true, true
				return f
			}(),
			required(str("LastName", "Last Name", 80)), str("FirstName", "First Name", 40), fullName(), required(typed("Email", "Email", "email", 128)),
			required(str("Alias", "Alias", 8)), flag("IsActive", "Active"), str("Title", "Title", 80))...),
		object("Invoice__c", "Invoice", "Invoices", with(systemFields(true, true),
			func() *FieldDef {
				f := readOnly(str("Name", "Invoice Number", 80))
				f.AutoNumber, f.Nillable, f.Default = true, false, "INV-{0000}"
				return f
			}(),
			custom(ref("Account__c", "Account", "Account__r", "Account")), external(str("External_Id__c", "External ID", 40)),
			custom(number("Amount__c", "Amount", "currency", 16, 2)),
			func() *FieldDef {
				f := custom(picklist("Status__c", "Status", "Draft", "Sent", "Paid", "Void"))
				f.DefaultedOnCreate, f.Default, f.Restricted = true, "Draft", true
				return f
			}(),
			custom(typed("Due_Date__c", "Due Date", "date", 0)), custom(flag("Paid__c", "Paid")),
			custom(typed("Notes__c", "Notes", "textarea", 32768)))...),
	}
	for _, o := range objs {
		o.Modified = now
		if o.Name == "Invoice__c" {
			o.Custom, o.KeyPrefix = true, customPrefix(23)
			o.Rules = []Rule{{Condition: "Amount__c < 0", Message: "Amount must not be negative.", Field: "Amount__c"}}
		}
	}
	return objs
}
