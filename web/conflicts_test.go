package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"pgforce/internal/apitoken"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
)

func TestAPIListsConflictsAndKeepsOneSideOfAHeldOne(t *testing.T) {
	t.Parallel()
	a := newAPIAppWith(t, enginetest.Options{})
	b := a.b
	b.ConnState(connection.Idle)
	conn := itoa(b.Conn.ID)
	body := func(policy string) string {
		return `{"object_name": "Invoice__c", "config": {"access": "read_write", "upsert_field": "External_Id__c",
			"fields": {"Amount__c": {}, "External_Id__c": {}}, "pgforce": {"conflict_policy": "` + policy + `"}}}`
	}
	if e := decode[apiError](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+conn+"/mappings", body("sometimes"), 422)); !strings.Contains(e.Message, "conflict policy") {
		t.Fatalf("unknown policy: %+v", e)
	}
	m := decode[struct {
		ID     int64          `json:"id"`
		Config mapping.Config `json:"config"`
	}](t, a.as(apitoken.Admin, "POST", "/api/v3/connections/"+conn+"/mappings", body("manual"), 201))
	if m.Config.ConflictPolicy() != "manual" {
		t.Fatalf("config %+v", m.Config)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	b.Exec(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('API-1', 1)`)
	var sfid string
	var stamp time.Time
	b.Eventually("the record written and polled back", 10*time.Second, func() (bool, string) {
		err := b.Pool.QueryRow(b.Ctx, `SELECT sfid, systemmodstamp FROM `+b.Schema+`.invoice__c WHERE sfid IS NOT NULL AND systemmodstamp IS NOT NULL`).Scan(&sfid, &stamp)
		return err == nil, fmt.Sprint(err)
	})
	if err := b.Admin.Connections.Pause(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	b.ConnState(connection.Paused)
	b.Eventually("a later second", 3*time.Second, func() (bool, string) { return time.Now().UTC().Truncate(time.Second).After(stamp), "" })
	b.Exec(`UPDATE $schema.invoice__c SET amount__c = 7`)
	if err := b.Org.Update("Invoice__c", sfid, map[string]json.RawMessage{"Amount__c": json.RawMessage("50")}, "test"); err != nil {
		t.Fatal(err)
	}
	if err := b.Admin.Connections.Resume(b.Ctx, enginetest.Admin, b.Conn.ID); err != nil {
		t.Fatal(err)
	}
	type apiConflict struct {
		ID               int64          `json:"id"`
		SFID             string         `json:"sfid"`
		Kind             string         `json:"kind"`
		Outcome          string         `json:"outcome"`
		Policy           string         `json:"policy"`
		PostgresValues   map[string]any `json:"postgres_values"`
		SalesforceValues map[string]any `json:"salesforce_values"`
		ResolvedBy       string         `json:"resolved_by"`
	}
	var list struct {
		Count   int           `json:"count"`
		Results []apiConflict `json:"results"`
	}
	b.Eventually("the conflict to be listed", 10*time.Second, func() (bool, string) {
		list = decode[struct {
			Count   int           `json:"count"`
			Results []apiConflict `json:"results"`
		}](t, a.as(apitoken.Viewer, "GET", "/api/v3/connections/"+conn+"/conflicts?held=true", "", 200))
		return list.Count == 1, fmt.Sprint(list)
	})
	c := list.Results[0]
	if c.SFID != sfid || c.Kind != "update_update" || c.Outcome != "held" || c.Policy != "manual" || c.PostgresValues["Amount__c"] != 7.0 || c.SalesforceValues["Amount__c"] != 50.0 {
		t.Fatalf("conflict %+v", c)
	}
	if res := a.as(apitoken.Metrics, "GET", "/metrics", "", 200); !strings.Contains(res.body, `pgforce_conflicts_total{connection="`+b.Conn.Name+`",object="Invoice__c",outcome="held"} 1`) {
		t.Fatalf("metrics: %s", res.body)
	}
	keep := "/api/v3/conflicts/" + itoa(c.ID) + "/actions/keep"
	a.as(apitoken.Viewer, "POST", keep, `{"keep": "postgres"}`, 403)
	a.as(apitoken.Admin, "POST", keep, `{"keep": "both"}`, 422)
	got := decode[apiConflict](t, a.as(apitoken.Admin, "POST", keep, `{"keep": "postgres"}`, 200))
	if got.Outcome != "kept_postgres" || got.ResolvedBy == "" {
		t.Fatalf("kept: %+v", got)
	}
	a.as(apitoken.Admin, "POST", keep, `{"keep": "postgres"}`, 409)
	b.Eventually("the kept change in Salesforce", 10*time.Second, func() (bool, string) {
		rec := b.Org.Record("Invoice__c", sfid)
		return rec["Amount__c"] == 7.0, fmt.Sprint(rec["Amount__c"])
	})
}
