package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The shipped binary carries no test code: neither package testing nor net/http/httptest (nor any
// package named for tests) is among the main package's dependencies.
func TestTheShippedBinaryLinksNoTestCode(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || strings.HasPrefix(pkg, "testing/") || pkg == "net/http/httptest" || strings.HasSuffix(pkg, "test") && strings.HasPrefix(pkg, "pgforce/") {
			t.Errorf("the binary links %s", pkg)
		}
	}
}
