package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/orgclient"
	"pgforce/sync/salesforce"
)

// fakeOrgs stands in for Salesforce in dashboard tests: an org with a few objects, an OAuth flow
// that accepts the code "good" with the verifier it was started with, and no records. The engine is
// real (and not started), so every dashboard action runs the engine's code against Postgres.
type fakeOrgs struct {
	mu        sync.Mutex
	verifier  string            // of the last AuthCodeURL
	issued    map[string]string // state → the verifier its AuthCodeURL was made with
	exchanged []string          // verifiers Exchange was called with, in order
	objects   []mapping.Object
	// noViewAllData revokes the integration user's View All Data (the doctor's fake inspector).
	noViewAllData bool
}

func newFakeOrgs() *fakeOrgs {
	sys := []mapping.Field{
		{Name: "Id", Label: "Record ID", Type: "id", Length: 18},
		{Name: "IsDeleted", Label: "Deleted", Type: "boolean"},
		{Name: "SystemModstamp", Label: "System Modstamp", Type: "datetime"},
		{Name: "CreatedDate", Label: "Created Date", Type: "datetime"},
	}
	with := func(fs ...mapping.Field) []mapping.Field { return append(append([]mapping.Field{}, sys...), fs...) }
	return &fakeOrgs{objects: []mapping.Object{
		{Name: "Account", Label: "Account", Queryable: true, Createable: true, Updateable: true, Fields: with(
			mapping.Field{Name: "Name", Label: "Account Name", Type: "string", Length: 255, Createable: true, Updateable: true},
			mapping.Field{Name: "Phone", Label: "Account Phone", Type: "phone", Length: 40, Nillable: true, Createable: true, Updateable: true},
			mapping.Field{Name: "Ext_Id__c", Label: "External Id", Type: "string", Length: 36, Nillable: true, ExternalID: true, Unique: true, Createable: true, Updateable: true},
			mapping.Field{Name: "Region__c", Label: "Region", Type: "picklist", Length: 40, Createable: true, Updateable: true},
		)},
		{Name: "Contact", Label: "Contact", Queryable: true, Createable: true, Updateable: true, Fields: with(
			mapping.Field{Name: "LastName", Label: "Last Name", Type: "string", Length: 80, Createable: true, Updateable: true},
			mapping.Field{Name: "AccountId", Label: "Account ID", Type: "reference", Length: 18, Nillable: true, ReferenceTo: []string{"Account"}, RelationshipName: "Account"},
		)},
		{Name: "Widget__c", Label: "Widget", Queryable: true, Createable: true, Updateable: true, Fields: with(
			mapping.Field{Name: "Name", Label: "Widget Name", Type: "string", Length: 80, Nillable: true, Createable: true, Updateable: true, DefaultedOnCreate: true},
		)},
	}}
}

func (f *fakeOrgs) describe(object string) (mapping.Object, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range f.objects {
		if strings.EqualFold(o.Name, object) {
			return o, nil
		}
	}
	return mapping.Object{}, failure.E(failure.NotFound, "sObject type '%s' is not supported.", object)
}

func (f *fakeOrgs) Open(context.Context, connection.Connection, connection.Tokens, func(context.Context, string, string) error) (orgclient.Org, error) {
	return fakeOrg{f}, nil
}

func (f *fakeOrgs) AuthCodeURL(c connection.Connection, redirectURL, state, verifier string) (string, error) {
	f.mu.Lock()
	f.verifier = verifier
	if f.issued == nil {
		f.issued = map[string]string{}
	}
	f.issued[state] = verifier
	f.mu.Unlock()
	return c.LoginURL + "/services/oauth2/authorize?" + url.Values{"state": {state}, "redirect_uri": {redirectURL}}.Encode(), nil
}

func (f *fakeOrgs) Exchange(_ context.Context, _ connection.Connection, _, code, verifier string) (orgclient.Authorization, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.exchanged = append(f.exchanged, verifier)
	if code != "good" || verifier != f.verifier {
		return orgclient.Authorization{}, failure.E(failure.Unauthenticated, "Salesforce refused the authorization code (invalid_grant).")
	}
	return acme(), nil
}

func (f *fakeOrgs) Password(context.Context, connection.Connection, string, string) (orgclient.Authorization, error) {
	return acme(), nil
}

func (f *fakeOrgs) Revoke(context.Context, connection.Connection, string) error { return nil }

func (f *fakeOrgs) Inspect(_ context.Context, c connection.Connection, _ connection.Tokens, _ func(context.Context, string, string) error, _ string) (orgclient.Inspector, error) {
	return fakeInspector{f, c}, nil
}

// fakeInspector shows the fake org set up as the README says, but for View All Data when a test
// revokes it (noViewAllData).
type fakeInspector struct {
	f *fakeOrgs
	c connection.Connection
}

func (i fakeInspector) APIVersion() string { return "62.0" }
func (i fakeInspector) Versions(context.Context) ([]string, error) {
	return []string{"61.0", "62.0"}, nil
}
func (i fakeInspector) DailyAPI(context.Context) (int, int, error) { return 99000, 100000, nil }
func (i fakeInspector) CDCEntities(context.Context) ([]string, error) {
	return []string{"Account"}, nil
}
func (i fakeInspector) RequiresPKCE(context.Context) (bool, error) { return true, nil }
func (i fakeInspector) Refreshable() bool                          { return true }
func (i fakeInspector) Scopes(context.Context) ([]string, error) {
	return []string{"api", "refresh_token", "id"}, nil
}

func (i fakeInspector) Identity(context.Context) (salesforce.Identity, error) {
	return salesforce.Identity{CustomDomain: i.c.InstanceURL}, nil
}

func (i fakeInspector) Permissions(context.Context) (map[string]bool, error) {
	i.f.mu.Lock()
	defer i.f.mu.Unlock()
	return map[string]bool{"PermissionsApiEnabled": true, "PermissionsViewAllData": !i.f.noViewAllData}, nil
}

func (i fakeInspector) Access(_ context.Context, object string) (orgclient.ObjectAccess, bool, error) {
	_, err := i.f.describe(object)
	return orgclient.ObjectAccess{Read: true, Create: true, Edit: true, Delete: true}, err == nil, nil
}

// The fake org's tokens: distinctive, so tests can look for them where they must not be.
const (
	fakeAccessToken  = "00D000000000001!AQ4AQFakeAccessToken.s3cr3t"
	fakeRefreshToken = "5Aep861FakeRefreshToken.s3cr3t"
)

func acme() orgclient.Authorization {
	return orgclient.Authorization{AccessToken: fakeAccessToken, RefreshToken: fakeRefreshToken, InstanceURL: "https://acme.my.salesforce.com",
		OrgID: "00D000000000001AAA", OrgName: "Acme Sandbox", UserID: "005000000000001AAA", Username: "admin@acme.test"}
}

type fakeOrg struct{ f *fakeOrgs }

func (o fakeOrg) Objects(context.Context) ([]orgclient.ObjectSummary, error) {
	o.f.mu.Lock()
	defer o.f.mu.Unlock()
	var out []orgclient.ObjectSummary
	for _, ob := range o.f.objects {
		out = append(out, orgclient.ObjectSummary{Name: ob.Name, Label: ob.Label, Custom: strings.HasSuffix(ob.Name, "__c"), Queryable: true, Createable: true, Updateable: true})
	}
	return out, nil
}

func (o fakeOrg) Describe(_ context.Context, object string) (mapping.Object, error) {
	return o.f.describe(object)
}

func (o fakeOrg) Count(_ context.Context, soql string) (int, error) {
	if strings.Contains(soql, "bogus") {
		return 0, failure.E(failure.Invalid, "MALFORMED_QUERY: unexpected token: 'bogus'")
	}
	return 3, nil
}

func (o fakeOrg) Query(context.Context, string, bool, func(map[string]json.RawMessage) error) (int, error) {
	return 0, nil
}

func (o fakeOrg) BulkQuery(context.Context, string, bool, func(orgclient.BulkState), func(io.Reader) error) error {
	return nil
}

func (o fakeOrg) Usage() (int, int)     { return 120, 15000 }
func (o fakeOrg) Calls() map[string]int { return map[string]int{"query": 3} }
func (o fakeOrg) BulkWrite(context.Context, string, string, string, []byte) (orgclient.BulkWriteResult, error) {
	return orgclient.BulkWriteResult{}, errors.New("the fake org has no Bulk API")
}

func (o fakeOrg) CreateMany(context.Context, string, []map[string]any) ([]orgclient.SaveResult, error) {
	return nil, nil
}

func (o fakeOrg) UpdateMany(context.Context, string, []map[string]any) ([]orgclient.SaveResult, error) {
	return nil, nil
}

func (o fakeOrg) UpdateUnmodifiedSince(context.Context, string, map[string]any, time.Time) (orgclient.SaveResult, error) {
	return orgclient.SaveResult{}, nil
}

func (o fakeOrg) UpsertMany(context.Context, string, string, []map[string]any) ([]orgclient.SaveResult, error) {
	return nil, nil
}

func (o fakeOrg) DeleteMany(context.Context, []string) ([]orgclient.SaveResult, error) {
	return nil, nil
}

func (o fakeOrg) Stream(ctx context.Context, _ map[string]int64, _ func(orgclient.StreamEvent)) error {
	<-ctx.Done()
	return ctx.Err()
}
