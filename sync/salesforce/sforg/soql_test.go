package sforg

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"
)

// queryResult is a REST query answer, records kept raw.
type queryResult struct {
	TotalSize int                          `json:"totalSize"`
	Done      bool                         `json:"done"`
	Records   []map[string]json.RawMessage `json:"records"`
}

func (a *api) query(q string) queryResult {
	a.t.Helper()
	return getOK[queryResult](a, "/services/data/v62.0/query?q="+url.QueryEscape(q))
}

// getOK GETs a resource that must answer 200 and decodes it.
func getOK[T any](a *api, path string) T {
	a.t.Helper()
	res, raw := a.do("GET", path, nil)
	if res.StatusCode != 200 {
		a.t.Fatalf("GET %s: %d %s", path, res.StatusCode, raw)
	}
	return decodeJSON[T](a.t, raw)
}

// queryError runs a query that Salesforce refuses and returns its error.
func (a *api) queryError(q, code string) string {
	a.t.Helper()
	res, raw := a.do("GET", "/services/data/v62.0/query?q="+url.QueryEscape(q), nil)
	errs := wantError(a.t, res, raw, 400, code)
	return errs[0].Message
}

func text(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func num(raw json.RawMessage) float64 {
	var n float64
	_ = json.Unmarshal(raw, &n)
	return n
}

func TestAggregatesWithoutGroupByGiveOneAggregateResult(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1})
	n := org.Count("Account")
	r := a.query("SELECT COUNT(Id), MAX(CreatedDate) latest, MIN(NumberOfEmployees), SUM(AnnualRevenue), COUNT_DISTINCT(Industry) FROM Account")
	if r.TotalSize != 1 || len(r.Records) != 1 {
		t.Fatalf("aggregate rows: %+v", r)
	}
	rec := r.Records[0]
	var attrs map[string]any
	_ = json.Unmarshal(rec["attributes"], &attrs)
	if attrs["type"] != "AggregateResult" || attrs["url"] != nil {
		t.Fatalf("attributes %v: AggregateResult has no url", attrs)
	}
	// Unaliased aggregates are expr0, expr1, … in order; an alias replaces the name and takes no number.
	if int(num(rec["expr0"])) != n || string(rec["expr0"]) != strings.TrimSpace(string(rec["expr0"])) || strings.Contains(string(rec["expr0"]), ".") {
		t.Fatalf("COUNT(Id) = %s, want the integer %d", rec["expr0"], n)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000+0000", text(rec["latest"])); err != nil {
		t.Fatalf("MAX(CreatedDate) as latest: %s", rec["latest"])
	}
	for _, k := range []string{"expr1", "expr2", "expr3"} {
		if _, ok := rec[k]; !ok {
			t.Fatalf("no %s in %v", k, rec)
		}
	}
	if d := int(num(rec["expr3"])); d < 2 || d > 32 {
		t.Fatalf("COUNT_DISTINCT(Industry) = %d", d)
	}
	// Over no records: still one row, COUNT 0 and MAX null.
	r = a.query("SELECT COUNT(Id), MAX(Name) FROM Account WHERE Name = 'no such account'")
	if len(r.Records) != 1 || string(r.Records[0]["expr0"]) != "0" || string(r.Records[0]["expr1"]) != "null" {
		t.Fatalf("empty aggregate: %+v", r.Records)
	}
	// Order is a reserved word and an object.
	if r := a.query("SELECT Id FROM Order ORDER BY OrderNumber"); r.TotalSize != org.Count("Order") || r.TotalSize == 0 {
		t.Fatalf("%d orders, the org has %d", r.TotalSize, org.Count("Order"))
	}
	// COUNT() stays what it was: totalSize, no records.
	if r := a.query("SELECT COUNT() FROM Account"); r.TotalSize != n || len(r.Records) != 0 {
		t.Fatalf("COUNT(): %+v", r)
	}
}

func TestGroupByHavingAndRollup(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	acct, _ := a.create("Account", map[string]any{"Name": "Grouped"})
	for _, o := range []struct {
		stage, typ string
		amount     float64
	}{{"Prospecting", "New Customer", 100}, {"Prospecting", "New Customer", 50}, {"Prospecting", "Existing Customer - Upgrade", 10}, {"Closed Won", "New Customer", 1000}} {
		if _, ok := a.create("Opportunity", map[string]any{"Name": "Deal", "StageName": o.stage, "Type": o.typ, "Amount": o.amount, "CloseDate": "2024-03-15", "AccountId": acct}); !ok {
			t.Fatal("create opportunity")
		}
	}
	r := a.query("SELECT StageName, COUNT(Id) n, SUM(Amount), AVG(Amount) FROM Opportunity GROUP BY StageName HAVING COUNT(Id) > 1")
	if len(r.Records) != 1 {
		t.Fatalf("HAVING COUNT(Id) > 1: %+v", r.Records)
	}
	g := r.Records[0]
	if text(g["StageName"]) != "Prospecting" || num(g["n"]) != 3 || num(g["expr0"]) != 160 || num(g["expr1"]) < 53.3 || num(g["expr1"]) > 53.4 {
		t.Fatalf("group %v", g)
	}
	// Grouped relationship fields keep their last name; groups sort by their key.
	r = a.query("SELECT Account.Name, COUNT(Id) FROM Opportunity GROUP BY Account.Name")
	if len(r.Records) != 1 || text(r.Records[0]["Name"]) != "Grouped" || num(r.Records[0]["expr0"]) != 4 {
		t.Fatalf("GROUP BY Account.Name: %+v", r.Records)
	}
	// ROLLUP adds a subtotal per stage and a grand total; GROUPING() says which rows they are.
	r = a.query("SELECT StageName, Type, SUM(Amount) total, GROUPING(Type) isSubtotal FROM Opportunity GROUP BY ROLLUP(StageName, Type)")
	var rows []string
	for _, rec := range r.Records {
		rows = append(rows, text(rec["StageName"])+"|"+text(rec["Type"])+"|"+string(rec["total"])+"|"+string(rec["isSubtotal"]))
	}
	want := "Prospecting|Existing Customer - Upgrade|10|0 Prospecting|New Customer|150|0 Prospecting||160|1 Closed Won|New Customer|1000|0 Closed Won||1000|1 ||1160|1"
	if strings.Join(rows, " ") != want {
		t.Fatalf("ROLLUP rows\n got %s\nwant %s", strings.Join(rows, " "), want)
	}
	// Everything selected must be grouped or aggregated.
	if msg := a.queryError("SELECT StageName, Name, COUNT(Id) FROM Opportunity GROUP BY StageName", "MALFORMED_QUERY"); !strings.Contains(msg, "Field must be grouped or aggregated: Name") {
		t.Fatal(msg)
	}
	if msg := a.queryError("SELECT SUM(Name) FROM Opportunity", "MALFORMED_QUERY"); !strings.Contains(msg, "field Name does not support aggregate operator SUM") {
		t.Fatal(msg)
	}
	if msg := a.queryError("SELECT Amount, COUNT(Id) FROM Opportunity GROUP BY Amount", "INVALID_FIELD"); !strings.Contains(msg, "field 'Amount' can not be grouped") {
		t.Fatal(msg)
	}
}

func TestChildRelationshipSubqueriesAndSemiJoins(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	with, _ := a.create("Account", map[string]any{"Name": "With contacts"})
	without, _ := a.create("Account", map[string]any{"Name": "Without contacts"})
	for _, last := range []string{"Cole", "Abbott", "Baker"} {
		a.create("Contact", map[string]any{"LastName": last, "AccountId": with})
	}
	r := a.query("SELECT Name, (SELECT LastName FROM Contacts ORDER BY LastName LIMIT 2) FROM Account WHERE Id IN ('" + with + "', '" + without + "') ORDER BY Name")
	if len(r.Records) != 2 {
		t.Fatalf("accounts %+v", r)
	}
	var sub queryResult
	if err := json.Unmarshal(r.Records[0]["Contacts"], &sub); err != nil || !sub.Done || sub.TotalSize != 2 || len(sub.Records) != 2 ||
		text(sub.Records[0]["LastName"]) != "Abbott" || text(sub.Records[1]["LastName"]) != "Baker" {
		t.Fatalf("Contacts of %s: %s", text(r.Records[0]["Name"]), r.Records[0]["Contacts"])
	}
	var attrs map[string]string
	_ = json.Unmarshal(sub.Records[0]["attributes"], &attrs)
	if attrs["type"] != "Contact" || !strings.Contains(attrs["url"], "/sobjects/Contact/003") {
		t.Fatalf("child attributes %v", attrs)
	}
	if string(r.Records[1]["Contacts"]) != "null" {
		t.Fatalf("an account without contacts has Contacts null, got %s", r.Records[1]["Contacts"])
	}
	// Semi-join and anti-join.
	r = a.query("SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Contact WHERE LastName = 'Cole')")
	if len(r.Records) != 1 || text(r.Records[0]["Name"]) != "With contacts" {
		t.Fatalf("semi-join %+v", r.Records)
	}
	r = a.query("SELECT Name FROM Account WHERE Id NOT IN (SELECT AccountId FROM Contact) AND Name LIKE 'With%'")
	if len(r.Records) != 1 || text(r.Records[0]["Name"]) != "Without contacts" {
		t.Fatalf("anti-join %+v", r.Records)
	}
	// Nested parent-to-child (five levels are allowed since Summer '23).
	r = a.query("SELECT Name, (SELECT LastName, (SELECT Subject FROM Cases) FROM Contacts) FROM Account WHERE Id = '" + with + "'")
	if len(r.Records) != 1 || !strings.Contains(string(r.Records[0]["Contacts"]), `"Cases":null`) {
		t.Fatalf("nested subquery %s", r.Records[0]["Contacts"])
	}
	if msg := a.queryError("SELECT Name, (SELECT Id FROM Nope) FROM Account", "INVALID_TYPE"); !strings.Contains(msg, "Didn't understand relationship 'Nope' in FROM part of query call") {
		t.Fatal(msg)
	}
}

func TestDateFunctionsAndDateLiterals(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 8, 14, 15, 30, 0, 0, time.UTC)
	_, a := login(t, Options{Now: func() time.Time { return now }})
	acct, _ := a.create("Account", map[string]any{"Name": "Dated"})
	for _, d := range []string{"2025-08-01", "2025-06-30", "2024-12-31"} {
		a.create("Opportunity", map[string]any{"Name": "On " + d, "StageName": "Prospecting", "CloseDate": d, "AccountId": acct})
	}
	names := func(where string) string {
		var out []string
		for _, rec := range a.query("SELECT Name FROM Opportunity WHERE " + where + " ORDER BY CloseDate").Records {
			out = append(out, strings.TrimPrefix(text(rec["Name"]), "On "))
		}
		return strings.Join(out, ",")
	}
	for where, want := range map[string]string{
		"CALENDAR_YEAR(CloseDate) = 2025":                "2025-06-30,2025-08-01",
		"CALENDAR_QUARTER(CloseDate) = 3":                "2025-08-01",
		"DAY_IN_MONTH(CloseDate) = 31":                   "2024-12-31",
		"CloseDate = THIS_MONTH":                         "2025-08-01",
		"CloseDate = LAST_QUARTER":                       "2025-06-30",
		"CloseDate = LAST_N_MONTHS:2":                    "2025-06-30",
		"CloseDate = LAST_YEAR":                          "2024-12-31",
		"CloseDate < THIS_FISCAL_YEAR":                   "2024-12-31",
		"CloseDate = N_MONTHS_AGO:2":                     "2025-06-30",
		"DAY_ONLY(CreatedDate) = 2025-08-14":             "2024-12-31,2025-06-30,2025-08-01",
		"HOUR_IN_DAY(convertTimezone(CreatedDate)) = 15": "2024-12-31,2025-06-30,2025-08-01",
	} {
		if got := names(where); got != want {
			t.Errorf("%s: got %s, want %s", where, got, want)
		}
	}
	r := a.query("SELECT CALENDAR_YEAR(CloseDate), COUNT(Id) FROM Opportunity GROUP BY CALENDAR_YEAR(CloseDate)")
	if len(r.Records) != 2 || num(r.Records[0]["expr0"]) != 2024 || num(r.Records[1]["expr1"]) != 2 {
		t.Fatalf("GROUP BY CALENDAR_YEAR: %+v", r.Records)
	}
	if msg := a.queryError("SELECT Id FROM Opportunity WHERE CALENDAR_YEAR(Name) = 2025", "INVALID_FIELD"); !strings.Contains(msg, "needs a date or dateTime field") {
		t.Fatal(msg)
	}
}

func TestToLabelFormatScopeSecurityEnforcedAndTypeOf(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	if err := org.AddField("Account", FieldDef{Name: "Tier__c", Type: "picklist", Picklist: []string{"T1", "T2"}, PicklistLabels: map[string]string{"T1": "Gold", "T2": "Silver"},
		Nillable: true, Createable: true, Updateable: true, Custom: true, Length: 255}); err != nil {
		t.Fatal(err)
	}
	acct, _ := a.create("Account", map[string]any{"Name": "Labelled", "Tier__c": "T1", "AnnualRevenue": 1234567})
	r := a.query("SELECT Tier__c, toLabel(Tier__c) tierLabel, FORMAT(AnnualRevenue) revenue FROM Account WHERE Id = '" + acct + "' WITH SECURITY_ENFORCED")
	rec := r.Records[0]
	if text(rec["Tier__c"]) != "T1" || text(rec["tierLabel"]) != "Gold" || text(rec["revenue"]) != "$1,234,567.00" {
		t.Fatalf("toLabel/FORMAT: %v", rec)
	}
	if msg := a.queryError("SELECT Id, FORMAT(CreatedDate), CreatedDate FROM Account", "MALFORMED_QUERY"); !strings.Contains(msg, "duplicate field selected: CreatedDate") {
		t.Fatalf("FORMAT of a field selected too needs an alias: %s", msg)
	}
	if n := a.query("SELECT COUNT() FROM Account USING SCOPE mine").TotalSize; n != org.Count("Account") {
		t.Fatalf("USING SCOPE mine: %d (the integration user owns every account)", n)
	}
	if msg := a.queryError("SELECT Id FROM Account USING SCOPE nobody", "MALFORMED_QUERY"); !strings.Contains(msg, "Invalid scope") {
		t.Fatal(msg)
	}
	opp, _ := a.create("Opportunity", map[string]any{"Name": "Big deal", "StageName": "Prospecting", "CloseDate": "2025-01-01", "Amount": 5})
	a.create("Task", map[string]any{"Subject": "On the account", "WhatId": acct})
	a.create("Task", map[string]any{"Subject": "On the deal", "WhatId": opp})
	r = a.query("SELECT Subject, TYPEOF What WHEN Account THEN Name, AnnualRevenue WHEN Opportunity THEN Amount ELSE Name END FROM Task ORDER BY Subject")
	if len(r.Records) != 2 || !strings.Contains(string(r.Records[1]["What"]), `"type":"Opportunity"`) || !strings.Contains(string(r.Records[1]["What"]), `"Amount":5`) ||
		!strings.Contains(string(r.Records[0]["What"]), `"AnnualRevenue":1234567`) || strings.Contains(string(r.Records[0]["What"]), `"Amount"`) {
		t.Fatalf("TYPEOF: %s | %s", r.Records[0]["What"], r.Records[1]["What"])
	}
	// A polymorphic path without TYPEOF reads the field each parent has.
	r = a.query("SELECT What.Name FROM Task ORDER BY Subject")
	if !strings.Contains(string(r.Records[1]["What"]), `"Name":"Big deal"`) || !strings.Contains(string(r.Records[0]["What"]), `"Name":"Labelled"`) {
		t.Fatalf("What.Name: %s | %s", r.Records[0]["What"], r.Records[1]["What"])
	}
}

func TestPicklistsSortInTheirDefinedOrderAndIncludesIsForMultiSelect(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	for _, stage := range []string{"Closed Won", "Prospecting", "Negotiation/Review", "Qualification"} {
		a.create("Opportunity", map[string]any{"Name": stage, "StageName": stage, "CloseDate": "2025-01-01"})
	}
	var got []string
	for _, rec := range a.query("SELECT StageName FROM Opportunity ORDER BY StageName").Records {
		got = append(got, text(rec["StageName"]))
	}
	if strings.Join(got, ",") != "Prospecting,Qualification,Negotiation/Review,Closed Won" {
		t.Fatalf("ORDER BY StageName follows the sales process, not the alphabet: %v", got)
	}
	if msg := a.queryError("SELECT Id FROM Opportunity WHERE StageName INCLUDES ('Prospecting')", "INVALID_FIELD"); !strings.Contains(msg, "includes or excludes operator only valid on multipicklist field") {
		t.Fatal(msg)
	}
	id, _ := a.create("Account", map[string]any{"Name": "Global", "Regions__c": "EMEA;AMER;EMEA"})
	if rec := a.query("SELECT Regions__c FROM Account WHERE Id = '" + id + "'").Records[0]; text(rec["Regions__c"]) != "AMER;EMEA" {
		t.Fatalf("a multi-select value is stored once per value, in the picklist's order: %s", rec["Regions__c"])
	}
	count := func(where string) int { return a.query("SELECT COUNT() FROM Account WHERE " + where).TotalSize }
	for where, want := range map[string]int{
		"Regions__c INCLUDES ('emea')":             1,
		"Regions__c INCLUDES ('AMER;EMEA')":        1, // both selected
		"Regions__c INCLUDES ('AMER;APAC')":        0,
		"Regions__c INCLUDES ('APAC', 'AMER')":     1, // either
		"Regions__c EXCLUDES ('EMEA')":             0,
		"Regions__c = 'EMEA;AMER'":                 1, // exactly these, in any order
		"Regions__c = 'EMEA'":                      0,
		"Regions__c != 'EMEA' AND Name = 'Global'": 1,
	} {
		if got := count(where); got != want {
			t.Errorf("%s: %d, want %d", where, got, want)
		}
	}
	if msg := a.queryError("SELECT Id FROM Account WHERE Regions__c LIKE 'EM%'", "INVALID_FIELD"); !strings.Contains(msg, "invalid operator on multipicklist field") {
		t.Fatal(msg)
	}
	if msg := a.queryError("SELECT Id FROM Account ORDER BY Regions__c", "INVALID_FIELD"); !strings.Contains(msg, "can not be sorted") {
		t.Fatal(msg)
	}
	if msg := a.queryError("SELECT Id FROM Account WHERE Description = 'x'", "INVALID_FIELD"); !strings.Contains(msg, "field 'Description' can not be filtered in a query call") {
		t.Fatal(msg)
	}
	if msg := a.queryError("SELECT Id FROM Account WHERE Id = 'abc'", "INVALID_QUERY_FILTER_OPERATOR"); !strings.Contains(msg, "invalid ID field: abc") {
		t.Fatal(msg)
	}
}

// create makes a record through the REST API and returns its id.
func (a *api) create(object string, fields map[string]any) (string, bool) {
	a.t.Helper()
	res, raw := a.do("POST", "/services/data/v62.0/sobjects/"+object, fields)
	if res.StatusCode != 201 {
		a.t.Fatalf("create %s: %d %s", object, res.StatusCode, raw)
	}
	return decodeJSON[map[string]any](a.t, raw)["id"].(string), true
}

// IN matches as = does, the list looked up: an id by its 15- or 18-character form, a string
// case-insensitively; NOT IN keeps records whose field is null.
func TestInMatchesEachValueAsEqualsDoes(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1})
	var ids []string
	for id := range org.Records("Account") {
		ids = append(ids, id)
	}
	if len(ids) < 2 {
		t.Fatalf("%d accounts", len(ids))
	}
	name := func(id string) string { n, _ := org.Record("Account", id)["Name"].(string); return n }
	r := a.query("SELECT Id FROM Account WHERE Id IN ('" + ids[0][:15] + "', '" + ids[1] + "')")
	if r.TotalSize != 2 {
		t.Fatalf("Id IN (15-char, 18-char): %d records, want 2", r.TotalSize)
	}
	r = a.query("SELECT Id FROM Account WHERE Name IN ('" + strings.ToUpper(name(ids[0])) + "')")
	for _, rec := range r.Records {
		if !strings.EqualFold(name(text(rec["Id"])), name(ids[0])) {
			t.Fatalf("Name IN (upper-cased): %v", rec)
		}
	}
	if r.TotalSize == 0 {
		t.Fatal("Name IN (upper-cased) matched nothing")
	}
	all := a.query("SELECT Id FROM Account").TotalSize
	withParent := a.query("SELECT Id FROM Account WHERE ParentId != null").TotalSize
	if got := a.query("SELECT Id FROM Account WHERE ParentId NOT IN ('" + ids[0] + "')").TotalSize; got < all-withParent {
		t.Fatalf("ParentId NOT IN: %d records, want at least the %d without a parent", got, all-withParent)
	}
}
