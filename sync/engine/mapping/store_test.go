package mapping_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/store/storetest"
)

// ListStates is what every dashboard refresh and every syncer step reads of a connection's mappings:
// each one's state and settings without its fields. It must say exactly what List says of them.
func TestListStatesSaysWhatListSaysButTheFields(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, schema := storetest.Pool(t)
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	connID, err := connection.Insert(ctx, tx, connection.Row{Name: "acme", Schema: schema + "_sf", OrgType: connection.Production, LoginURL: "https://login.salesforce.com", APIVersion: "62.0"})
	if err != nil {
		t.Fatal(err)
	}
	applied := time.Date(2026, 12, 4, 10, 30, 0, 0, time.UTC)
	plain := mapping.NewConfig("Name")
	full := mapping.NewConfig("Name", "Email__c")
	full.Access, full.SFNotifyEnabled, full.SFPollingSeconds, full.SFMaxDailyAPICalls = mapping.ReadWrite, true, 120, 500
	full.UpsertField, full.AppliedAt = "Email__c", &applied
	full.Indexes["Email__c"] = mapping.IndexOption{Unique: true}
	full.PGForce = &mapping.Extra{RecordFilter: "Rating = 'Hot'", ConflictPolicy: "newest_wins"}
	onlyPolicy := mapping.NewConfig("Name")
	onlyPolicy.PGForce = &mapping.Extra{ConflictPolicy: "manual"}
	fields := []table.Field{{Name: "Name", Type: "string", Length: 80}}
	for object, cfg := range map[string]mapping.Config{"Account": plain, "Contact": full, "Lead": onlyPolicy} {
		if _, err := mapping.Insert(ctx, tx, connID, object, cfg, fields); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE mappings SET drift = '[{"field":"Name","was":"varchar(80)","now":"varchar(255)","widen":true}]',
		backfill = '[{"name":"Name","type":"string","length":80}]', state_reason = 'why', load_done = 7, sf_count = 12, sf_count_at = now(), count_drift = 1, last_poll_at = now(), load_expected = 9, load_started_at = now() WHERE object_name = 'Contact'`); err != nil {
		t.Fatal(err)
	}

	all, err := mapping.List(ctx, tx, connID)
	if err != nil {
		t.Fatal(err)
	}
	states, err := mapping.ListStates(ctx, tx, connID)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(all) {
		t.Fatalf("ListStates: %d mappings, List: %d", len(states), len(all))
	}
	for i, m := range all {
		want := m
		want.AppliedFields, want.Config.Fields, want.Config.Indexes = nil, nil, nil
		if got := states[i]; !same(got, want) {
			t.Errorf("%s:\nListStates %+v\nList       %+v", m.Object, got, want)
		}
	}
	if states[1].Config.Filter() != "Rating = 'Hot'" || states[1].Config.ConflictPolicy() != "newest_wins" || states[2].Config.ConflictPolicy() != "manual" {
		t.Errorf("pgforce's own settings lost: %+v %+v", states[1].Config.PGForce, states[2].Config.PGForce)
	}

	// The Mappings page shows the mappings its diagnosis listed: as Summaries would show them.
	summaries, err := mapping.Summaries(ctx, tx, connID)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range states {
		if got, want := mapping.SummaryOf(m), summaries[i]; mustJSON(got) != mustJSON(want) {
			t.Errorf("%s:\nSummaryOf %+v\nSummaries %+v", m.Object, got, want)
		}
	}

	accelerated, err := mapping.ListAccelerated(ctx, tx, connID)
	if err != nil {
		t.Fatal(err)
	}
	if len(accelerated) != 1 || accelerated[0].Object != "Contact" {
		t.Errorf("ListAccelerated lists only the accelerated mapping, got %d: %+v", len(accelerated), accelerated)
	}
}

// same compares two mappings field by field (times by instant).
func same(a, b mapping.Mapping) bool {
	ja, jb := mustJSON(a), mustJSON(b)
	return ja == jb
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
