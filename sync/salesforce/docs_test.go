package salesforce_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pgforce/sync/salesforce"
)

// docServer answers each path with a documented example (testdata/rest), as Salesforce would.
func docServer(t *testing.T, routes map[string]string) *salesforce.Client {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for prefix, file := range routes {
			if strings.HasPrefix(r.URL.Path+"?"+r.URL.RawQuery, prefix) {
				body, err := os.ReadFile(filepath.Join("testdata", "rest", file))
				if err != nil {
					t.Error(err)
				}
				status := http.StatusOK
				if strings.HasPrefix(file, "error_") {
					status = http.StatusBadRequest
				}
				w.Header().Set("Content-Type", "application/json;charset=UTF-8")
				w.WriteHeader(status)
				_, _ = w.Write(body)
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := salesforce.New(context.Background(), salesforce.Options{Token: &salesforce.Token{AccessToken: "t", InstanceURL: srv.URL}, APIVersion: "68.0", MaxAttempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The client decodes the REST API's documented answers: query pages (parents nested, child
// queries nested, aggregate results), COUNT(), SOSL searches, collection upserts and errors.
func TestDocumentedAnswersDecode(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := docServer(t, map[string]string{
		"/services/data/v68.0/query?q=SELECT+Name":              "query.json",
		"/services/data/v68.0/query?q=SELECT+Id%2C+FirstName":   "query_child_to_parent.json",
		"/services/data/v68.0/query?q=SELECT+Id%2C+Name%2C+%28": "query_parent_to_child.json",
		"/services/data/v68.0/query?q=SELECT+COUNT%28Id%29":     "query_aggregate.json",
		"/services/data/v68.0/query?q=SELECT+COUNT%28%29":       "query_count.json",
		"/services/data/v68.0/query?q=SELECT+Nme":               "error_malformed_query.json",
		"/services/data/v68.0/search":                           "search.json",
		"/services/data/v68.0/composite/sobjects/Account/":      "collections_upsert.json",
	})
	var names []string
	n, err := c.Query(ctx, "SELECT Name FROM Account", false, func(r salesforce.Record) error {
		names = append(names, strings.Trim(string(r["Name"]), `"`))
		return nil
	})
	if err != nil || n != 14 || strings.Join(names, ",") != "Test 1,Test 2" {
		t.Fatalf("query: %d %v %v", n, names, err)
	}
	var parents []string
	if _, err := c.Query(ctx, "SELECT Id, FirstName, LastName, AccountId, Account.Name FROM Contact", false, func(r salesforce.Record) error {
		parents = append(parents, string(r["Account"]))
		return nil
	}); err != nil || len(parents) != 2 || !strings.Contains(parents[0], `"Name": "Acme Corp (West)"`) {
		t.Fatalf("child-to-parent: %v %v", parents, err)
	}
	if _, err := c.Query(ctx, "SELECT Id, Name, (SELECT Id, FirstName, LastName FROM Contacts) FROM Account", false, func(r salesforce.Record) error {
		if !strings.Contains(string(r["Contacts"]), `"LastName": "Doe"`) {
			t.Errorf("Contacts %s", r["Contacts"])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, "SELECT COUNT(Id) FROM Account", false, func(r salesforce.Record) error {
		if string(r["expr0"]) != "14" || !strings.Contains(string(r["attributes"]), "AggregateResult") {
			t.Errorf("aggregate record %v", r)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Count(ctx, "SELECT COUNT() FROM Account"); err != nil || n != 14 {
		t.Fatalf("count %d %v", n, err)
	}
	_, err = c.Query(ctx, "SELECT Nme FROM Account", false, func(salesforce.Record) error { return nil })
	var se *salesforce.Error
	if !errors.As(err, &se) || se.Code != "INVALID_FIELD" || !strings.Contains(se.Message, "No such column 'Nme'") || se.Kind != salesforce.Permanent {
		t.Fatalf("error %v", err)
	}
	found, err := c.Search(ctx, "FIND {Acme}")
	if err != nil || len(found) != 2 || found[0].ID() != "001D000000IqhSLIAZ" {
		t.Fatalf("search %v %v", found, err)
	}
	rs, err := c.UpsertMany(ctx, "Account", "customExtIdField__c", []map[string]any{{"customExtIdField__c": "11998"}, {"customExtIdField__c": "11999"}}, false)
	if err != nil || len(rs) != 2 || !rs[0].Success || rs[0].Created || rs[1].Success || rs[1].Errors[0].StatusCode != "DUPLICATE_VALUE" {
		t.Fatalf("upsert %+v %v", rs, err)
	}
}
