package sforg

import (
	"net/http/httptest"
	"testing"
)

// NewTestServer starts an isolated org on a loopback port for a test; it stops when the test ends.
func NewTestServer(t testing.TB, opts Options) (*Org, *httptest.Server) {
	t.Helper()
	if opts.ControlToken == "" {
		opts.ControlToken = "test-control-token"
	}
	org := New(opts)
	srv := httptest.NewServer(org.Handler())
	t.Cleanup(srv.Close)
	return org, srv
}
