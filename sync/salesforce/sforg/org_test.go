package sforg

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

type api struct {
	t     *testing.T
	base  string
	token string
	c     *http.Client
}

func login(t *testing.T, opts Options) (*Org, *api) {
	t.Helper()
	opts.AllowPasswordFlow = true
	org, srv := newTestServer(t, opts)
	// Sign in at the generic login host (login.salesforce.com's role); the data is at the instance.
	a := &api{t: t, base: srv.URL + "/login", c: srv.Client()}
	res, body := a.form("/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {DemoClientID},
		"client_secret": {DemoClientSecret}, "username": {DemoUsername}, "password": {DemoPassword}})
	if res.StatusCode != 200 {
		t.Fatalf("password login: %d %s", res.StatusCode, body)
	}
	var tok map[string]string
	_ = json.Unmarshal(body, &tok)
	a.token, a.base = tok["access_token"], tok["instance_url"]
	if a.base != srv.URL {
		t.Fatalf("instance_url %q, want the org's root %q", a.base, srv.URL)
	}
	return org, a
}

func (a *api) form(path string, v url.Values) (*http.Response, []byte) {
	a.t.Helper()
	res, err := a.c.PostForm(a.base+path, v)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, b
}

func (a *api) do(method, path string, body any, hdr ...string) (*http.Response, []byte) {
	a.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, _ := json.Marshal(b)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, a.base+path, rd)
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return res, raw
}

func decodeJSON[T any](t *testing.T, raw []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

type sfErr = []struct {
	ErrorCode string   `json:"errorCode"`
	Message   string   `json:"message"`
	Fields    []string `json:"fields"`
}

func wantError(t *testing.T, res *http.Response, raw []byte, status int, code string) sfErr {
	t.Helper()
	if res.StatusCode != status {
		t.Fatalf("status %d, want %d: %s", res.StatusCode, status, raw)
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json;charset=UTF-8" {
		t.Fatalf("error Content-Type %q", ct)
	}
	errs := decodeJSON[sfErr](t, raw)
	if len(errs) != 1 || errs[0].ErrorCode != code {
		t.Fatalf("errors %s, want %s", raw, code)
	}
	return errs
}

func TestIDsCarryValidChecksums(t *testing.T) {
	id := newID("001", 12345)
	if len(id) != 18 || id[:3] != "001" || normalizeID(id) != id || normalizeID(id[:15]) != id {
		t.Fatalf("id %s", id)
	}
	// Known Salesforce pair: 001D000000IRFma → 001D000000IRFmaIAH.
	if got := normalizeID("001D000000IRFma"); got != "001D000000IRFmaIAH" {
		t.Fatalf("checksum of a real id = %s", got)
	}
	if normalizeID("001D000000IRFmaXXX") != "" || normalizeID("short") != "" {
		t.Fatal("bad ids are rejected")
	}
}

func TestDiscoveryAndLimitsHeaders(t *testing.T) {
	t.Parallel()
	_, a := login(t, Options{})
	res, raw := a.do("GET", "/services/data/", nil)
	versions := decodeJSON[[]map[string]string](t, raw)
	if res.StatusCode != 200 || len(versions) == 0 || res.Header.Get("Sforce-Limit-Info") != "" {
		t.Fatalf("versions: %d %s (no limit header expected)", res.StatusCode, raw)
	}
	res, raw = a.do("GET", "/services/data/v62.0/", nil)
	resources := decodeJSON[map[string]string](t, raw)
	if resources["sobjects"] != "/services/data/v62.0/sobjects" || !strings.Contains(resources["identity"], "/id/00D") {
		t.Fatalf("resources %s", raw)
	}
	if !strings.HasPrefix(res.Header.Get("Sforce-Limit-Info"), "api-usage=") {
		t.Fatalf("limit header %q", res.Header.Get("Sforce-Limit-Info"))
	}
	res, raw = a.do("GET", "/services/data/v62.0/limits", nil)
	lim := decodeJSON[map[string]map[string]int](t, raw)
	if lim["DailyApiRequests"]["Max"] != 100000 || lim["DailyApiRequests"]["Remaining"] >= 100000 {
		t.Fatalf("limits %s", raw)
	}
	res, raw = a.do("GET", "/services/data/latest/sobjects", nil)
	if res.StatusCode != 200 || !strings.Contains(string(raw), `"name":"Invoice__c"`) {
		t.Fatalf("latest alias / describe global: %d", res.StatusCode)
	}
	a.token = "bogus"
	res, raw = a.do("GET", "/services/data/v62.0/limits", nil)
	errs := wantError(t, res, raw, 401, "INVALID_SESSION_ID")
	if errs[0].Message != "Session expired or invalid" {
		t.Fatalf("message %q", errs[0].Message)
	}
	res, raw = a.do("GET", "/services/data/v9.0/sobjects", nil)
	if res.StatusCode != 401 {
		t.Fatalf("bad token first: %d", res.StatusCode)
	}
}

func TestRecordCRUDUpsertAndValidationErrors(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	res, raw := a.do("POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "Acme", "NumberOfEmployees": 10, "External_Id__c": "A-1"})
	created := decodeJSON[map[string]any](t, raw)
	id, _ := created["id"].(string)
	if res.StatusCode != 201 || len(id) != 18 || id[:3] != "001" || created["success"] != true {
		t.Fatalf("create %d %s", res.StatusCode, raw)
	}
	res, raw = a.do("GET", "/services/data/v62.0/sobjects/Account/"+id+"?fields=Name,SystemModstamp", nil)
	rec := decodeJSON[map[string]any](t, raw)
	stamp, _ := rec["SystemModstamp"].(string)
	if res.StatusCode != 200 || rec["Name"] != "Acme" || len(rec) != 3 {
		t.Fatalf("get %s", raw)
	}
	if _, err := time.Parse("2006-01-02T15:04:05.000-0700", stamp); err != nil {
		t.Fatalf("datetime format %q", stamp)
	}
	if res, raw := a.do("PATCH", "/services/data/v62.0/sobjects/Account/"+id, map[string]any{"Name": "Acme 2"}); res.StatusCode != 204 || len(raw) != 0 {
		t.Fatalf("update %d %s", res.StatusCode, raw)
	}
	// Upsert by external id: update (200, created false on v46+), create (201), 204 on old versions.
	res, raw = a.do("PATCH", "/services/data/v62.0/sobjects/Account/External_Id__c/A-1", map[string]any{"Phone": "1"})
	if up := decodeJSON[map[string]any](t, raw); res.StatusCode != 200 || up["created"] != false || up["id"] != id {
		t.Fatalf("upsert existing %d %s", res.StatusCode, raw)
	}
	res, raw = a.do("PATCH", "/services/data/v62.0/sobjects/Account/External_Id__c/A-2", map[string]any{"Name": "Beta"})
	if up := decodeJSON[map[string]any](t, raw); res.StatusCode != 201 || up["created"] != true {
		t.Fatalf("upsert new %d %s", res.StatusCode, raw)
	}
	if res, _ := a.do("PATCH", "/services/data/v45.0/sobjects/Account/External_Id__c/A-2", map[string]any{"Phone": "2"}); res.StatusCode != 204 {
		t.Fatalf("upsert on v45 answers 204, got %d", res.StatusCode)
	}

	tests := []struct {
		name, method, path string
		body               any
		status             int
		code               string
	}{
		{"required", "POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Phone": "1"}, 400, "REQUIRED_FIELD_MISSING"},
		{"unknown field", "POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "x", "Nope__c": 1}, 400, "INVALID_FIELD"},
		{"read-only field", "POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "x", "CreatedDate": "2024-01-01T00:00:00Z"}, 400, "INVALID_FIELD_FOR_INSERT_UPDATE"},
		{"too long", "POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": strings.Repeat("x", 256)}, 400, "STRING_TOO_LONG"},
		{"bad picklist", "POST", "/services/data/v62.0/sobjects/Invoice__c", map[string]any{"Status__c": "Bogus"}, 400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"},
		{"validation rule", "POST", "/services/data/v62.0/sobjects/Invoice__c", map[string]any{"Amount__c": -5}, 400, "FIELD_CUSTOM_VALIDATION_EXCEPTION"},
		{"duplicate external id", "POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "x", "External_Id__c": "a-1"}, 400, "DUPLICATE_VALUE"},
		{"bad number", "POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "x", "NumberOfEmployees": "lots"}, 400, "JSON_PARSER_ERROR"},
		{"malformed json", "POST", "/services/data/v62.0/sobjects/Account", `{"Name":`, 400, "JSON_PARSER_ERROR"},
		{"bad lookup", "POST", "/services/data/v62.0/sobjects/Contact", map[string]any{"LastName": "x", "AccountId": "001000000000000"}, 400, "INVALID_CROSS_REFERENCE_KEY"},
		{"malformed lookup", "POST", "/services/data/v62.0/sobjects/Contact", map[string]any{"LastName": "x", "AccountId": "nope"}, 400, "MALFORMED_ID"},
		{"malformed id", "GET", "/services/data/v62.0/sobjects/Account/xyz", nil, 400, "MALFORMED_ID"},
		{"unknown object", "GET", "/services/data/v62.0/sobjects/Nope/describe", nil, 404, "NOT_FOUND"},
		{"bad fields param", "GET", "/services/data/v62.0/sobjects/Account/" + id + "?fields=Nope", nil, 400, "INVALID_FIELD"},
	}
	for _, tt := range tests {
		res, raw := a.do(tt.method, tt.path, tt.body)
		if res.StatusCode != tt.status {
			t.Errorf("%s: %d %s", tt.name, res.StatusCode, raw)
			continue
		}
		var errs sfErr
		if err := json.Unmarshal(raw, &errs); err != nil || len(errs) != 1 || errs[0].ErrorCode != tt.code {
			t.Errorf("%s: %s, want %s", tt.name, raw, tt.code)
		}
	}
	// Parent by external id on insert.
	res, raw = a.do("POST", "/services/data/v62.0/sobjects/Invoice__c", map[string]any{"Account__r": map[string]string{"External_Id__c": "A-1"}, "Amount__c": 12.5})
	inv := decodeJSON[map[string]any](t, raw)
	if res.StatusCode != 201 || org.Record("Invoice__c", inv["id"].(string))["Account__c"] != id {
		t.Fatalf("insert with parent external id: %d %s", res.StatusCode, raw)
	}
	// Delete, then delete again: ENTITY_IS_DELETED.
	if res, _ := a.do("DELETE", "/services/data/v62.0/sobjects/Account/"+id, nil); res.StatusCode != 204 {
		t.Fatal("delete")
	}
	res, raw = a.do("DELETE", "/services/data/v62.0/sobjects/Account/"+id, nil)
	wantError(t, res, raw, 404, "ENTITY_IS_DELETED")
}

func TestQueryPagingRelationshipsAndQueryAll(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	if err := org.Generate("Account", 2500, 1); err != nil {
		t.Fatal(err)
	}
	cid, err := org.CreateAsUser("Contact", map[string]any{"LastName": "Kid"})
	if err != nil {
		t.Fatal(err)
	}
	q := url.QueryEscape("SELECT Id, Name, Owner.Name FROM Account ORDER BY Name")
	res, raw := a.do("GET", "/services/data/v62.0/query?q="+q, nil, "Sforce-Query-Options", "batchSize=1000")
	type page struct {
		TotalSize      int                          `json:"totalSize"`
		Done           bool                         `json:"done"`
		NextRecordsURL *string                      `json:"nextRecordsUrl"`
		Records        []map[string]json.RawMessage `json:"records"`
	}
	p := decodeJSON[page](t, raw)
	if res.StatusCode != 200 || p.TotalSize != 2500 || p.Done || p.NextRecordsURL == nil || len(p.Records) != 1000 {
		t.Fatalf("first page: %d total=%d done=%v next=%v n=%d", res.StatusCode, p.TotalSize, p.Done, p.NextRecordsURL, len(p.Records))
	}
	if !strings.Contains(string(p.Records[0]["Owner"]), `"Name":"Org Admin"`) || !strings.Contains(string(p.Records[0]["attributes"]), `"type":"Account"`) {
		t.Fatalf("parent relationship %s", p.Records[0]["Owner"])
	}
	seen := len(p.Records)
	for !p.Done {
		_, raw = a.do("GET", *p.NextRecordsURL, nil)
		p = decodeJSON[page](t, raw)
		seen += len(p.Records)
	}
	if seen != 2500 || p.NextRecordsURL != nil {
		t.Fatalf("paged %d records; last page must have no nextRecordsUrl", seen)
	}
	res, raw = a.do("GET", "/services/data/v62.0/query/01gNOPE-2000", nil)
	wantError(t, res, raw, 400, "INVALID_QUERY_LOCATOR")

	_, raw = a.do("GET", "/services/data/v62.0/query?q="+url.QueryEscape("SELECT COUNT() FROM Account"), nil)
	if c := decodeJSON[page](t, raw); c.TotalSize != 2500 || len(c.Records) != 0 {
		t.Fatalf("count %s", raw)
	}
	_, raw = a.do("GET", "/services/data/v62.0/query?q="+url.QueryEscape("SELECT Id, Account.Name FROM Contact WHERE Id = '"+cid+"'"), nil)
	if !strings.Contains(string(raw), `"Account":null`) {
		t.Fatalf("an empty parent is null: %s", raw)
	}
	if err := org.DeleteAsUser("Contact", cid); err != nil {
		t.Fatal(err)
	}
	q = url.QueryEscape("SELECT Id, IsDeleted FROM Contact WHERE Id = '" + cid + "'")
	_, raw = a.do("GET", "/services/data/v62.0/query?q="+q, nil)
	if decodeJSON[page](t, raw).TotalSize != 0 {
		t.Fatal("query hides deleted records")
	}
	_, raw = a.do("GET", "/services/data/v62.0/queryAll?q="+q, nil)
	if qa := decodeJSON[page](t, raw); qa.TotalSize != 1 || string(qa.Records[0]["IsDeleted"]) != "true" {
		t.Fatalf("queryAll sees deleted records: %s", raw)
	}
	res, raw = a.do("GET", "/services/data/v62.0/query?q="+url.QueryEscape("SELECT Nope FROM Account"), nil)
	errs := wantError(t, res, raw, 400, "INVALID_FIELD")
	if !strings.Contains(errs[0].Message, "ERROR at Row:1:Column:8") {
		t.Fatalf("caret message %q", errs[0].Message)
	}
	res, raw = a.do("GET", "/services/data/v62.0/query?q="+url.QueryEscape("SELECT FROM"), nil)
	wantError(t, res, raw, 400, "MALFORMED_QUERY")
}

func TestCollectionsWithPartialFailuresAndAllOrNone(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	body := map[string]any{"allOrNone": false, "records": []map[string]any{
		{"attributes": map[string]string{"type": "Account"}, "Name": "One"},
		{"attributes": map[string]string{"type": "Account"}},
		{"attributes": map[string]string{"type": "Contact"}, "LastName": "Two"},
	}}
	res, raw := a.do("POST", "/services/data/v62.0/composite/sobjects", body)
	rs := decodeJSON[[]saveResult](t, raw)
	if res.StatusCode != 200 || len(rs) != 3 || !rs[0].Success || rs[1].Success || rs[1].ID != "" || rs[1].Errors[0].StatusCode != "REQUIRED_FIELD_MISSING" || !rs[2].Success {
		t.Fatalf("partial create %d %s", res.StatusCode, raw)
	}
	before := org.Count("Account")
	body["allOrNone"] = true
	_, raw = a.do("POST", "/services/data/v62.0/composite/sobjects", body)
	rs = decodeJSON[[]saveResult](t, raw)
	if rs[0].Success || rs[0].Errors[0].StatusCode != "ALL_OR_NONE_OPERATION_ROLLED_BACK" || org.Count("Account") != before {
		t.Fatalf("allOrNone must roll everything back: %s", raw)
	}
	// Upsert collection by external id reports created per record.
	up := map[string]any{"records": []map[string]any{
		{"attributes": map[string]string{"type": "Account"}, "Name": "U1", "External_Id__c": "U-1"},
		{"attributes": map[string]string{"type": "Account"}, "Name": "U2", "External_Id__c": "U-2"},
	}}
	_, raw = a.do("PATCH", "/services/data/v62.0/composite/sobjects/Account/External_Id__c", up)
	rs = decodeJSON[[]saveResult](t, raw)
	if !rs[0].Success || rs[0].Created == nil || !*rs[0].Created {
		t.Fatalf("upsert create %s", raw)
	}
	_, raw = a.do("PATCH", "/services/data/v62.0/composite/sobjects/Account/External_Id__c", up)
	rs = decodeJSON[[]saveResult](t, raw)
	if !rs[1].Success || *rs[1].Created {
		t.Fatalf("upsert update %s", raw)
	}
	upd := map[string]any{"records": []map[string]any{{"attributes": map[string]string{"type": "Account"}, "id": rs[0].ID, "Phone": "9"}}}
	if _, raw := a.do("PATCH", "/services/data/v62.0/composite/sobjects", upd); !strings.Contains(string(raw), `"success":true`) {
		t.Fatalf("collection update %s", raw)
	}
	_, raw = a.do("DELETE", "/services/data/v62.0/composite/sobjects?ids="+rs[0].ID+",001000000000000AAA", nil)
	rs = decodeJSON[[]saveResult](t, raw)
	if !rs[0].Success || rs[1].Success {
		t.Fatalf("collection delete %s", raw)
	}
	many := make([]map[string]any, 201)
	res, raw = a.do("POST", "/services/data/v62.0/composite/sobjects", map[string]any{"records": many})
	wantError(t, res, raw, 400, "EXCEEDED_ID_LIMIT")
}

func TestBulkQueryAndIngestRoundTrip(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{BulkPageSize: 400})
	if err := org.Generate("Account", 1000, 2); err != nil {
		t.Fatal(err)
	}
	res, raw := a.do("POST", "/services/data/v62.0/jobs/query", map[string]any{"operation": "query", "query": "SELECT Id, Name, Owner.Name FROM Account"})
	job := decodeJSON[map[string]any](t, raw)
	if res.StatusCode != 200 || job["state"] != "UploadComplete" || job["apiVersion"] != 62.0 {
		t.Fatalf("create job %s", raw)
	}
	id := job["id"].(string)
	_, raw = a.do("GET", "/services/data/v62.0/jobs/query/"+id, nil)
	if st := decodeJSON[map[string]any](t, raw); st["state"] != "JobComplete" || st["numberRecordsProcessed"] != 1000.0 {
		t.Fatalf("job state %s", raw)
	}
	locator, total, pages := "", 0, 0
	for {
		path := "/services/data/v62.0/jobs/query/" + id + "/results"
		if locator != "" {
			path += "?locator=" + locator
		}
		res, raw := a.do("GET", path, nil)
		recs, err := csv.NewReader(bytes.NewReader(raw)).ReadAll()
		if err != nil || res.Header.Get("Content-Type") != "text/csv" || strings.Join(recs[0], ",") != "Id,Name,Owner.Name" {
			t.Fatalf("page %d: %v %q", pages, err, raw[:min(80, len(raw))])
		}
		if !bytes.HasPrefix(raw, []byte(`"Id","Name","Owner.Name"`)) {
			t.Fatal("every value and header is quoted")
		}
		n := len(recs) - 1
		if res.Header.Get("Sforce-NumberOfRecords") != fmt.Sprint(n) {
			t.Fatalf("Sforce-NumberOfRecords %q for %d rows", res.Header.Get("Sforce-NumberOfRecords"), n)
		}
		total += n
		pages++
		locator = res.Header.Get("Sforce-Locator")
		if locator == "null" {
			break
		}
		if locator == "" {
			t.Fatal("a missing Sforce-Locator loops jsforce forever")
		}
	}
	if total != 1000 || pages != 3 {
		t.Fatalf("read %d records in %d pages", total, pages)
	}
	res, raw = a.do("POST", "/services/data/v62.0/jobs/query", map[string]any{"operation": "query", "query": "SELECT COUNT() FROM Account"})
	if res.StatusCode != 400 {
		t.Fatalf("bulk rejects COUNT(): %d %s", res.StatusCode, raw)
	}

	// Ingest: two good rows, one bad; #N/A clears, parent by external id.
	if _, err := org.CreateAsUser("Account", map[string]any{"Name": "Parent", "External_Id__c": "P-1"}); err != nil {
		t.Fatal(err)
	}
	_, raw = a.do("POST", "/services/data/v62.0/jobs/ingest", map[string]any{"object": "Invoice__c", "operation": "upsert", "externalIdFieldName": "External_Id__c", "lineEnding": "LF"})
	ij := decodeJSON[map[string]any](t, raw)
	iid := ij["id"].(string)
	if ij["state"] != "Open" || !strings.HasPrefix(ij["contentUrl"].(string), "services/data/v62.0/jobs/ingest/") {
		t.Fatalf("ingest job %s", raw)
	}
	data := "External_Id__c,Amount__c,Account__r.External_Id__c,Due_Date__c\nI-1,10.5,P-1,2024-06-01\nI-2,-1,P-1,\nI-3,#N/A,,\n"
	if res, _ := a.do("PUT", "/services/data/v62.0/jobs/ingest/"+iid+"/batches", data, "Content-Type", "text/csv"); res.StatusCode != 201 {
		t.Fatalf("upload %d", res.StatusCode)
	}
	_, raw = a.do("PATCH", "/services/data/v62.0/jobs/ingest/"+iid, map[string]string{"state": "UploadComplete"})
	_, raw = a.do("GET", "/services/data/v62.0/jobs/ingest/"+iid, nil)
	if st := decodeJSON[map[string]any](t, raw); st["state"] != "JobComplete" || st["numberRecordsProcessed"] != 3.0 || st["numberRecordsFailed"] != 1.0 {
		t.Fatalf("ingest state %s", raw)
	}
	_, raw = a.do("GET", "/services/data/v62.0/jobs/ingest/"+iid+"/successfulResults", nil)
	ok, _ := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if len(ok) != 3 || ok[0][0] != "sf__Id" || ok[0][1] != "sf__Created" || ok[1][1] != "true" {
		t.Fatalf("successful results %q", raw)
	}
	_, raw = a.do("GET", "/services/data/v62.0/jobs/ingest/"+iid+"/failedResults", nil)
	bad, _ := csv.NewReader(bytes.NewReader(raw)).ReadAll()
	if len(bad) != 2 || bad[0][1] != "sf__Error" || !strings.HasPrefix(bad[1][1], "FIELD_CUSTOM_VALIDATION_EXCEPTION:Amount must not be negative.:Amount__c") {
		t.Fatalf("failed results %q", raw)
	}
}

func TestFaultsAndDailyLimit(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{DailyAPILimit: 50})
	if err := org.InjectFault(Fault{Path: "/limits$", Status: 503, Code: "SERVER_UNAVAILABLE", Count: 2}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ {
		res, raw := a.do("GET", "/services/data/v62.0/limits", nil)
		wantError(t, res, raw, 503, "SERVER_UNAVAILABLE")
	}
	if res, _ := a.do("GET", "/services/data/v62.0/limits", nil); res.StatusCode != 200 {
		t.Fatal("a fault with Count 2 applies twice")
	}
	_ = org.InjectFault(Fault{Path: "/sobjects/Account$", Method: "POST", Status: 400, Code: "UNABLE_TO_LOCK_ROW"})
	res, raw := a.do("POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "x"})
	wantError(t, res, raw, 400, "UNABLE_TO_LOCK_ROW")
	// Go's transport retries an idempotent request once on a reused connection, so drop every time.
	_ = org.InjectFault(Fault{Path: "/limits$", Drop: true, Count: -1})
	req, _ := http.NewRequest("GET", a.base+"/services/data/v62.0/limits", nil)
	req.Header.Set("Authorization", "Bearer "+a.token)
	if _, err := a.c.Do(req); err == nil {
		t.Fatal("a dropped connection is a network error")
	}
	org.ClearFaults()
	org.SetAPIUsage(50)
	res, raw = a.do("GET", "/services/data/v62.0/limits", nil)
	wantError(t, res, raw, 403, "REQUEST_LIMIT_EXCEEDED")
	if res.Header.Get("Sforce-Limit-Info") != "api-usage=50/50" {
		t.Fatalf("limit header %q", res.Header.Get("Sforce-Limit-Info"))
	}
}

func TestUpdatedDeletedAndDescribe(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{})
	id, _ := org.CreateAsUser("Lead", map[string]any{"LastName": "L", "Company": "C"})
	start := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04:05Z")
	end := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04:05+00:00")
	_, raw := a.do("GET", "/services/data/v62.0/sobjects/Lead/updated?start="+url.QueryEscape(start)+"&end="+url.QueryEscape(end), nil)
	if !strings.Contains(string(raw), id) || !strings.Contains(string(raw), "latestDateCovered") {
		t.Fatalf("updated %s", raw)
	}
	_ = org.DeleteAsUser("Lead", id)
	_, raw = a.do("GET", "/services/data/v62.0/sobjects/Lead/deleted/?start="+url.QueryEscape(start)+"&end="+url.QueryEscape(end), nil)
	if !strings.Contains(string(raw), `"id":"`+id+`"`) || !strings.Contains(string(raw), "earliestDateAvailable") {
		t.Fatalf("deleted %s", raw)
	}
	res, raw := a.do("GET", "/services/data/v62.0/sobjects/Lead/updated?start="+url.QueryEscape(end)+"&end="+url.QueryEscape(start), nil)
	wantError(t, res, raw, 400, "INVALID_REPLICATION_DATE")

	res, raw = a.do("GET", "/services/data/v62.0/sobjects/Invoice__c/describe", nil)
	d := decodeJSON[map[string]any](t, raw)
	fields := d["fields"].([]any)
	var ext map[string]any
	for _, f := range fields {
		if m := f.(map[string]any); m["name"] == "External_Id__c" {
			ext = m
		}
	}
	if ext == nil || ext["externalId"] != true || ext["unique"] != true || ext["soapType"] != "xsd:string" || ext["length"] != 40.0 {
		t.Fatalf("external id describe %v", ext)
	}
	for _, key := range []string{"aggregatable", "byteLength", "calculated", "picklistValues", "referenceTo", "relationshipName", "defaultedOnCreate"} {
		if _, ok := ext[key]; !ok {
			t.Errorf("field key %s missing", key)
		}
	}
	lm := res.Header.Get("Last-Modified")
	if res, _ := a.do("GET", "/services/data/v62.0/sobjects/Invoice__c/describe", nil, "If-Modified-Since", lm); res.StatusCode != 304 {
		t.Fatalf("If-Modified-Since: %d", res.StatusCode)
	}
	_ = org.AddField("Invoice__c", FieldDef{Name: "PO__c", Type: "string", Length: 20, Nillable: true, Createable: true, Updateable: true})
	if res, _ := a.do("GET", "/services/data/v62.0/sobjects/Invoice__c/describe", nil, "If-Modified-Since", lm); res.StatusCode != 200 {
		t.Fatal("a metadata change must invalidate the describe cache")
	}
	if !strings.Contains(string(raw), `"childRelationships"`) {
		t.Fatal("describe has childRelationships")
	}
}

func TestReleaseNames(t *testing.T) {
	for v, want := range map[int]string{31: "Summer '14", 32: "Winter '15", 33: "Spring '15", 62: "Winter '25", 64: "Summer '25"} {
		if got := releaseName(v); got != want {
			t.Errorf("v%d = %s, want %s", v, got, want)
		}
	}
}

// newTestServer serves an org for this package's own tests (sforgtest serves everyone else's; it
// imports this package).
func newTestServer(t *testing.T, opts Options) (*Org, *httptest.Server) {
	t.Helper()
	org := New(opts)
	srv := httptest.NewServer(org.Handler())
	t.Cleanup(srv.Close)
	return org, srv
}
