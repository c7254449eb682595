package sforg

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// salesforce-pubsub-api-client (npm), a Pub/Sub API client nobody here wrote, runs against the org's
// Pub/Sub API with a user-supplied token: it subscribes to /data/AccountChangeEvent, receives a
// CREATE and an UPDATE naming the changed field, replays them from the earliest event, and is refused
// an unknown topic. .ci/run installs it (npm ci in testdata/pubsub); without node or the package the
// test says how.
func TestPubSubAPIClientFromNpmWorksUnchanged(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "pubsub")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs Node.js (node) for salesforce-pubsub-api-client")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "salesforce-pubsub-api-client")); err != nil {
		t.Skipf("needs salesforce-pubsub-api-client: run `npm ci` in %s (.ci/run does this)", dir)
	}
	e := newPubSubEnv(t, PubSubOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "conformance.mjs")
	cmd.Dir = dir
	// The client insists on an https instance URL; the org only checks that one is sent.
	cmd.Env = append(os.Environ(), "PUBSUB_ENDPOINT="+e.srv.Addr(), "SF_ACCESS_TOKEN="+e.token(),
		"SF_INSTANCE_URL="+strings.Replace(e.api.base, "http://", "https://", 1))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	type summary struct {
		ReplayID      json.Number `json:"replayId"`
		ChangeType    string      `json:"changeType"`
		RecordIDs     []string    `json:"recordIds"`
		ChangedFields []string    `json:"changedFields"`
		Name          *string     `json:"name"`
	}
	steps := map[string][]summary{}
	var refused string
	var id string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		var line struct {
			Step  string  `json:"step"`
			Event summary `json:"event"`
			Error string  `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("unexpected output %q", sc.Text())
		}
		switch line.Step {
		case "subscribed":
			e.subscribed(t, "/data/AccountChangeEvent")
			if id, err = e.org.CreateAsUser("Account", map[string]any{"Name": "From Go"}); err != nil {
				t.Fatal(err)
			}
			if err := e.org.UpdateAsUser("Account", id, map[string]any{"Phone": "555-0199"}); err != nil {
				t.Fatal(err)
			}
		case "live", "replayed":
			steps[line.Step] = append(steps[line.Step], line.Event)
		case "refused":
			refused = line.Error
		case "failed":
			t.Fatalf("the npm client failed: %s\n%s", line.Error, stderr.String())
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("node: %v\n%s", err, stderr.String())
	}
	for _, step := range []string{"live", "replayed"} {
		evs := steps[step]
		if len(evs) != 2 {
			t.Fatalf("%s: %d events, want 2", step, len(evs))
		}
		// The npm client decodes each FetchResponse in its own async handler that first awaits the
		// event's schema (fetched once, then cached): two responses arriving before the schema is
		// cached can reach the callback in either order. The org's order is the replay ids'.
		slices.SortFunc(evs, func(a, b summary) int {
			x, _ := a.ReplayID.Int64()
			y, _ := b.ReplayID.Int64()
			return cmp.Compare(x, y)
		})
		c, u := evs[0], evs[1]
		if c.ChangeType != "CREATE" || !slices.Equal(c.RecordIDs, []string{id}) || c.Name == nil || *c.Name != "From Go" {
			t.Errorf("%s: first event %+v, want the CREATE of %s", step, c, id)
		}
		if u.ChangeType != "UPDATE" || !slices.Contains(u.ChangedFields, "Phone") {
			t.Errorf("%s: second event %+v, want an UPDATE naming Phone", step, u)
		}
	}
	if steps["live"][0].ReplayID != steps["replayed"][0].ReplayID {
		t.Errorf("replayed event has replay id %s, live had %s", steps["replayed"][0].ReplayID, steps["live"][0].ReplayID)
	}
	if !strings.Contains(refused, "does not exist") {
		t.Errorf("unknown topic: %q, want the org's refusal", refused)
	}
}
