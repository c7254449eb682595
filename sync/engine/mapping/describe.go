package mapping

import "strings"

// Object is what validation needs to know about a Salesforce object (from its describe).
type Object struct {
	Name       string
	Label      string
	Queryable  bool
	Createable bool
	Updateable bool
	Fields     []Field
}

// Field is one field of an object's describe.
type Field struct {
	Name              string
	Label             string
	Type              string
	Length            int
	Precision, Scale  int
	Digits            int
	Nillable          bool
	Createable        bool
	Updateable        bool
	DefaultedOnCreate bool
	ExternalID        bool
	IDLookup          bool
	Unique            bool
	Calculated        bool
	ReferenceTo       []string
	RelationshipName  string
}

// RequiredOnCreate reports whether Salesforce refuses an insert without this field.
func (f Field) RequiredOnCreate() bool { return f.Createable && !f.Nillable && !f.DefaultedOnCreate }

// Field returns a field by name, case-insensitively.
func (o Object) Field(name string) (Field, bool) {
	for _, f := range o.Fields {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

// Relationship returns the reference field whose relationship name is rel (e.g. Account__r).
func (o Object) Relationship(rel string) (Field, bool) {
	for _, f := range o.Fields {
		if f.RelationshipName != "" && strings.EqualFold(f.RelationshipName, rel) {
			return f, true
		}
	}
	return Field{}, false
}

// SystemFields are always mapped: Heroku Connect needs them to sync (IsDeleted only where it exists).
var SystemFields = []string{"Id", "SystemModstamp", "IsDeleted"}

// RecommendedFields are preselected when creating a mapping but may be removed.
var RecommendedFields = []string{"CreatedDate", "Name"}

// Required reports whether a field is locked into every mapping of the object.
func (o Object) Required(name string) bool {
	for _, s := range SystemFields {
		if strings.EqualFold(s, name) {
			_, ok := o.Field(s)
			return ok
		}
	}
	return false
}
