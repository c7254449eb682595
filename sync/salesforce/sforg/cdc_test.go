package sforg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"pgforce/sync/salesforce/bayeux"
)

// stream subscribes to a channel of a running org with pgforce's Bayeux client and delivers its
// events until the test ends.
type stream struct {
	t      *testing.T
	events chan bayeux.Event
	errs   chan error
}

func subscribe(t *testing.T, base, token, channel string, replay int64) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &stream{t: t, events: make(chan bayeux.Event, 1000), errs: make(chan error, 10)}
	c := bayeux.NewClient(bayeux.ClientOptions{URL: base + "/cometd/62.0", Token: func(context.Context) (string, error) { return token, nil },
		OnSubscribeError: func(err *bayeux.SubscribeError) { s.errs <- err }})
	c.Subscribe(channel, replay)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx, func(_ context.Context, e bayeux.Event) error { s.events <- e; return nil }); err != nil && !errors.Is(err, context.Canceled) {
			s.errs <- err
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// next waits for the next event (generously: it is a wait for delivery, not a speed check).
func (s *stream) next() bayeux.ChangeEvent {
	s.t.Helper()
	select {
	case e := <-s.events:
		ce, err := bayeux.DecodeChangeEvent(e.Data)
		if err != nil {
			s.t.Fatal(err)
		}
		return ce
	case err := <-s.errs:
		s.t.Fatalf("stream failed: %v", err)
	case <-time.After(20 * time.Second):
		s.t.Fatal("no change event within 20 s")
	}
	return bayeux.ChangeEvent{}
}

// none checks that nothing more arrives once a marker event (published after what is checked) does.
func (s *stream) upTo(marker string) []bayeux.ChangeEvent {
	s.t.Helper()
	var out []bayeux.ChangeEvent
	for {
		ce := s.next()
		if slices.Contains(ce.Header.RecordIDs, marker) {
			return out
		}
		out = append(out, ce)
	}
}

// marker creates a Contact, whose event tells a test that everything published before it arrived.
func marker(t *testing.T, org *Org) string {
	t.Helper()
	id, err := org.CreateAsUser("Contact", map[string]any{"LastName": "Marker"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func loadFixture(t *testing.T, name string) (json.RawMessage, bayeux.ChangeEvent) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "cdc", name))
	if err != nil {
		t.Fatal(err)
	}
	ce, err := bayeux.DecodeChangeEvent(raw)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return raw, ce
}

// Salesforce's documented events decode with the client pgforce uses.
func TestOurClientDecodesSalesforcesDocumentedChangeEvents(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"create_employee.json":    "CREATE Employee__c a00RM0000004aVwYAI",
		"update_account.json":     "UPDATE Account 001RM000004UF9sYAG",
		"delete_account.json":     "DELETE Account 001RM000004UF9sYAG",
		"gap_create_account.json": "GAP_CREATE Account 001ZM000001n4n5YAA",
		"overflow_account.json":   "GAP_OVERFLOW Account 000000000000000AAA",
	} {
		_, ce := loadFixture(t, name)
		h := ce.Header
		if got := fmt.Sprintf("%s %s %s", h.ChangeType, h.EntityName, strings.Join(h.RecordIDs, ",")); got != want || ce.ReplayID == 0 || h.TransactionKey == "" || h.CommitTimestamp == 0 || h.CommitNumber == 0 {
			t.Errorf("%s: %s (replay %d, %+v)", name, got, ce.ReplayID, h)
		}
	}
	_, up := loadFixture(t, "update_account.json")
	if !slices.Equal(up.Header.ChangedFields, []string{"Fax", "LastModifiedDate"}) || string(up.Fields["Fax"]) != `"4155551212"` || !strings.Contains(up.Header.ChangeOrigin, ";client=SfdcInternalAPI/") {
		t.Errorf("update: %+v %s", up.Header, up.Fields)
	}
}

// shape is what a comparison of events keeps: header keys and JSON kinds, the kinds of the fields.
func shape(t *testing.T, data json.RawMessage) (header map[string]string, fields map[string]any) {
	t.Helper()
	var env struct {
		Schema  string                     `json:"schema"`
		Payload map[string]json.RawMessage `json:"payload"`
		Event   map[string]json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(env.Schema) || len(env.Event["replayId"]) == 0 {
		t.Fatalf("envelope: schema %q, event %s", env.Schema, env.Event["replayId"])
	}
	var h map[string]any
	_ = json.Unmarshal(env.Payload["ChangeEventHeader"], &h)
	header = map[string]string{}
	for k, v := range h {
		header[k] = fmt.Sprintf("%T", v)
	}
	fields = map[string]any{}
	for k, v := range env.Payload {
		if k != "ChangeEventHeader" {
			var x any
			_ = json.Unmarshal(v, &x)
			fields[k] = x
		}
	}
	return header, fields
}

func keys[M ~map[string]V, V any](m M) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// The org's events look like the documented ones: the same header fields with the same JSON types,
// no field on a delete, datetimes formatted alike, CREATE with empty changedFields, UPDATE listing
// LastModifiedDate, and never IsDeleted or SystemModstamp.
func TestTheOrgPublishesChangeEventsShapedAsDocumented(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1, ControlToken: "test-control-token"})
	s := subscribe(t, a.base, a.token, "/data/AccountChangeEvent", org.NewestReplayID())
	_, body := a.do("POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "Shaped", "Industry": "Energy"}, "Sforce-Call-Options", "client=Shaper")
	id := decodeJSON[map[string]any](t, body)["id"].(string)
	a.do("PATCH", "/services/data/v62.0/sobjects/Account/"+id, map[string]any{"Industry": "Biotechnology", "Phone": "4155551212"}, "Sforce-Call-Options", "client=Shaper")
	a.do("DELETE", "/services/data/v62.0/sobjects/Account/"+id, nil)
	var got []json.RawMessage
	for range 3 {
		select {
		case e := <-s.events:
			got = append(got, e.Data)
		case err := <-s.errs:
			t.Fatal(err)
		case <-time.After(20 * time.Second):
			t.Fatalf("missing events: %d arrived: %s", len(got), got)
		}
	}
	dateTime := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	for i, fixture := range []string{"create_employee.json", "update_account.json", "delete_account.json"} {
		raw, doc := loadFixture(t, fixture)
		wantHeader, docFields := shape(t, raw)
		gotHeader, fields := shape(t, got[i])
		if !slices.Equal(keys(gotHeader), keys(wantHeader)) || fmt.Sprint(gotHeader) != fmt.Sprint(wantHeader) {
			t.Errorf("%s header:\n got  %v\n want %v", doc.Header.ChangeType, gotHeader, wantHeader)
		}
		for _, name := range []string{"IsDeleted", "SystemModstamp", "Id"} {
			if _, ok := fields[name]; ok {
				t.Errorf("%s carries %s", doc.Header.ChangeType, name)
			}
		}
		if v, ok := docFields["LastModifiedDate"].(string); ok && !dateTime.MatchString(v) {
			t.Fatalf("fixture datetime %q", v)
		}
		ce, _ := bayeux.DecodeChangeEvent(got[i])
		h := ce.Header
		switch h.ChangeType {
		case "CREATE":
			if len(h.ChangedFields) != 0 || fields["Name"] != "Shaped" || fields["Industry"] != "Energy" || !dateTime.MatchString(fmt.Sprint(fields["CreatedDate"])) || fields["OwnerId"] == nil {
				t.Errorf("create: %v %v", h.ChangedFields, fields)
			}
			for k, v := range fields {
				if v == nil {
					t.Errorf("create carries the null field %s", k)
				}
			}
		case "UPDATE":
			if len(h.ChangedFields) != 3 || !slices.Contains(h.ChangedFields, "Industry") || !slices.Contains(h.ChangedFields, "Phone") || h.ChangedFields[2] != "LastModifiedDate" || !dateTime.MatchString(fmt.Sprint(fields["LastModifiedDate"])) ||
				fields["Phone"] != "4155551212" || fields["Name"] != nil || len(fields) != 3 {
				t.Errorf("update: %v %v", h.ChangedFields, fields)
			}
		case "DELETE":
			if len(fields) != 0 || len(h.ChangedFields) != 0 {
				t.Errorf("delete: %v %v", h.ChangedFields, fields)
			}
		default:
			t.Errorf("event %d is a %s", i, h.ChangeType)
		}
		if h.RecordIDs[0] != id || h.CommitUser != org.UserID() || h.EntityName != "Account" || h.SequenceNumber != 1 {
			t.Errorf("%s: %+v", h.ChangeType, h)
		}
	}
}

// changeOrigin names the API, the version of the call and the client named in Sforce-Call-Options
// (so a client can recognise its own writes); edits made by a user in the UI come from SfdcInternalAPI.
func TestChangeOriginNamesTheAPIVersionAndClient(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1, ControlToken: "test-control-token"})
	s := subscribe(t, a.base, a.token, "/data/AccountChangeEvent", org.NewestReplayID())
	a.do("POST", "/services/data/v59.0/sobjects/Account", map[string]any{"Name": "REST with client"}, "Sforce-Call-Options", "client=pgforce/test, defaultNamespace=x")
	a.do("POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "REST without"})
	a.do("POST", "/services/data/v61.0/composite/sobjects", map[string]any{"records": []map[string]any{{"attributes": map[string]string{"type": "Account"}, "Name": "Collection"}}}, "Sforce-Call-Options", "client=coll")
	_, _ = org.CreateAsUser("Account", map[string]any{"Name": "A user"})
	want := []string{"com/salesforce/api/rest/59.0;client=pgforce/test", "com/salesforce/api/rest/62.0", "com/salesforce/api/rest/61.0;client=coll", uiOrigin}
	for _, w := range want {
		if got := s.next().Header.ChangeOrigin; got != w {
			t.Errorf("changeOrigin %q, want %q", got, w)
		}
	}
	if !strings.HasPrefix(uiOrigin, "com/salesforce/api/soap/") {
		t.Fatal(uiOrigin)
	}
}

func TestBulkAPIChangesComeFromTheBulkAPI(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1, ControlToken: "test-control-token"})
	s := subscribe(t, a.base, a.token, "/data/LeadChangeEvent", org.NewestReplayID())
	_, body := a.do("POST", "/services/data/v62.0/jobs/ingest", map[string]any{"object": "Lead", "operation": "insert"}, "Sforce-Call-Options", "client=loader")
	job := decodeJSON[map[string]any](t, body)["id"].(string)
	a.do("PUT", "/services/data/v62.0/jobs/ingest/"+job+"/batches", "LastName,Company\nBulk,Co\n", "Content-Type", "text/csv")
	a.do("PATCH", "/services/data/v62.0/jobs/ingest/"+job, map[string]any{"state": "UploadComplete"})
	if got := s.next().Header.ChangeOrigin; got != "com/salesforce/api/bulkapi/62.0;client=loader" {
		t.Fatalf("changeOrigin %q", got)
	}
}

// Deleting several records in one call is one event listing them all, as is writing the same values
// to several records; different values stay separate events of one transaction.
func TestTheSameChangeToSeveralRecordsInOneCallIsOneEvent(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1, ControlToken: "test-control-token"})
	var ids []string
	for i := range 3 {
		id, _ := org.CreateAsUser("Account", map[string]any{"Name": fmt.Sprint("Merge ", i)})
		ids = append(ids, id)
	}
	s := subscribe(t, a.base, a.token, "/data/ChangeEvents", org.NewestReplayID())
	recs := func(fields func(i int) map[string]any) map[string]any {
		var rs []map[string]any
		for i, id := range ids {
			r := map[string]any{"attributes": map[string]string{"type": "Account"}, "Id": id}
			for k, v := range fields(i) {
				r[k] = v
			}
			rs = append(rs, r)
		}
		return map[string]any{"records": rs}
	}
	a.do("PATCH", "/services/data/v62.0/composite/sobjects", recs(func(int) map[string]any { return map[string]any{"Rating": "Hot"} }))
	a.do("PATCH", "/services/data/v62.0/composite/sobjects", recs(func(i int) map[string]any { return map[string]any{"Rating": []string{"Hot", "Warm", "Cold"}[i]} }))
	a.do("DELETE", "/services/data/v62.0/composite/sobjects?ids="+strings.Join(ids, ","), nil)
	evs := s.upTo(marker(t, org))
	var got []string
	for _, e := range evs {
		got = append(got, fmt.Sprintf("%s×%d#%d", e.Header.ChangeType, len(e.Header.RecordIDs), e.Header.SequenceNumber))
	}
	if want := "UPDATE×3#1 UPDATE×1#1 UPDATE×1#2 UPDATE×1#3 DELETE×3#1"; strings.Join(got, " ") != want {
		t.Fatalf("events %v, want %s", got, want)
	}
	if !slices.Equal(evs[4].Header.RecordIDs, ids) || evs[1].Header.TransactionKey != evs[3].Header.TransactionKey || evs[0].Header.TransactionKey == evs[1].Header.TransactionKey {
		t.Fatalf("merged ids or transaction keys: %+v", evs)
	}
}

// Only objects selected for Change Data Capture publish; an unselected object's channel does not
// exist. The selection is the org's control API's to change.
func TestOnlyEntitiesSelectedForChangeDataCapturePublish(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1, ControlToken: "test-control-token"})
	if !slices.Contains(org.CDCEntities(), "Lead") {
		t.Fatalf("a demo org selects its objects: %v", org.CDCEntities())
	}
	if fresh := New(Options{}); len(fresh.CDCEntities()) != 0 {
		t.Fatalf("a new org selects nothing, as Salesforce's: %v", fresh.CDCEntities())
	}
	ctl := func(method, path string, body any) (int, map[string]any) {
		res, raw := a.do(method, path, body, "Authorization", "Bearer test-control-token")
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return res.StatusCode, out
	}
	if code, out := ctl("DELETE", "/_sforg/cdc/entities/Lead", nil); code != 200 || strings.Contains(fmt.Sprint(out["entities"]), "Lead") {
		t.Fatalf("deselect: %d %v", code, out)
	}
	all := subscribe(t, a.base, a.token, "/data/ChangeEvents", org.NewestReplayID())
	_, _ = org.CreateAsUser("Lead", map[string]any{"LastName": "Unselected", "Company": "X"})
	if evs := all.upTo(marker(t, org)); len(evs) != 0 {
		t.Fatalf("an unselected object published %+v", evs)
	}
	leads := subscribe(t, a.base, a.token, "/data/LeadChangeEvent", org.NewestReplayID())
	select {
	case err := <-leads.errs:
		if !errors.Is(err, bayeux.ErrNoChannel) || !strings.Contains(err.Error(), "400::The channel you requested to subscribe to does not exist {/data/LeadChangeEvent}") {
			t.Fatalf("subscribing to an unselected object: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("subscribing to an unselected object was not refused")
	}
	if code, out := ctl("PUT", "/_sforg/cdc", map[string]any{"entities": []string{"Account", "Contact", "Nope__c"}}); code != 400 || !strings.Contains(fmt.Sprint(out["error"]), "Nope__c") {
		t.Fatalf("selecting a missing object: %d %v", code, out)
	}
	if code, _ := ctl("POST", "/_sforg/cdc/entities/Lead", nil); code != 200 {
		t.Fatal(code)
	}
	leads = subscribe(t, a.base, a.token, "/data/LeadChangeEvent", org.NewestReplayID())
	id, _ := org.CreateAsUser("Lead", map[string]any{"LastName": "Selected", "Company": "X"})
	if e := leads.next(); e.Header.RecordIDs[0] != id {
		t.Fatalf("%+v", e)
	}
}

// Past the overflow threshold, a transaction's remaining changes are one GAP_OVERFLOW event per
// entity with the empty record id (Salesforce: past 100,000 changes).
func TestATransactionPastTheOverflowThresholdEndsInOverflowEvents(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1, ControlToken: "test-control-token"})
	if res, raw := a.do("PUT", "/_sforg/cdc", map[string]any{"overflowThreshold": 3}, "Authorization", "Bearer test-control-token"); res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, raw)
	}
	s := subscribe(t, a.base, a.token, "/data/ChangeEvents", org.NewestReplayID())
	var recs []map[string]any
	for i := range 5 {
		recs = append(recs, map[string]any{"attributes": map[string]string{"type": "Account"}, "Name": fmt.Sprint("Bulk ", i)})
	}
	recs = append(recs, map[string]any{"attributes": map[string]string{"type": "Contact"}, "LastName": "Late"})
	a.do("POST", "/services/data/v62.0/composite/sobjects", map[string]any{"records": recs})
	org.SetOverflowThreshold(0)
	var got []string
	for _, e := range s.upTo(marker(t, org)) {
		got = append(got, e.Header.ChangeType+" "+e.Header.EntityName+" "+strings.Join(e.Header.RecordIDs, ",")[:3])
	}
	want := "CREATE Account 001,CREATE Account 001,CREATE Account 001,GAP_OVERFLOW Account 000,GAP_OVERFLOW Contact 000"
	if strings.Join(got, ",") != want {
		t.Fatalf("events %v,\nwant %s", got, want)
	}
}

// A change made in the database (Gap) moves neither SystemModstamp nor LastModifiedDate and has no
// change event: a gap event names the records, without their fields.
func TestADatabaseLevelChangePublishesAGapEvent(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1, ControlToken: "test-control-token"})
	id, _ := org.CreateAsUser("Account", map[string]any{"Name": "Archived", "Rating": "Hot"})
	before := org.Record("Account", id)
	s := subscribe(t, a.base, a.token, "/data/AccountChangeEvent", org.NewestReplayID())
	res, raw := a.do("POST", "/_sforg/cdc/gap", map[string]any{"Object": "Account", "Type": "UPDATE", "IDs": []string{id}, "Fields": map[string]any{"Rating": "Cold"}},
		"Authorization", "Bearer test-control-token")
	if res.StatusCode != 200 {
		t.Fatalf("%d %s", res.StatusCode, raw)
	}
	e := s.next()
	if e.Header.ChangeType != "GAP_UPDATE" || !slices.Equal(e.Header.RecordIDs, []string{id}) || len(e.Fields) != 0 || len(e.Header.ChangedFields) != 0 || e.Header.ChangeOrigin != "" {
		t.Fatalf("gap event: %+v %s", e.Header, e.Fields)
	}
	after := org.Record("Account", id)
	if after["Rating"] != "Cold" || !after["SystemModstamp"].(time.Time).Equal(before["SystemModstamp"].(time.Time)) {
		t.Fatalf("after a database-level change: %v (stamp was %v)", after, before["SystemModstamp"])
	}
	if _, err := org.Gap(GapChange{Object: "Account", Type: "DELETE", IDs: []string{id}}); err != nil {
		t.Fatal(err)
	}
	if e := s.next(); e.Header.ChangeType != "GAP_DELETE" || org.Record("Account", id) != nil {
		t.Fatalf("gap delete: %+v", e.Header)
	}
	for _, bad := range []GapChange{{Object: "Nope"}, {Object: "Account", Type: "UPDATE"}, {Object: "Account", Type: "MERGE", IDs: []string{id}}} {
		if _, err := org.Gap(bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

// cometdReplay subscribes from a replay id and returns the replay ids of the first n events.
func cometdReplay(t *testing.T, org *Org, base, channel string, from int64, n int) []int64 {
	t.Helper()
	a := &api{t: t, base: base, c: http.DefaultClient}
	_, body := a.form("/services/oauth2/token", url.Values{"grant_type": {"password"}, "client_id": {DemoClientID},
		"client_secret": {DemoClientSecret}, "username": {DemoUsername}, "password": {DemoPassword}})
	var tok map[string]string
	_ = json.Unmarshal(body, &tok)
	s := subscribe(t, base, tok["access_token"], channel, from)
	var out []int64
	for range n {
		out = append(out, s.next().ReplayID)
	}
	return out
}

// The org counts API usage by the client each call names in Sforce-Call-Options, as Salesforce
// reports usage by client: a composite call counts once for its client, and a call naming none is
// the "" client's.
func TestAPIUsageIsCountedByTheClientACallNames(t *testing.T) {
	t.Parallel()
	org, a := login(t, Options{Seed: 1})
	before := org.APICallsByClient()
	a.do("POST", "/services/data/v62.0/sobjects/Account", map[string]any{"Name": "By writer"}, "Sforce-Call-Options", "client=pgforce/writer")
	a.do("POST", "/services/data/v62.0/composite/sobjects", map[string]any{"records": []map[string]any{{"attributes": map[string]string{"type": "Account"}, "Name": "Two"}}}, "Sforce-Call-Options", "defaultNamespace=x, client=pgforce/writer")
	a.do("GET", "/services/data/v62.0/query?q=SELECT+Id+FROM+Account", nil)
	after := org.APICallsByClient()
	if got := after["pgforce/writer"]["sobject"] + after["pgforce/writer"]["composite"] - before["pgforce/writer"]["sobject"] - before["pgforce/writer"]["composite"]; got != 2 {
		t.Fatalf("pgforce/writer: %v then %v, want 2 more calls", before["pgforce/writer"], after["pgforce/writer"])
	}
	if got := after[""]["query"] - before[""]["query"]; got != 1 {
		t.Fatalf("no client: %v then %v, want 1 more query", before[""], after[""])
	}
}
