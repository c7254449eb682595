package salesforce_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"pgforce/sync/failure"
	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
	"pgforce/sync/testsignal"
)

// callback is the test app's callback URL, registered with the simulated org's connected app.
const callback = "http://localhost:9/cb"

func app(base string) salesforce.App {
	return salesforce.App{LoginURL: base, ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret, RedirectURL: callback}
}

// savedTokens records what the client asked to persist.
type savedTokens struct {
	mu              sync.Mutex
	access, refresh []string
}

func (s *savedTokens) store(_ context.Context, access, refresh string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.access, s.refresh = append(s.access, access), append(s.refresh, refresh)
	return nil
}

func newClient(t testing.TB, opts sforg.Options) (*sforg.Org, *salesforce.Client, *savedTokens) {
	t.Helper()
	opts.RedirectURIs = []string{callback}
	org, srv := sforgtest.NewServer(t, opts)
	a := app(srv.URL)
	tok := webServerFlow(t, a, srv.URL)
	st := &savedTokens{}
	c, err := salesforce.New(context.Background(), salesforce.Options{App: a, Token: tok, Store: st.store,
		Backoff: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	return org, c, st
}

// webServerFlow logs in on the org's pages like a person, approves, and exchanges the code.
func webServerFlow(t testing.TB, a salesforce.App, base string) *salesforce.Token {
	t.Helper()
	verifier := oauth2.GenerateVerifier()
	authURL := a.AuthCodeURL("state-123", verifier)
	cb := sforgtest.SignInAndApprove(t, authURL)
	if cb.Query().Get("state") != "state-123" {
		t.Fatalf("state not echoed: %s", cb)
	}
	tok, err := a.Exchange(context.Background(), cb.Query().Get("code"), verifier)
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	if tok.RefreshToken == "" || tok.InstanceURL != base || tok.OrgID() == "" || tok.UserID() == "" {
		t.Fatalf("token %+v", tok)
	}
	return tok
}

func TestAuthFlowsAndIdentity(t *testing.T) {
	t.Parallel()
	org, srv := sforgtest.NewServer(t, sforg.Options{RedirectURIs: []string{callback}, AllowPasswordFlow: true})
	a := app(srv.URL)
	tok := webServerFlow(t, a, srv.URL)
	id, err := a.Identity(context.Background(), tok)
	if err != nil || id.Username != sforg.DemoUsername || id.OrgID != org.OrgID() || id.OrgName == "" {
		t.Fatalf("identity %+v %v", id, err)
	}
	if _, err := a.Password(context.Background(), sforg.DemoUsername, sforg.DemoPassword); err != nil {
		t.Fatalf("password flow: %v", err)
	}
	if _, err := a.ClientCredentials(context.Background()); err != nil {
		t.Fatalf("client credentials: %v", err)
	}
	_, err = a.Password(context.Background(), sforg.DemoUsername, "wrong")
	var se *salesforce.Error
	if !errors.As(err, &se) || se.Code != "invalid_grant" || se.Kind != salesforce.NeedAuthentication {
		t.Fatalf("bad password: %v", err)
	}
	bad := a
	bad.ClientSecret = "tampered"
	if _, err := bad.Exchange(context.Background(), "x", "y"); err == nil {
		t.Fatal("wrong secret must fail")
	}
}

func TestExpiredTokenIsRefreshedOnceAndSaved(t *testing.T) {
	t.Parallel()
	org, c, saved := newClient(t, sforg.Options{})
	org.ExpireTokens()
	if _, err := c.Limits(context.Background()); err != nil {
		t.Fatalf("call after expiry: %v", err)
	}
	if len(saved.access) != 1 || saved.access[0] == "" {
		t.Fatalf("the refreshed token must be saved once: %v", saved.access)
	}
	// Revoked refresh token: the next expiry cannot be repaired.
	org.RevokeRefreshTokens()
	org.ExpireTokens()
	_, err := c.Limits(context.Background())
	if salesforce.KindOf(err) != salesforce.NeedAuthentication || !failure.Is(err, failure.Unauthenticated) {
		t.Fatalf("revoked: %v (kind %v)", err, salesforce.KindOf(err))
	}
}

func TestQueryPagesThroughTenThousandRecords(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{})
	if err := org.Generate("Contact", 10000, 3); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	total, err := c.Query(context.Background(), "SELECT Id, LastName FROM Contact", false, func(r salesforce.Record) error {
		seen[r.ID()] = true
		return nil
	}, salesforce.BatchSize(2000))
	if err != nil || total != 10000 || len(seen) != 10000 {
		t.Fatalf("total %d distinct %d err %v", total, len(seen), err)
	}
	if s := c.Stats(); s["query"] != 1 || s["queryMore"] != 4 {
		t.Fatalf("calls %v: one query and four queryMore for five pages of 2000", s)
	}
	n, err := c.Count(context.Background(), "SELECT COUNT() FROM Contact WHERE LastName LIKE 'A%'")
	if err != nil || n <= 0 || n >= 10000 {
		t.Fatalf("count %d %v", n, err)
	}
	used, max, _ := c.Usage()
	if used == 0 || max != 100000 {
		t.Fatalf("usage from Sforce-Limit-Info: %d/%d", used, max)
	}
	_, err = c.Query(context.Background(), "SELECT Nope FROM Contact", false, func(salesforce.Record) error { return nil })
	var se *salesforce.Error
	if !errors.As(err, &se) || se.Code != "INVALID_FIELD" || se.Kind != salesforce.Permanent {
		t.Fatalf("bad query: %v", err)
	}
}

// The next page is on its way while the caller works through the current one (a real org answers
// in 100-300 ms), and a caller that stops stops the paging: at most the page already asked for.
func TestQueryFetchesTheNextPageWhileTheCallerWorks(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{})
	if err := org.Generate("Contact", 6000, 3); err != nil {
		t.Fatal(err)
	}
	first := true
	_, err := c.Query(context.Background(), "SELECT Id FROM Contact", false, func(salesforce.Record) error {
		if first {
			first = false
			testsignal.Eventually(t, "the second page asked for while the first is being read", 10*time.Second, func() (bool, string) {
				return c.Stats()["queryMore"] == 1, fmt.Sprint(c.Stats())
			})
		}
		return nil
	}, salesforce.BatchSize(2000))
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s["query"] != 1 || s["queryMore"] != 2 {
		t.Fatalf("calls %v: one query and two queryMore for three pages", s)
	}
	stop := errors.New("enough")
	n := 0
	_, err = c.Query(context.Background(), "SELECT Id FROM Contact", false, func(salesforce.Record) error {
		if n++; n == 10 {
			return stop
		}
		return nil
	}, salesforce.BatchSize(2000))
	if !errors.Is(err, stop) {
		t.Fatalf("the caller's error: %v", err)
	}
	if s := c.Stats(); s["query"] != 2 || s["queryMore"] > 3 {
		t.Fatalf("calls %v: paging stops with the caller", s)
	}
}

// Salesforce's nextRecordsUrl (like every URL in its answers) is relative to the instance's host,
// not to the instance URL's path: an org mounted under a path (pgforce's own "/sim") pages too.
func TestQueryPagesOnAnOrgMountedUnderAPath(t *testing.T) {
	t.Parallel()
	org := sforg.New(sforg.Options{BasePath: "/sim", RedirectURIs: []string{callback}})
	srv := httptest.NewServer(http.StripPrefix("/sim", org.Handler())) // as pgforce mounts it
	t.Cleanup(srv.Close)
	a := app(srv.URL + "/sim")
	c, err := salesforce.New(context.Background(), salesforce.Options{App: a, Token: webServerFlow(t, a, srv.URL+"/sim"),
		Store: (&savedTokens{}).store, Backoff: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	if err := org.Generate("Contact", 4500, 3); err != nil {
		t.Fatal(err)
	}
	n := 0
	total, err := c.Query(context.Background(), "SELECT Id FROM Contact", false, func(salesforce.Record) error { n++; return nil }, salesforce.BatchSize(2000))
	if err != nil || total != 4500 || n != 4500 {
		t.Fatalf("total %d seen %d: %v", total, n, err)
	}
}

func TestDescribeIsCachedWithIfModifiedSince(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{})
	ctx := context.Background()
	d, err := c.Describe(ctx, "Invoice__c")
	if err != nil {
		t.Fatal(err)
	}
	f, ok := d.Field("external_id__c")
	if !ok || !f.ExternalID || f.Length != 40 {
		t.Fatalf("field %+v", f)
	}
	d2, err := c.Describe(ctx, "Invoice__c")
	if err != nil || d2 != d {
		t.Fatal("an unchanged describe comes from the cache (304)")
	}
	_ = org.ChangeField("Invoice__c", "External_Id__c", func(f *sforg.FieldDef) { f.Length = 80 })
	d3, _ := c.Describe(ctx, "Invoice__c")
	if f, _ := d3.Field("External_Id__c"); f.Length != 80 {
		t.Fatal("a changed describe is fetched again")
	}
	objs, err := c.DescribeGlobal(ctx)
	if err != nil || len(objs) < 8 {
		t.Fatalf("describe global %d %v", len(objs), err)
	}
}

func TestCollectionsMapResultsBackToInputRows(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{})
	ctx := context.Background()
	recs := make([]map[string]any, 450)
	for i := range recs {
		recs[i] = map[string]any{"Name": "A" + string(rune('a'+i%26))}
	}
	recs[7] = map[string]any{"Phone": "no name"}
	recs[300] = map[string]any{"Name": strings.Repeat("x", 300)}
	res, err := c.CreateMany(ctx, "Account", recs, false)
	if err != nil || len(res) != 450 {
		t.Fatalf("create many: %d %v", len(res), err)
	}
	if res[7].Success || res[7].Errors[0].StatusCode != "REQUIRED_FIELD_MISSING" || res[300].Errors[0].StatusCode != "STRING_TOO_LONG" || !res[8].Success || res[449].ID == "" {
		t.Fatalf("results not in input order: %+v %+v", res[7], res[300])
	}
	if s := c.Stats(); s["composite"] != 3 {
		t.Fatalf("450 records take 3 calls, made %d", s["composite"])
	}
	ups := []map[string]any{{"Name": "X", "External_Id__c": "E1"}, {"Name": "Y", "External_Id__c": "E2"}}
	r1, _ := c.UpsertMany(ctx, "Account", "External_Id__c", ups, false)
	r2, _ := c.UpsertMany(ctx, "Account", "External_Id__c", ups, false)
	if !r1[0].Created || r2[0].Created || r1[0].ID != r2[0].ID {
		t.Fatalf("upsert is idempotent by external id: %+v %+v", r1, r2)
	}
	del, err := c.DeleteMany(ctx, []string{r1[0].ID, r1[0].ID[:15] + "XYZ"}, false)
	if err != nil || !del[0].Success || del[1].Success {
		t.Fatalf("delete many %+v %v", del, err)
	}
	if org.Record("Account", r1[0].ID) != nil {
		t.Fatal("deleted")
	}
}

func TestBulkQueryStreamsWithBoundedMemoryAndIngestReportsFailures(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{BulkPageSize: 20000})
	if err := org.Generate("Account", 100000, 4); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var before, peak runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rows, pages := 0, 0
	var states []string
	_, err := c.BulkQuery(ctx, "SELECT Id, Name, AnnualRevenue, Owner.Name FROM Account", false, salesforce.BulkQueryOptions{
		OnState: func(s string) { states = append(states, s) },
	}, func(page io.Reader) error {
		pages++
		r := csv.NewReader(page)
		r.ReuseRecord = true
		for {
			_, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return err
			}
			rows++
		}
		runtime.ReadMemStats(&peak)
		return nil
	})
	if err != nil || rows != 100000+pages || pages != 5 {
		t.Fatalf("rows %d pages %d err %v", rows, pages, err)
	}
	if strings.Join(states, ",") != "waiting,loading" {
		t.Fatalf("states %v", states)
	}
	// The client holds at most a page: heap growth stays far below the 100k-row result.
	if grow := int64(peak.HeapAlloc) - int64(before.HeapAlloc); grow > 64<<20 {
		t.Fatalf("heap grew %d MiB while streaming", grow>>20)
	}

	body := []byte("Name,External_Id__c\nGood One,B-1\n,B-2\nGood Two,B-3\n")
	res, err := c.BulkIngest(ctx, salesforce.IngestJob{Object: "Account", Operation: "upsert", ExternalIDFieldName: "External_Id__c"}, body)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Successful) != 2 || len(res.Failed) != 1 || !strings.HasPrefix(res.Failed[0][1], "REQUIRED_FIELD_MISSING") || res.Job.NumberRecordsFailed != 1 {
		t.Fatalf("ingest %+v", res)
	}
	if strings.Join(res.Header, ",") != "Name,External_Id__c" {
		t.Fatalf("header %v", res.Header)
	}
}

func TestFaultsAreRetriedOrSurfacedAsClassified(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{})
	ctx := context.Background()
	// 503 twice, then success: retried.
	_ = org.InjectFault(sforg.Fault{Path: "/limits$", Status: 503, Code: "SERVER_UNAVAILABLE", Count: 2})
	if _, err := c.Limits(ctx); err != nil {
		t.Fatalf("retriable 503: %v", err)
	}
	// A record lock on a collection: retried.
	_ = org.InjectFault(sforg.Fault{Path: "/composite/sobjects$", Status: 400, Code: "UNABLE_TO_LOCK_ROW", Count: 1})
	if res, err := c.UpdateMany(ctx, "Account", []map[string]any{}, false); err != nil || len(res) != 0 {
		t.Fatalf("lock: %v", err)
	}
	// Dropped connections on an idempotent GET: retried.
	_ = org.InjectFault(sforg.Fault{Path: "/limits$", Drop: true, Count: 2})
	if _, err := c.Limits(ctx); err != nil {
		t.Fatalf("dropped connection: %v", err)
	}
	// Persistent 500: surfaced as retriable after the attempts run out.
	_ = org.InjectFault(sforg.Fault{Path: "/limits$", Status: 500, Count: -1})
	_, err := c.Limits(ctx)
	if salesforce.KindOf(err) != salesforce.Retriable || !failure.Is(err, failure.Unavailable) {
		t.Fatalf("persistent 500: %v", err)
	}
	org.ClearFaults()
	// The daily limit: rate limited, not retried in a loop.
	used, _ := org.APIUsage()
	org.SetAPIUsage(100000)
	_, err = c.Limits(ctx)
	if salesforce.KindOf(err) != salesforce.RateLimited || !failure.Is(err, failure.RateLimited) {
		t.Fatalf("limit: %v", err)
	}
	org.SetAPIUsage(used)
	// A dropped connection during a create is not resent (it may have been applied).
	_ = org.InjectFault(sforg.Fault{Path: "/composite/sobjects$", Method: "POST", Drop: true, Count: -1})
	before := org.Count("Account")
	if _, err := c.CreateMany(ctx, "Account", []map[string]any{{"Name": "Once"}}, false); salesforce.KindOf(err) != salesforce.Retriable {
		t.Fatalf("dropped create: %v", err)
	}
	if org.Count("Account") != before {
		t.Fatal("nothing was created")
	}
	org.ClearFaults()
	_ = bytes.MinRead
}

func TestCompositeFollowsReferencesInOneCall(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{Seed: 1})
	before := org.APICalls()["composite"]
	res, err := c.Composite(context.Background(), true, []salesforce.Subrequest{
		{Method: "POST", URL: "sobjects/Account", ReferenceID: "acct", Body: map[string]any{"Name": "Parent"}},
		{Method: "POST", URL: "sobjects/Contact", ReferenceID: "child", Body: map[string]any{"LastName": "Child", "AccountId": "@{acct.id}"}},
	})
	if err != nil || len(res) != 2 || res[0].HTTPStatusCode != 201 || res[1].HTTPStatusCode != 201 {
		t.Fatalf("composite: %v %+v", err, res)
	}
	var child struct{ ID string }
	_ = json.Unmarshal(res[1].Body, &child)
	var parent struct{ ID string }
	_ = json.Unmarshal(res[0].Body, &parent)
	if got := org.Record("Contact", child.ID)["AccountId"]; got != parent.ID {
		t.Fatalf("the child points at %v, want %s", got, parent.ID)
	}
	if n := org.APICalls()["composite"] - before; n != 1 {
		t.Fatalf("%d API calls, want 1", n)
	}
	if _, err := c.Composite(context.Background(), false, make([]salesforce.Subrequest, 26)); err == nil {
		t.Fatal("26 subrequests are refused before sending")
	}
}

func TestGetUpdatedAndGetDeletedWindows(t *testing.T) {
	t.Parallel()
	org, c, _ := newClient(t, sforg.Options{Seed: 1})
	ctx := context.Background()
	start := time.Now().Add(-2 * time.Minute)
	kept, _ := org.CreateAsUser("Lead", map[string]any{"LastName": "Kept", "Company": "Co"})
	gone, _ := org.CreateAsUser("Lead", map[string]any{"LastName": "Gone", "Company": "Co"})
	if err := org.DeleteAsUser("Lead", gone); err != nil {
		t.Fatal(err)
	}
	end := time.Now().Add(2 * time.Minute)
	ids, covered, err := c.Updated(ctx, "Lead", start, end)
	if err != nil || !slices.Contains(ids, kept) || slices.Contains(ids, gone) || covered.IsZero() {
		t.Fatalf("updated: %v %v %v", ids, covered, err)
	}
	deleted, earliest, _, err := c.Deleted(ctx, "Lead", start, end)
	if err != nil || len(deleted) != 1 || deleted[0].ID != gone || earliest.IsZero() {
		t.Fatalf("deleted: %+v %v %v", deleted, earliest, err)
	}
	if _, _, err := c.Updated(ctx, "Lead", end, start); err == nil {
		t.Fatal("a window that ends before it starts is refused")
	}
}
