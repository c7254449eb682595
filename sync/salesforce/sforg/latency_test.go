package sforg

import (
	"testing"
	"time"
)

// With a latency, every API call takes at least that long and a Bulk job is in progress for a while
// before it is complete, as against a real org; the control API answers at once.
func TestLatencyDelaysEveryAPICallAndBulkJobs(t *testing.T) {
	t.Parallel()
	const latency = 80 * time.Millisecond
	org, a := login(t, Options{ControlToken: "control", Latency: latency, BulkJobTime: 300 * time.Millisecond})
	if err := org.Generate("Account", 10, 2); err != nil {
		t.Fatal(err)
	}
	timed := func(what, method, path string, body any) []byte {
		t.Helper()
		start := time.Now()
		res, raw := a.do(method, path, body)
		if took := time.Since(start); took < latency {
			t.Fatalf("%s answered in %v, want at least the org's latency %v", what, took, latency)
		}
		if res.StatusCode >= 300 {
			t.Fatalf("%s: %d %s", what, res.StatusCode, raw)
		}
		return raw
	}
	timed("a REST query", "GET", "/services/data/v62.0/query?q=SELECT+Id+FROM+Account", nil)
	timed("a composite request", "POST", "/services/data/v62.0/composite", map[string]any{"compositeRequest": []map[string]any{
		{"method": "GET", "url": "/services/data/v62.0/query?q=SELECT+Id+FROM+Account", "referenceId": "q"}}})
	raw := timed("a Bulk query job", "POST", "/services/data/v62.0/jobs/query", map[string]any{"operation": "query", "query": "SELECT Id FROM Account"})
	id := decodeJSON[map[string]any](t, raw)["id"].(string)
	created := time.Now()
	if st := decodeJSON[map[string]any](t, timed("its state", "GET", "/services/data/v62.0/jobs/query/"+id, nil)); st["state"] != "InProgress" {
		t.Fatalf("a Bulk job read at once is %v, want InProgress", st["state"])
	}
	for {
		st := decodeJSON[map[string]any](t, timed("its state", "GET", "/services/data/v62.0/jobs/query/"+id, nil))
		if st["state"] == "JobComplete" {
			break
		}
		if time.Since(created) > 10*time.Second {
			t.Fatalf("the Bulk job is still %v", st["state"])
		}
	}
	if took := time.Since(created); took < 300*time.Millisecond-latency {
		t.Fatalf("the Bulk job completed after %v, before its BulkJobTime", took)
	}

	control := &api{t: t, base: a.base, token: "control", c: a.c}
	start := time.Now()
	if res, raw := control.do("GET", "/_sforg/calls", nil); res.StatusCode != 200 {
		t.Fatalf("control API: %d %s", res.StatusCode, raw)
	}
	if took := time.Since(start); took >= latency {
		t.Fatalf("the control API took %v: it is not an API call of the org", took)
	}
}
