package sforg

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// sameShape reports where two JSON documents differ in shape: keys at every level and the kind
// of each value (null matches anything; of arrays, the first elements are compared).
func sameShape(path string, want, got any) error {
	if want == nil || got == nil {
		return nil
	}
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: an object in the documentation, %T here", path, got)
		}
		var wk, gk []string
		for k := range w {
			wk = append(wk, k)
		}
		for k := range g {
			gk = append(gk, k)
		}
		slices.Sort(wk)
		slices.Sort(gk)
		if !slices.Equal(wk, gk) {
			return fmt.Errorf("%s: keys %v in the documentation, %v here", path, wk, gk)
		}
		for _, k := range wk {
			if err := sameShape(path+"."+k, w[k], g[k]); err != nil {
				return err
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Errorf("%s: an array in the documentation, %T here", path, got)
		}
		if len(w) > 0 && len(g) > 0 {
			return sameShape(path+"[0]", w[0], g[0])
		}
		if (len(w) == 0) != (len(g) == 0) {
			return fmt.Errorf("%s: %d elements in the documentation, %d here", path, len(w), len(g))
		}
	default:
		if fmt.Sprintf("%T", want) != fmt.Sprintf("%T", got) {
			return fmt.Errorf("%s: %T in the documentation, %T here", path, want, got)
		}
	}
	return nil
}

func documented(t *testing.T, file string) any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "rest", file))
	if err != nil {
		t.Fatal(err)
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return v
}

// The org answers the documented requests in the documented shapes (../testdata/rest).
func TestTheOrgAnswersInTheDocumentedShapes(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{QueryPageSize: 200})
	acme, _ := a.create("Account", map[string]any{"Name": "Acme Corp (West)"})
	a.create("Contact", map[string]any{"FirstName": "Jane", "LastName": "Doe", "AccountId": acme})
	if err := org.Generate("Contact", 250, 1); err != nil {
		t.Fatal(err)
	}
	get := func(path string) any {
		t.Helper()
		_, raw := a.do("GET", path, nil)
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %s", path, raw)
		}
		return v
	}
	q := func(soql string) string { return "/services/data/v62.0/query?q=" + url.QueryEscape(soql) }
	for file, path := range map[string]string{
		"query.json":                 q("SELECT Name FROM Account"),
		"query_paged.json":           q("SELECT Id, Name FROM Contact"),
		"query_child_to_parent.json": q("SELECT Id, FirstName, LastName, AccountId, Account.Name FROM Contact WHERE Account.Name LIKE 'Acme%'"),
		"query_parent_to_child.json": q("SELECT Id, Name, (SELECT Id, FirstName, LastName FROM Contacts) FROM Account WHERE Name LIKE 'Acme%'"),
		"query_aggregate.json":       q("SELECT COUNT(Id) FROM Account"),
		"query_count.json":           q("SELECT COUNT() FROM Account"),
		"search.json":                "/services/data/v62.0/search?q=" + url.QueryEscape("FIND {Acme}"),
		"error_malformed_query.json": q("SELECT Nme FROM Account"),
	} {
		if err := sameShape(file, documented(t, file), get(path)); err != nil {
			t.Errorf("%v", err)
		}
	}
	_, raw := a.do("PATCH", "/services/data/v62.0/composite/sobjects/Account/External_Id__c", map[string]any{"records": []map[string]any{
		{"attributes": map[string]string{"type": "Account"}, "External_Id__c": "E-1", "Name": "Upserted"},
		{"attributes": map[string]string{"type": "Account"}, "External_Id__c": "E-2", "Name": "Twice"},
		{"attributes": map[string]string{"type": "Account"}, "External_Id__c": "E-2", "Name": "Twice again"},
	}})
	var got []any
	_ = json.Unmarshal(raw, &got)
	want := documented(t, "collections_upsert.json").([]any)
	if len(got) != 3 || sameShape("upsert created", want[0], got[0]) != nil || sameShape("upsert failed", want[1], got[1]) != nil {
		t.Errorf("collections upsert %s", raw)
	}
	if !strings.Contains(string(raw), `"created":true`) {
		t.Errorf("an upsert that created says so: %s", raw)
	}
}
