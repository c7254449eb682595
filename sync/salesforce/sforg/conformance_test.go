package sforg_test

import (
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/simpleforce/simpleforce"

	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
)

// A Salesforce client nobody here wrote (simpleforce) works against the simulated org unchanged:
// SOAP login, describe, SOQL with paging, CRUD. It is the org's conformance check.
func TestAThirdPartyClientWorksUnchanged(t *testing.T) {
	t.Parallel()
	log.SetOutput(io.Discard) // simpleforce logs every request through the standard logger
	// simpleforce signs in with SOAP login(), which new orgs disable (and API 65.0 removed).
	org, srv := sforgtest.NewServer(t, sforg.Options{Seed: 1, QueryPageSize: 200, AllowSOAPLogin: true})
	if err := org.Generate("Lead", 450, 2); err != nil {
		t.Fatal(err)
	}
	c := simpleforce.NewClient(srv.URL, simpleforce.DefaultClientID, "62.0")
	if err := c.LoginPassword(sforg.DemoUsername, "wrong", ""); err == nil {
		t.Fatal("a wrong password signs in")
	}
	if err := c.LoginPassword(sforg.DemoUsername, sforg.DemoPassword, ""); err != nil {
		t.Fatalf("login: %v", err)
	}

	global, err := c.DescribeGlobal()
	if err != nil || global == nil {
		t.Fatalf("describe global: %v", err)
	}
	meta := c.SObject("Lead").Describe()
	if meta == nil || (*meta)["name"] != "Lead" {
		t.Fatalf("describe Lead: %v", meta)
	}

	// Query with paging through nextRecordsUrl.
	want := org.Count("Lead")
	res, err := c.Query("SELECT Id, LastName FROM Lead")
	if err != nil {
		t.Fatal(err)
	}
	got, pages := len(res.Records), 1
	for !res.Done {
		if res, err = c.Query(res.NextRecordsURL); err != nil {
			t.Fatal(err)
		}
		got += len(res.Records)
		pages++
	}
	if got != want || pages < 3 {
		t.Fatalf("queried %d of %d leads in %d pages", got, want, pages)
	}

	// Create, read, update, delete.
	created := c.SObject("Lead").Set("LastName", "Conformance").Set("Company", "Third Party").Create()
	if created == nil || created.ID() == "" {
		t.Fatal("create")
	}
	id := created.ID()
	if got := c.SObject("Lead").Get(id); got == nil || got.StringField("LastName") != "Conformance" {
		t.Fatalf("read back %v", got)
	}
	if c.SObject("Lead").Set("Id", id).Set("Company", "Renamed").Update() == nil {
		t.Fatal("update")
	}
	if rec := org.Record("Lead", id); rec["Company"] != "Renamed" {
		t.Fatalf("after update: %v", rec["Company"])
	}
	// (simpleforce builds the URL from the object's own Id, not from Delete's argument.)
	if err := c.SObject("Lead").Set("Id", id).Delete(); err != nil {
		t.Fatal(err)
	}
	if org.Record("Lead", id) != nil {
		t.Fatal("deleted record still there")
	}
	res, err = c.Query(fmt.Sprintf("SELECT Id FROM Lead WHERE Id = '%s'", id))
	if err != nil || len(res.Records) != 0 {
		t.Fatalf("query after delete: %v %d", err, len(res.Records))
	}
}

// jsforce (npm), the most used Salesforce client, runs its own login (OAuth password flow), describe,
// paged queries, CRUD, collections, upsert and Bulk 2.0 query and ingest against the org unchanged.
// .ci/run installs it (npm ci in testdata/jsforce); without node or the package the test says how.
func TestJSForceWorksUnchanged(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("testdata", "jsforce")
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("needs Node.js (node) for jsforce")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "jsforce")); err != nil {
		t.Skipf("needs jsforce: run `npm ci` in %s (.ci/run does this)", dir)
	}
	org, srv := sforgtest.NewServer(t, sforg.Options{Seed: 1, AllowPasswordFlow: true})
	if err := org.Generate("Lead", 4500, 9); err != nil { // three query pages
		t.Fatal(err)
	}
	cmd := exec.Command("node", "conformance.js")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SF_LOGIN_URL="+srv.URL+"/login") // the instance is srv.URL, from the token
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS 10 steps") {
		t.Fatalf("jsforce: %v\n%s", err, out)
	}
	t.Logf("%s", out)
}
