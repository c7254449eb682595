package sforg

import (
	"strings"
	"sync"
	"testing"
)

type compositeAnswer struct {
	CompositeResponse []struct {
		Body           any               `json:"body"`
		HTTPHeaders    map[string]string `json:"httpHeaders"`
		HTTPStatusCode int               `json:"httpStatusCode"`
		ReferenceID    string            `json:"referenceId"`
	} `json:"compositeResponse"`
}

// /composite runs ordered subrequests whose later members use earlier results (@{ref.id}), counts
// as one API call, and with allOrNone rolls every subrequest back when one fails.
func TestCompositeSubrequestsWithReferencesAndAllOrNone(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1})
	var mu sync.Mutex
	var events []string
	org.OnChange(func(c Change) {
		mu.Lock()
		events = append(events, c.Type+" "+c.Object)
		mu.Unlock()
	})
	takeEvents := func() string {
		mu.Lock()
		defer mu.Unlock()
		out := strings.Join(events, ", ")
		events = nil
		return out
	}
	calls := org.APICalls()["composite"]
	body := map[string]any{"allOrNone": true, "compositeRequest": []map[string]any{
		{"method": "PATCH", "url": "/services/data/v62.0/sobjects/Account/External_Id__c/COMP-1", "referenceId": "acct", "body": map[string]any{"Name": "Composite Inc"}},
		{"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "c1", "body": map[string]any{"LastName": "Ref", "AccountId": "@{acct.id}"}},
		{"method": "GET", "url": "/services/data/v62.0/sobjects/Contact/@{c1.id}?fields=AccountId", "referenceId": "read"},
	}}
	res, raw := a.do("POST", "/services/data/v62.0/composite", body)
	ans := decodeJSON[compositeAnswer](t, raw)
	if res.StatusCode != 200 || len(ans.CompositeResponse) != 3 {
		t.Fatalf("composite: %d %s", res.StatusCode, raw)
	}
	acct, _ := ans.CompositeResponse[0].Body.(map[string]any)
	read, _ := ans.CompositeResponse[2].Body.(map[string]any)
	if ans.CompositeResponse[0].HTTPStatusCode != 201 || ans.CompositeResponse[1].HTTPStatusCode != 201 || read["AccountId"] != acct["id"] {
		t.Fatalf("references not followed: %s", raw)
	}
	if !strings.Contains(ans.CompositeResponse[1].HTTPHeaders["Location"], "/sobjects/Contact/") {
		t.Fatalf("Location header: %v", ans.CompositeResponse[1].HTTPHeaders)
	}
	if got := org.APICalls()["composite"] - calls; got != 1 {
		t.Fatalf("a composite request is one API call, counted %d", got)
	}
	if got := takeEvents(); got != "CREATE Account, CREATE Contact" {
		t.Fatalf("change events of a committed transaction: %q", got)
	}

	// allOrNone: the second subrequest fails (a required field is missing): nothing stays.
	accounts, contacts := org.Count("Account"), org.Count("Contact")
	body = map[string]any{"allOrNone": true, "compositeRequest": []map[string]any{
		{"method": "POST", "url": "/services/data/v62.0/sobjects/Account", "referenceId": "a2", "body": map[string]any{"Name": "Rolled back"}},
		{"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "bad", "body": map[string]any{"AccountId": "@{a2.id}"}},
		{"method": "POST", "url": "/services/data/v62.0/sobjects/Contact", "referenceId": "after", "body": map[string]any{"LastName": "Never"}},
	}}
	_, raw = a.do("POST", "/services/data/v62.0/composite", body)
	ans = decodeJSON[compositeAnswer](t, raw)
	if org.Count("Account") != accounts || org.Count("Contact") != contacts {
		t.Fatalf("allOrNone left records behind: %s", raw)
	}
	for _, r := range ans.CompositeResponse {
		if r.HTTPStatusCode != 400 {
			t.Fatalf("every subrequest of a failed transaction answers 400: %s", raw)
		}
	}
	if !strings.Contains(string(raw), "REQUIRED_FIELD_MISSING") || !strings.Contains(string(raw), "PROCESSING_HALTED") {
		t.Fatalf("the failure and the halted subrequests: %s", raw)
	}
	if got := takeEvents(); got != "" {
		t.Fatalf("a rolled-back transaction emitted change events: %q", got)
	}

	// Without allOrNone only what depends on the failure is halted.
	body["allOrNone"] = false
	_, raw = a.do("POST", "/services/data/v62.0/composite", body)
	ans = decodeJSON[compositeAnswer](t, raw)
	if st := []int{ans.CompositeResponse[0].HTTPStatusCode, ans.CompositeResponse[1].HTTPStatusCode, ans.CompositeResponse[2].HTTPStatusCode}; st[0] != 201 || st[1] != 400 || st[2] != 201 {
		t.Fatalf("independent subrequests: %v %s", st, raw)
	}

	// Bad requests get Salesforce's error shape.
	res, raw = a.do("POST", "/services/data/v62.0/composite", map[string]any{"compositeRequest": []map[string]any{}})
	wantError(t, res, raw, 400, "INVALID_INPUT")
}

// /composite/batch runs independent subrequests (URLs relative to /services/data); haltOnError
// stops at the first failure with 412 BATCH_PROCESSING_HALTED for the rest.
func TestCompositeBatch(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1})
	var id string
	for k := range org.Records("Account") {
		id = k
		break
	}
	body := map[string]any{"haltOnError": true, "batchRequests": []map[string]any{
		{"method": "GET", "url": "v62.0/sobjects/Account/" + id + "?fields=Name"},
		{"method": "PATCH", "url": "v62.0/sobjects/Account/" + id, "richInput": map[string]any{"Name": "Batched"}},
		{"method": "GET", "url": "v62.0/sobjects/Account/001000000000000AAA"},
		{"method": "GET", "url": "v62.0/limits"},
	}}
	res, raw := a.do("POST", "/services/data/v62.0/composite/batch", body)
	type answer struct {
		HasErrors bool `json:"hasErrors"`
		Results   []struct {
			StatusCode int `json:"statusCode"`
			Result     any `json:"result"`
		} `json:"results"`
	}
	ans := decodeJSON[answer](t, raw)
	if res.StatusCode != 200 || !ans.HasErrors || len(ans.Results) != 4 {
		t.Fatalf("batch: %d %s", res.StatusCode, raw)
	}
	if st := []int{ans.Results[0].StatusCode, ans.Results[1].StatusCode, ans.Results[2].StatusCode, ans.Results[3].StatusCode}; st[0] != 200 || st[1] != 204 || st[2] != 404 || st[3] != 412 {
		t.Fatalf("statuses %v: %s", st, raw)
	}
	if org.Record("Account", id)["Name"] != "Batched" {
		t.Fatal("the PATCH subrequest applied")
	}
}
