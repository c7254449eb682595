package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// SObjectSummary is one entry of describe global.
type SObjectSummary struct {
	Name          string `json:"name"`
	Label         string `json:"label"`
	LabelPlural   string `json:"labelPlural"`
	KeyPrefix     string `json:"keyPrefix"`
	Custom        bool   `json:"custom"`
	Queryable     bool   `json:"queryable"`
	Createable    bool   `json:"createable"`
	Updateable    bool   `json:"updateable"`
	Deletable     bool   `json:"deletable"`
	Replicateable bool   `json:"replicateable"`
	Retrieveable  bool   `json:"retrieveable"`
}

// PicklistValue is one picklist entry.
type PicklistValue struct {
	Value        string `json:"value"`
	Label        string `json:"label"`
	Active       bool   `json:"active"`
	DefaultValue bool   `json:"defaultValue"`
}

// Field is a field's describe.
type Field struct {
	Name              string          `json:"name"`
	Label             string          `json:"label"`
	Type              string          `json:"type"`
	SoapType          string          `json:"soapType"`
	Length            int             `json:"length"`
	ByteLength        int             `json:"byteLength"`
	Precision         int             `json:"precision"`
	Scale             int             `json:"scale"`
	Digits            int             `json:"digits"`
	Nillable          bool            `json:"nillable"`
	Createable        bool            `json:"createable"`
	Updateable        bool            `json:"updateable"`
	DefaultedOnCreate bool            `json:"defaultedOnCreate"`
	ExternalID        bool            `json:"externalId"`
	IDLookup          bool            `json:"idLookup"`
	Unique            bool            `json:"unique"`
	CaseSensitive     bool            `json:"caseSensitive"`
	Calculated        bool            `json:"calculated"`
	AutoNumber        bool            `json:"autoNumber"`
	Filterable        bool            `json:"filterable"`
	Sortable          bool            `json:"sortable"`
	Custom            bool            `json:"custom"`
	ReferenceTo       []string        `json:"referenceTo"`
	RelationshipName  string          `json:"relationshipName"`
	CompoundFieldName string          `json:"compoundFieldName"`
	ExtraTypeInfo     string          `json:"extraTypeInfo"`
	PicklistValues    []PicklistValue `json:"picklistValues"`
	DefaultValue      any             `json:"defaultValue"`
}

// RequiredOnCreate reports whether an insert must set the field.
func (f Field) RequiredOnCreate() bool { return f.Createable && !f.Nillable && !f.DefaultedOnCreate }

// ChildRelationship is a describe's child relationship.
type ChildRelationship struct {
	ChildSObject     string `json:"childSObject"`
	Field            string `json:"field"`
	RelationshipName string `json:"relationshipName"`
}

// SObjectDescribe is an object's describe.
type SObjectDescribe struct {
	SObjectSummary
	Fields             []Field             `json:"fields"`
	ChildRelationships []ChildRelationship `json:"childRelationships"`
}

type cachedDescribe struct {
	lastModified string
	d            *SObjectDescribe
}

// DescribeGlobal lists the org's objects.
func (c *Client) DescribeGlobal(ctx context.Context) ([]SObjectSummary, error) {
	var out struct {
		SObjects []SObjectSummary `json:"sobjects"`
	}
	if err := c.getJSON(ctx, "sobjects", "describe", &out); err != nil {
		return nil, err
	}
	return out.SObjects, nil
}

// DescribeGlobalSince lists the org's objects when any available object's metadata (or an org-wide
// setting such as permissions) changed after since: describe global with If-Modified-Since, which
// answers 304 Not Modified, no body, when nothing did (modified false, no objects).
func (c *Client) DescribeGlobalSince(ctx context.Context, since time.Time) (objects []SObjectSummary, modified bool, err error) {
	h := http.Header{}
	h.Set("If-Modified-Since", since.UTC().Format(http.TimeFormat))
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "sobjects", header: h, idempotent: true, kind: "describe"})
	if err != nil {
		return nil, false, err
	}
	if resp.status == http.StatusNotModified {
		return nil, false, nil
	}
	var out struct {
		SObjects []SObjectSummary `json:"sobjects"`
	}
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, false, fmt.Errorf("salesforce: decode describe global: %w", err)
	}
	return out.SObjects, true, nil
}

// Describe returns an object's describe, cached and revalidated with If-Modified-Since.
func (c *Client) Describe(ctx context.Context, object string) (*SObjectDescribe, error) {
	c.descMu.Lock()
	cached, ok := c.describes[object]
	c.descMu.Unlock()
	h := http.Header{}
	if ok && cached.lastModified != "" {
		h.Set("If-Modified-Since", cached.lastModified)
	}
	resp, err := c.send(ctx, request{method: http.MethodGet, path: "sobjects/" + url.PathEscape(object) + "/describe", header: h, idempotent: true, kind: "describe"})
	if err != nil {
		return nil, err
	}
	if resp.status == http.StatusNotModified && ok {
		return cached.d, nil
	}
	var d SObjectDescribe
	if err := json.Unmarshal(resp.body, &d); err != nil {
		return nil, fmt.Errorf("salesforce: decode describe of %s: %w", object, err)
	}
	c.descMu.Lock()
	c.describes[object] = cachedDescribe{lastModified: resp.header.Get("Last-Modified"), d: &d}
	c.descMu.Unlock()
	return &d, nil
}

// Field returns a field by name from a describe.
func (d *SObjectDescribe) Field(name string) (Field, bool) {
	for _, f := range d.Fields {
		if equalFold(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
