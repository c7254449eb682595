package sforg

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// A clock tests move by hand: records written at different seconds have different stamps.
type handClock struct{ ns atomic.Int64 }

func newHandClock(t time.Time) *handClock { c := &handClock{}; c.ns.Store(t.UnixNano()); return c }
func (c *handClock) Now() time.Time       { return time.Unix(0, c.ns.Load()).UTC() }
func (c *handClock) Add(d time.Duration)  { c.ns.Add(int64(d)) }

func TestConditionalRequestsOnAccountRows(t *testing.T) {
	t.Parallel()
	clock := newHandClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	_, a := login(t, Options{Now: clock.Now})
	res, raw := a.do("POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "Acme"})
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, raw)
	}
	row := "/services/data/v62.0/sobjects/Account/" + decodeJSON[struct{ ID string }](t, raw).ID

	res, _ = a.do("GET", row, nil)
	etag, lastMod := res.Header.Get("ETag"), res.Header.Get("Last-Modified")
	if etag == "" || etag[0] != '"' || lastMod != "Sun, 01 Mar 2026 10:00:00 GMT" {
		t.Fatalf("GET of a row: ETag %q, Last-Modified %q", etag, lastMod)
	}

	t.Run("a copy that is current is not sent again", func(t *testing.T) {
		if res, _ := a.do("GET", row, nil, "If-None-Match", etag); res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match with the current ETag: %d, want 304", res.StatusCode)
		}
		if res, _ := a.do("GET", row, nil, "If-Modified-Since", lastMod); res.StatusCode != http.StatusNotModified {
			t.Fatalf("If-Modified-Since the last change: %d, want 304", res.StatusCode)
		}
		if res, _ := a.do("GET", row, nil, "If-None-Match", `"stale"`); res.StatusCode != 200 {
			t.Fatalf("If-None-Match with another ETag: %d, want 200", res.StatusCode)
		}
	})

	t.Run("an invalid precondition on PATCH is a bad request", func(t *testing.T) {
		res, raw := a.do("PATCH", row, map[string]any{"Name": "x"}, "If-Unmodified-Since", "yesterday")
		if res.StatusCode != 400 {
			t.Fatalf("If-Unmodified-Since: yesterday: %d %s, want 400", res.StatusCode, raw)
		}
		res, raw = a.do("PATCH", row, map[string]any{"Name": "x"}, "If-Match", "unquoted")
		if res.StatusCode != 400 {
			t.Fatalf("If-Match: unquoted: %d %s, want 400", res.StatusCode, raw)
		}
	})

	clock.Add(5 * time.Second)
	res, _ = a.do("PATCH", row, map[string]any{"Name": "Acme 2"}, "If-Match", etag)
	if res.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH with the current ETag: %d, want 204", res.StatusCode)
	}
	newTag := res.Header.Get("ETag")
	if newTag == "" || newTag == etag {
		t.Fatalf("PATCH answers the new ETag: %q (was %q)", newTag, etag)
	}

	t.Run("a write based on an old version is refused and changes nothing", func(t *testing.T) {
		res, raw := a.do("PATCH", row, map[string]any{"Name": "lost update"}, "If-Match", etag)
		wantError(t, res, raw, http.StatusPreconditionFailed, "PRECONDITION_FAILED")
		res, raw = a.do("PATCH", row, map[string]any{"Name": "lost update"}, "If-Unmodified-Since", lastMod)
		wantError(t, res, raw, http.StatusPreconditionFailed, "ENTITY_FAILED_IFLASTMODIFIED_ON_UPDATE_CHECK")
		res, raw = a.do("PATCH", row, map[string]any{"Name": "lost update"}, "If-None-Match", newTag)
		wantError(t, res, raw, http.StatusPreconditionFailed, "PRECONDITION_FAILED")
		res, raw = a.do("GET", row, nil, "If-Match", etag)
		wantError(t, res, raw, http.StatusPreconditionFailed, "PRECONDITION_FAILED")
		_, raw = a.do("GET", row, nil)
		if got := decodeJSON[map[string]any](t, raw)["Name"]; got != "Acme 2" {
			t.Fatalf("Name after refused writes = %v", got)
		}
	})

	t.Run("a write based on the current version goes through", func(t *testing.T) {
		res, _ := a.do("GET", row, nil)
		clock.Add(time.Second)
		res, raw := a.do("PATCH", row, map[string]any{"Name": "Acme 3"}, "If-Unmodified-Since", res.Header.Get("Last-Modified"), "If-Match", newTag+`, "other"`)
		if res.StatusCode != http.StatusNoContent {
			t.Fatalf("PATCH: %d %s", res.StatusCode, raw)
		}
	})

	t.Run("DELETE ignores the headers", func(t *testing.T) {
		if res, raw := a.do("DELETE", row, nil, "If-Match", `"stale"`); res.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE: %d %s", res.StatusCode, raw)
		}
	})
}

// Salesforce gives ETags to Account rows only; If-Unmodified-Since works on every object.
func TestConditionalRequestsOnOtherObjects(t *testing.T) {
	t.Parallel()
	clock := newHandClock(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	_, a := login(t, Options{Now: clock.Now})
	res, raw := a.do("POST", "/services/data/v62.0/sobjects/Contact", map[string]any{"LastName": "Doe"})
	if res.StatusCode != 201 {
		t.Fatalf("create: %d %s", res.StatusCode, raw)
	}
	row := "/services/data/v62.0/sobjects/Contact/" + decodeJSON[struct{ ID string }](t, raw).ID
	res, _ = a.do("GET", row, nil)
	if res.Header.Get("ETag") != "" {
		t.Fatalf("a Contact row has an ETag: %q", res.Header.Get("ETag"))
	}
	captured := res.Header.Get("Last-Modified")
	clock.Add(3 * time.Second)
	if res, raw := a.do("PATCH", row, map[string]any{"LastName": "Roe"}, "If-Match", `"anything"`); res.StatusCode != http.StatusNoContent {
		t.Fatalf("If-Match without ETags is ignored: %d %s", res.StatusCode, raw)
	}
	res, raw = a.do("PATCH", row, map[string]any{"LastName": "Lost"}, "If-Unmodified-Since", captured)
	wantError(t, res, raw, http.StatusPreconditionFailed, "ENTITY_FAILED_IFLASTMODIFIED_ON_UPDATE_CHECK")
}
