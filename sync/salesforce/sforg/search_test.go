package sforg

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

type searchResult struct {
	SearchRecords []map[string]json.RawMessage `json:"searchRecords"`
}

func (a *api) search(q string) searchResult {
	a.t.Helper()
	return getOK[searchResult](a, "/services/data/v62.0/search?q="+url.QueryEscape(q))
}

// SOSL: FIND {term} IN … FIELDS RETURNING Obj(fields WHERE … LIMIT n) LIMIT n, as the identity
// URLs' "search" advertises it.
func TestSOSLSearch(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	acme, _ := a.create("Account", map[string]any{"Name": "Acme Widgets", "Industry": "Banking"})
	a.create("Account", map[string]any{"Name": "Acme Rockets", "Industry": "Energy"})
	a.create("Account", map[string]any{"Name": "Globex"})
	contact, _ := a.create("Contact", map[string]any{"LastName": "Runner", "Email": "road@acme.example", "AccountId": acme})

	r := a.search("FIND {Acme} IN ALL FIELDS RETURNING Account(Id, Name WHERE Industry = 'Banking'), Contact(LastName, Email) LIMIT 10")
	if len(r.SearchRecords) != 2 || text(r.SearchRecords[0]["Name"]) != "Acme Widgets" || text(r.SearchRecords[1]["Email"]) != "road@acme.example" {
		t.Fatalf("search %+v", r.SearchRecords)
	}
	var attrs map[string]string
	_ = json.Unmarshal(r.SearchRecords[1]["attributes"], &attrs)
	if attrs["type"] != "Contact" || !strings.HasSuffix(attrs["url"], "/sobjects/Contact/"+contact) {
		t.Fatalf("attributes %v", attrs)
	}
	if n := len(a.search("FIND {acme*} IN NAME FIELDS RETURNING Account(Name), Contact").SearchRecords); n != 2 {
		t.Fatalf("a wildcard in name fields finds the two Acme accounts, not the contact's email: %d", n)
	}
	if n := len(a.search("FIND {\"acme rockets\" OR globex} RETURNING Account(Name)").SearchRecords); n != 2 {
		t.Fatalf("phrase OR word: %d", n)
	}
	if n := len(a.search("FIND {Acme AND NOT Rockets} RETURNING Account(Name)").SearchRecords); n != 1 {
		t.Fatalf("AND NOT: %d", n)
	}
	if n := len(a.search("FIND {acme} RETURNING Account(Name LIMIT 1)").SearchRecords); n != 1 {
		t.Fatalf("per-object LIMIT: %d", n)
	}
	r = a.search("FIND {Runner}")
	if len(r.SearchRecords) != 1 || len(r.SearchRecords[0]) != 2 {
		t.Fatalf("without RETURNING: every searchable object, Ids only: %+v", r.SearchRecords)
	}
	for q, msg := range map[string]string{
		"FIND Acme":                  "braces",
		"FIND {a}":                   "longer than one character",
		"FIND {Acme} RETURNING Nope": "not supported",
		"SELECT Id FROM Account":     "FIND",
	} {
		res, raw := a.do("GET", "/services/data/v62.0/search?q="+url.QueryEscape(q), nil)
		if res.StatusCode != 400 || !strings.Contains(string(raw), msg) {
			t.Errorf("%s: %d %s", q, res.StatusCode, raw)
		}
	}
	// Parameterized search, GET and POST.
	res, raw := a.do("GET", "/services/data/v62.0/parameterizedSearch/?q=Acme&sobject=Account&Account.fields=Id,Name&Account.limit=5", nil)
	if res.StatusCode != 200 || len(decodeJSON[searchResult](t, raw).SearchRecords) != 2 {
		t.Fatalf("parameterized GET: %d %s", res.StatusCode, raw)
	}
	res, raw = a.do("POST", "/services/data/v62.0/parameterizedSearch", map[string]any{"q": "Runner", "fields": []string{"Id", "LastName"},
		"sobjects": []map[string]any{{"name": "Contact"}}, "in": "ALL", "overallLimit": 5})
	if res.StatusCode != 200 || !strings.Contains(string(raw), `"LastName":"Runner"`) {
		t.Fatalf("parameterized POST: %d %s", res.StatusCode, raw)
	}
}
