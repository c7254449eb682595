package sforg

import (
	"fmt"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// genFields cover every type generation fills, and some it leaves empty (a reference, a long text area).
var genFields = []FieldDef{
	{Name: "Text__c", Type: "string", Length: 12, Nillable: true, Createable: true, Updateable: true},
	{Name: "Notes__c", Type: "textarea", Length: 255, Nillable: true, Createable: true, Updateable: true},
	{Name: "Long__c", Type: "textarea", Length: 32000, Nillable: true, Createable: true, Updateable: true},
	{Name: "Phone__c", Type: "phone", Length: 40, Nillable: true, Createable: true, Updateable: true},
	{Name: "Site__c", Type: "url", Length: 255, Nillable: true, Createable: true, Updateable: true},
	{Name: "Amount__c", Type: "double", Precision: 18, Scale: 2, Nillable: true, Createable: true, Updateable: true},
	{Name: "Price__c", Type: "currency", Precision: 18, Scale: 2, Nillable: true, Createable: true, Updateable: true},
	{Name: "Share__c", Type: "percent", Precision: 5, Scale: 2, Nillable: true, Createable: true, Updateable: true},
	{Name: "Quantity__c", Type: "int", Digits: 9, Nillable: true, Createable: true, Updateable: true},
	{Name: "Flag__c", Type: "boolean", Createable: true, Updateable: true, DefaultedOnCreate: true, Default: "false"},
	{Name: "Day__c", Type: "date", Nillable: true, Createable: true, Updateable: true},
	{Name: "At__c", Type: "datetime", Nillable: true, Createable: true, Updateable: true},
	{Name: "Clock__c", Type: "time", Nillable: true, Createable: true, Updateable: true},
	{Name: "Email__c", Type: "email", Length: 80, Nillable: true, Createable: true, Updateable: true},
	{Name: "Stage__c", Type: "picklist", Picklist: []string{"New", "Working", "Won", "Lost"}, Nillable: true, Createable: true, Updateable: true},
	{Name: "Tags__c", Type: "multipicklist", Picklist: []string{"a", "b", "c"}, Nillable: true, Createable: true, Updateable: true},
	{Name: "Account__c", Type: "reference", ReferenceTo: []string{"Account"}, RelationshipName: "Account__r", Nillable: true, Createable: true, Updateable: true},
}

const genQuery = "SELECT Id, Name, OwnerId, CreatedById, CreatedDate, LastModifiedDate, SystemModstamp, IsDeleted, Text__c, Notes__c, Long__c, Phone__c, " +
	"Site__c, Amount__c, Price__c, Share__c, Quantity__c, Flag__c, Day__c, At__c, Clock__c, Email__c, Stage__c, Tags__c, Account__c FROM Gen__c"

// twin is one of two orgs on the same clock holding the same generated records: one as a compact
// block, the other saved record by record as every other write is.
type twin struct {
	org     *Org
	a       *api
	changes func() []Change
}

func twins(t *testing.T, n int) (compact, saved twin) {
	t.Helper()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	mk := func(save bool) twin {
		org, a := login(t, Options{Now: func() time.Time { return now }, QueryPageSize: 7, BulkPageSize: 9})
		org.saveGenerated = save
		if err := org.AddObject("Gen__c", "Gen", genFields...); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var changes []Change
		org.OnChange(func(c Change) { mu.Lock(); changes = append(changes, c); mu.Unlock() })
		if err := org.Generate("Gen__c", n, 42); err != nil {
			t.Fatal(err)
		}
		return twin{org, a, func() []Change { mu.Lock(); defer mu.Unlock(); return append([]Change(nil), changes...) }}
	}
	compact, saved = mk(false), mk(true)
	if tb := compact.org.table("Gen__c"); len(tb.blocks) != 1 || !tb.rows[0].generated() {
		t.Fatal("the compact org holds its generated records as a block")
	}
	if tb := saved.org.table("Gen__c"); len(tb.blocks) != 0 || tb.rows[0].generated() {
		t.Fatal("the other org saves them")
	}
	return compact, saved
}

// same asserts that both orgs answer a request alike: status and body.
func same(t *testing.T, compact, saved twin, method, path string, body any) []byte {
	t.Helper()
	res1, raw1 := compact.a.do(method, path, body)
	res2, raw2 := saved.a.do(method, path, body)
	if res1.StatusCode != res2.StatusCode || string(raw1) != string(raw2) {
		t.Fatalf("%s %s:\ncompact %d %s\nsaved   %d %s", method, path, res1.StatusCode, trimmed(raw1), res2.StatusCode, trimmed(raw2))
	}
	return raw1
}

func trimmed(b []byte) string { return string(b[:min(len(b), 600)]) }

// allPages follows a REST query's nextRecordsUrl in both orgs, comparing every page's records.
func allPages(t *testing.T, compact, saved twin, q, verb string) int {
	t.Helper()
	paths := [2]string{"/services/data/v62.0/" + verb + "?q=" + url.QueryEscape(q)}
	paths[1] = paths[0]
	n := 0
	for paths[0] != "" {
		var pages [2]map[string]any
		for k, tw := range []twin{compact, saved} {
			pages[k] = getOK[map[string]any](tw.a, paths[k])
			next, _ := pages[k]["nextRecordsUrl"].(string)
			paths[k] = next
			delete(pages[k], "nextRecordsUrl") // names each org's own cursor
		}
		if !reflect.DeepEqual(pages[0], pages[1]) {
			t.Fatalf("%s: page after %d records differs:\ncompact %v\nsaved   %v", q, n, pages[0], pages[1])
		}
		recs, _ := pages[0]["records"].([]any)
		n += len(recs)
		if (paths[0] == "") != (paths[1] == "") {
			t.Fatalf("%s: one org has more pages than the other", q)
		}
	}
	return n
}

// bulkResults runs a Bulk API 2.0 query job and returns its CSV pages.
func bulkResults(t *testing.T, tw twin, q string) []string {
	t.Helper()
	_, raw := tw.a.do("POST", "/services/data/v62.0/jobs/query", map[string]any{"operation": "query", "query": q})
	id, _ := decodeJSON[map[string]any](t, raw)["id"].(string)
	if id == "" {
		t.Fatalf("create the job: %s", raw)
	}
	var pages []string
	for locator := ""; locator != "null"; {
		path := "/services/data/v62.0/jobs/query/" + id + "/results"
		if locator != "" {
			path += "?locator=" + locator
		}
		res, raw := tw.a.do("GET", path, nil)
		if res.StatusCode != 200 {
			t.Fatalf("results: %d %s", res.StatusCode, raw)
		}
		pages = append(pages, string(raw))
		locator = res.Header.Get("Sforce-Locator")
	}
	return pages
}

// A generated record reads the same through every API as the record saved with the same values:
// REST retrieve, SOQL query and queryMore (filters, ordering, aggregates, counts), Bulk 2.0 CSV,
// the control API; then an update, a delete and an undelete of generated records change them, and
// publish change events, as they change saved ones.
func TestGeneratedRecordsReadAndChangeLikeSavedOnes(t *testing.T) {
	t.Parallel()
	const n = 60
	compact, saved := twins(t, n)
	ids := compact.org.table("Gen__c")
	first, mid, last := ids.id(ids.rows[0]), ids.id(ids.rows[n/2]), ids.id(ids.rows[n-1])
	for _, id := range []string{first, mid, last, first[:15], strings.ToLower(mid)} {
		same(t, compact, saved, "GET", "/services/data/v62.0/sobjects/Gen__c/"+id, nil)
	}
	same(t, compact, saved, "GET", "/services/data/v62.0/sobjects/Gen__c/"+first+"?fields=Name,Amount__c,Tags__c", nil)
	same(t, compact, saved, "POST", "/services/data/v62.0/composite/sobjects/Gen__c", map[string]any{"ids": []string{last, mid}, "fields": []string{"Id", "Text__c", "At__c"}})
	if got := allPages(t, compact, saved, genQuery, "query"); got != n {
		t.Fatalf("a query reads %d of the %d generated records", got, n)
	}
	for _, q := range []string{
		"SELECT Id, Text__c, Amount__c FROM Gen__c WHERE Amount__c > 3000 AND Stage__c IN ('New', 'Won') ORDER BY Text__c DESC, Id",
		"SELECT Id FROM Gen__c WHERE Id = '" + mid + "'",
		"SELECT Id, Name FROM Gen__c WHERE Name LIKE 'N-002%' ORDER BY Name",
		"SELECT Id FROM Gen__c ORDER BY SystemModstamp DESC, Id DESC LIMIT 5",
		"SELECT Stage__c, COUNT(Id), SUM(Quantity__c) FROM Gen__c GROUP BY Stage__c ORDER BY Stage__c",
		"SELECT COUNT() FROM Gen__c WHERE Flag__c = true",
		"SELECT Id, Owner.Name, FORMAT(Price__c), toLabel(Stage__c) FROM Gen__c WHERE Tags__c INCLUDES ('b') ORDER BY Id",
	} {
		allPages(t, compact, saved, q, "query")
	}
	if c, s := bulkResults(t, compact, genQuery), bulkResults(t, saved, genQuery); !reflect.DeepEqual(c, s) || len(c) != (n+8)/9 {
		t.Fatalf("Bulk query results (%d pages) differ from the saved records' (%d pages):\n%v\n%v", len(c), len(s), c, s)
	}
	if !reflect.DeepEqual(compact.org.Records("Gen__c"), saved.org.Records("Gen__c")) || !reflect.DeepEqual(compact.org.Record("Gen__c", mid), saved.org.Record("Gen__c", mid)) {
		t.Fatal("the control API reads the records alike")
	}

	// Writes: an update, a delete and an undelete of generated records.
	same(t, compact, saved, "PATCH", "/services/data/v62.0/sobjects/Gen__c/"+mid, map[string]any{"Text__c": "changed", "Amount__c": 1.5})
	same(t, compact, saved, "DELETE", "/services/data/v62.0/sobjects/Gen__c/"+last, nil)
	same(t, compact, saved, "DELETE", "/services/data/v62.0/sobjects/Gen__c/"+first, nil)
	same(t, compact, saved, "POST", "/services/data/v62.0/composite/sobjects", map[string]any{"allOrNone": true, "records": []any{
		map[string]any{"attributes": map[string]string{"type": "Gen__c"}, "Id": ids.id(ids.rows[3]), "Text__c": "rolled back"},
		map[string]any{"attributes": map[string]string{"type": "Gen__c"}, "Id": ids.id(ids.rows[4]), "Stage__c": "Nope"},
	}})
	same(t, compact, saved, "GET", "/services/data/v62.0/sobjects/Gen__c/"+mid, nil)
	same(t, compact, saved, "GET", "/services/data/v62.0/sobjects/Gen__c/"+last, nil)
	same(t, compact, saved, "GET", "/services/data/v62.0/sobjects/Gen__c/"+ids.id(ids.rows[3]), nil)
	if got := allPages(t, compact, saved, genQuery, "query"); got != n-2 {
		t.Fatalf("after two deletes a query reads %d records, want %d", got, n-2)
	}
	allPages(t, compact, saved, genQuery+" WHERE IsDeleted = true", "queryAll")
	for _, g := range []GapChange{{Object: "Gen__c", Type: "UNDELETE", IDs: []string{first}},
		{Object: "Gen__c", Type: "UPDATE", IDs: []string{ids.id(ids.rows[7])}, Fields: map[string]any{"Quantity__c": 7}}} {
		if _, err := compact.org.Gap(g); err != nil {
			t.Fatal(err)
		}
		if _, err := saved.org.Gap(g); err != nil {
			t.Fatal(err)
		}
	}
	allPages(t, compact, saved, genQuery, "query")
	if c, s := bulkResults(t, compact, genQuery), bulkResults(t, saved, genQuery); !reflect.DeepEqual(c, s) {
		t.Fatalf("Bulk query results after the writes differ:\n%v\n%v", c, s)
	}
	if c, s := compact.org.Count("Gen__c"), saved.org.Count("Gen__c"); c != n-1 || s != n-1 {
		t.Fatalf("counts %d and %d, want %d", c, s, n-1)
	}
	if c, s := comparable(compact.changes()), comparable(saved.changes()); len(c) < 3 || !reflect.DeepEqual(c, s) {
		t.Fatalf("change events:\ncompact %+v\nsaved   %+v", c, s)
	}
	if tb := compact.org.table("Gen__c"); !tb.rows[10].generated() || tb.rows[n/2].generated() || tb.rows[7].generated() {
		t.Fatal("a written record is stored; the others stay generated")
	}
}

// comparable drops what differs between two orgs by construction: transaction ids, and the order
// of changed fields (save lists them as it meets them in its input map).
func comparable(chs []Change) []Change {
	out := make([]Change, len(chs))
	for i, c := range chs {
		c.TransactionID = ""
		c.ChangedFields = slices.Sorted(slices.Values(c.ChangedFields))
		out[i] = c
	}
	return out
}

// A data load's change events (Burst) carry the same values for generated records as for saved ones.
func TestABurstOfGeneratedRecordsPublishesTheirValues(t *testing.T) {
	t.Parallel()
	compact, saved := twins(t, 1)
	for _, tw := range []twin{compact, saved} {
		if err := tw.org.Burst("Gen__c", 5, 3); err != nil {
			t.Fatal(err)
		}
	}
	c, s := comparable(compact.changes()), comparable(saved.changes())
	if len(c) != 5 || !reflect.DeepEqual(c, s) || len(c[0].Fields) < 15 {
		t.Fatalf("burst events:\ncompact %+v\nsaved   %+v", c, s)
	}
}

// Fields added to and removed from the object after generation leave generated records as they
// leave saved ones: no value for the new field, the others in place.
func TestGeneratedRecordsFollowFieldChanges(t *testing.T) {
	t.Parallel()
	compact, saved := twins(t, 12)
	for _, tw := range []twin{compact, saved} {
		if err := tw.org.AddField("Gen__c", FieldDef{Name: "Later__c", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true}); err != nil {
			t.Fatal(err)
		}
		if err := tw.org.RemoveField("Gen__c", "Notes__c"); err != nil {
			t.Fatal(err)
		}
		if err := tw.org.ChangeField("Gen__c", "Text__c", func(f *FieldDef) { f.Length = 5 }); err != nil {
			t.Fatal(err)
		}
	}
	q := strings.Replace(genQuery, "Notes__c", "Later__c", 1)
	allPages(t, compact, saved, q, "query")
	id := compact.org.table("Gen__c").id(compact.org.table("Gen__c").rows[5])
	same(t, compact, saved, "PATCH", "/services/data/v62.0/sobjects/Gen__c/"+id, map[string]any{"Later__c": "now"})
	allPages(t, compact, saved, q, "query")
}

// Generation is fast and compact: a hundred thousand records allocate well under a hundred
// bytes each (a saved record takes about a kilobyte).
func TestGeneratingRecordsAllocatesLittle(t *testing.T) {
	org := New(Options{})
	if err := org.AddObject("Gen__c", "Gen", genFields...); err != nil {
		t.Fatal(err)
	}
	const n = 100_000
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if err := org.Generate("Gen__c", n, 1); err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&after)
	if per := float64(after.TotalAlloc-before.TotalAlloc) / n; per > 100 {
		t.Fatalf("generating allocated %.0f bytes per record", per)
	}
	if got := org.Count("Gen__c"); got != n {
		t.Fatalf("Count = %d", got)
	}
	if rec := org.Record("Gen__c", org.table("Gen__c").id(org.table("Gen__c").rows[n-1])); rec == nil || rec["Name"] != fmt.Sprintf("N-%04d", n) {
		t.Fatalf("the last record: %v", rec)
	}
}
