package sforg

import (
	"testing"
	"time"
)

// A fault matched by its SOQL delays that query also as a subrequest of a /composite call (Salesforce
// runs the subrequests in turn: the whole call answers after the slow query), and not the call's
// other queries when it does not match them.
func TestASlowQueryFaultDelaysTheCompositeCallThatCarriesIt(t *testing.T) {
	t.Parallel()
	const slow = 600 * time.Millisecond
	org, a := login(t, Options{})
	if err := org.InjectFault(Fault{SOQL: `FROM Account`, Latency: slow, Count: -1}); err != nil {
		t.Fatal(err)
	}
	composite := func(queries ...string) time.Duration {
		t.Helper()
		var subs []map[string]any
		for i, q := range queries {
			subs = append(subs, map[string]any{"method": "GET", "url": "/services/data/v62.0/query?q=" + q, "referenceId": "q" + string(rune('a'+i))})
		}
		start := time.Now()
		res, raw := a.do("POST", "/services/data/v62.0/composite", map[string]any{"compositeRequest": subs})
		if res.StatusCode != 200 {
			t.Fatalf("composite: %d %s", res.StatusCode, raw)
		}
		return time.Since(start)
	}
	if took := composite("SELECT+Id+FROM+Contact", "SELECT+Id+FROM+Account"); took < slow {
		t.Fatalf("a composite call with the slow Account query answered in %v, want at least %v", took, slow)
	}
	if took := composite("SELECT+Id+FROM+Contact", "SELECT+Id+FROM+Lead"); took >= slow {
		t.Fatalf("a composite call without the slow query took %v", took)
	}
}
