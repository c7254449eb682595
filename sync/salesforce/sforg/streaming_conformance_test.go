package sforg_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
)

// Streaming clients nobody here wrote work against the org unchanged, with Salesforce's own long
// poll of 110 s: jsforce's conn.streaming.topic(...).subscribe (faye underneath, which batches its
// subscribe with a connect) is acknowledged at once and gets a change within 2 s; jsforce's replay
// extension replays from a stored replay id and from -2; the official cometd client subscribes,
// receives, and is refused a channel that does not exist. .ci/run installs them (npm ci in
// testdata/streaming); without node or the packages the test says how.
func TestThirdPartyStreamingClientsWorkUnchanged(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "streaming")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs Node.js (node) for jsforce and cometd")
	}
	for _, pkg := range []string{"jsforce", "cometd", "cometd-nodejs-client"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg)); err != nil {
			t.Skipf("needs %s: run `npm ci` in %s (.ci/run does this)", pkg, dir)
		}
	}
	// jsforce signs in with the username-password flow, which new orgs block unless allowed.
	_, srv := sforgtest.NewServer(t, sforg.Options{Seed: 1, AllowPasswordFlow: true})
	cmd := exec.Command("node", "streaming.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SF_LOGIN_URL="+srv.URL)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS 6 steps") {
		t.Fatalf("streaming clients: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
