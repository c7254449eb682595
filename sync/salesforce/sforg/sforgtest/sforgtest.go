// Package sforgtest serves a simulated org for a test. It lives apart from sforg so that the shipped
// binary, which embeds the simulated org, does not link the testing packages.
package sforgtest

import (
	"net/http/httptest"
	"testing"

	"pgforce/sync/salesforce/sforg"
)

// ControlToken is the bearer token of a test org's control API, unless the test sets one.
const ControlToken = "test-control-token"

// NewServer starts an isolated org on a loopback port for a test; it stops when the test ends.
func NewServer(t testing.TB, opts sforg.Options) (*sforg.Org, *httptest.Server) {
	t.Helper()
	if opts.ControlToken == "" {
		opts.ControlToken = ControlToken
	}
	org := sforg.New(opts)
	srv := httptest.NewServer(org.Handler())
	t.Cleanup(srv.Close)
	return org, srv
}
