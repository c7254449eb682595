package web_test

import (
	"net/http"
	"strings"
	"testing"

	"pgforce/internal/apitoken"
	"pgforce/sync/engine/enginetest"
)

// TestADatabaseOutageIsA503WithAClearMessage: while the database cannot be reached, the API and the
// dashboard answer 503 Service Unavailable saying so (not a 500 "something went wrong"), and answer
// normally once it is back.
func TestADatabaseOutageIsA503WithAClearMessage(t *testing.T) {
	t.Parallel()
	a := newAPIAppWith(t, enginetest.Options{Seed: 3, NoStart: true, ViaProxy: true})
	a.as(apitoken.Viewer, http.MethodGet, "/api/v3/connections", "", http.StatusOK)

	a.b.Proxy.Down()
	res := a.as(apitoken.Viewer, http.MethodGet, "/api/v3/connections", "", http.StatusServiceUnavailable)
	if !strings.Contains(res.body, `"id":"unavailable"`) || !strings.Contains(res.body, "The database cannot be reached") {
		t.Fatalf("API while the database is down: %s", res.body)
	}
	page := a.call(a.tokens[apitoken.Admin], http.MethodGet, "/api/v3/connections/"+itoa(a.b.Conn.ID), "")
	if page.status != http.StatusServiceUnavailable {
		t.Fatalf("a connection while the database is down: %d %s", page.status, page.body)
	}

	a.b.Proxy.Up()
	a.as(apitoken.Viewer, http.MethodGet, "/api/v3/connections", "", http.StatusOK)
}
