package diagnose_test

import (
	"strconv"
	"strings"
	"testing"

	"pgforce/sync/diagnose"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
)

// healthyBench is an authorized, IDLE connection with an Account mapping that just polled.
func healthyBench(t *testing.T) (*enginetest.Harness, diagnose.Checker, mapping.Mapping) {
	t.Helper()
	b := enginetest.New(t, enginetest.Options{Seed: 3, NoStart: true})
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", mapping.NewConfig("Name"))
	if err != nil {
		t.Fatal(err)
	}
	b.Exec(`UPDATE connections SET state = 'IDLE' WHERE id = $1`, b.Conn.ID)
	b.Exec(`UPDATE mappings SET state = 'DATA_SYNCED', last_poll_at = now() WHERE id = $1`, m.ID)
	return b, diagnose.Checker{Connections: b.Admin.Connections, Mappings: b.Admin.Mappings, Reports: report.New(b.Pool)}, m
}

func result(t *testing.T, r diagnose.Report, rule string) diagnose.Result {
	t.Helper()
	for _, res := range r.Results {
		if res.RuleID == rule {
			return res
		}
	}
	t.Fatalf("no %s result in %+v", rule, r.Results)
	return diagnose.Result{}
}

func TestAHealthySyncingConnectionIsGreen(t *testing.T) {
	t.Parallel()
	b, k, _ := healthyBench(t)
	r, err := k.Run(b.Ctx, b.Conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != diagnose.Green {
		t.Fatalf("status %s: %+v", r.Status, r.Results)
	}
	for _, res := range r.Results {
		if res.Status != diagnose.Green && res.Status != diagnose.Skipped {
			t.Errorf("%s is %s: %s", res.RuleID, res.Status, res.Message)
		}
	}
	if res := result(t, r, "API_USAGE"); res.Status != diagnose.Skipped {
		t.Errorf("API usage never reported must be skipped: %+v", res)
	}
}

func TestEveryProblemIsReportedWithItsFix(t *testing.T) {
	t.Parallel()
	b, k, m := healthyBench(t)
	sch := b.Conn.Schema
	b.Exec(`INSERT INTO ` + sch + `._trigger_log (state, action, table_name, record_id, sf_message, created_at, updated_at)
		VALUES ('FAILED', 'UPDATE', 'account', 1, 'FIELD_CUSTOM_VALIDATION_EXCEPTION', now(), now()),
		       ('NEW', 'UPDATE', 'account', 2, NULL, now() - interval '2 hours', now() - interval '2 hours')`)
	b.Exec(`DROP INDEX ` + sch + `.hcu_idx_account_sfid`)
	b.Exec(`UPDATE mappings SET last_poll_at = now() - interval '2 hours',
		drift = '[{"field":"Name","was":"varchar(255)","now":"varchar(300)","fix":"Edit the mapping and click Save.","widen":true}]' WHERE id = $1`, m.ID)
	b.Exec(`INSERT INTO api_usage (connection_id, used, max) VALUES ($1, 95000, 100000)`, b.Conn.ID)

	r, err := k.Run(b.Ctx, b.Conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != diagnose.Red {
		t.Fatalf("overall %s", r.Status)
	}
	for rule, want := range map[string]diagnose.Status{
		"FAILED_WRITES":       diagnose.Red,
		"TRIGGER_LOG_BACKLOG": diagnose.Red,
		"SYNC_INDEXES":        diagnose.Red,
		"STALE_POLLING":       diagnose.Yellow,
		"API_USAGE":           diagnose.Red,
		"FIELDS_DRIFTED":      diagnose.Yellow,
		"MAPPINGS_IN_ERROR":   diagnose.Green,
	} {
		res := result(t, r, rule)
		if res.Status != want {
			t.Errorf("%s: %s, want %s (%s)", rule, res.Status, want, res.Message)
		}
		if want != diagnose.Green && res.Fix == "" {
			t.Errorf("%s has no fix", rule)
		}
	}
	if res := result(t, r, "SYNC_INDEXES"); !strings.Contains(res.Message, "account.sfid") {
		t.Errorf("index message: %s", res.Message)
	}
	if res := result(t, r, "FIELDS_DRIFTED"); !strings.Contains(res.Fix, "Edit the mapping") {
		t.Errorf("drift fix: %s", res.Fix)
	}
}

func TestLostAuthorizationAndStoppedMappingsAreRed(t *testing.T) {
	t.Parallel()
	b, k, m := healthyBench(t)
	b.Exec(`UPDATE connections SET state = 'NEED_AUTHENTICATION' WHERE id = $1`, b.Conn.ID)
	b.Exec(`UPDATE mappings SET state = 'BAD_CONFIG', state_changed_at = now() - interval '1 day' WHERE id = $1`, m.ID)
	r, err := k.Run(b.Ctx, b.Conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if res := result(t, r, "SALESFORCE_AUTHORIZATION"); res.Status != diagnose.Red || !strings.Contains(res.Fix, "Re-authorize") {
		t.Errorf("authorization: %+v", res)
	}
	if res := result(t, r, "MAPPINGS_IN_ERROR"); res.Status != diagnose.Red || !strings.Contains(res.Message, "Account (BAD_CONFIG)") {
		t.Errorf("mappings: %+v", res)
	}
	if res := result(t, r, "STALE_POLLING"); res.Status != diagnose.Skipped {
		t.Errorf("polling is not expected while unauthorized: %+v", res)
	}
}

// "Healthy" is said only when no rule finds anything; each problem names its mapping and its fix.
func TestHealthyIsClaimedOnlyWhenNothingIsWrong(t *testing.T) {
	t.Parallel()
	b, k, m := healthyBench(t)
	r, err := k.Run(b.Ctx, b.Conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Healthy() || !strings.HasPrefix(r.Summary(), "Healthy") {
		t.Fatalf("a syncing connection: %s %+v", r.Summary(), r.Problems)
	}
	for name, arrange := range map[string]string{
		"a write refused three days ago":  `INSERT INTO $schema._trigger_log (state, action, table_name, record_id, sf_message, created_at, updated_at) VALUES ('FAILED', 'INSERT', 'account', 1, 'REQUIRED_FIELD_MISSING', now() - interval '3 days', now() - interval '3 days')`,
		"a mapping in SYSTEM_ERROR":       `UPDATE mappings SET state = 'SYSTEM_ERROR', state_reason = 'poll failed' WHERE id = $mapping`,
		"a connection to re-authorize":    `UPDATE connections SET state = 'NEED_AUTHENTICATION' WHERE id = $conn`,
		"a change waiting for 3 minutes":  `INSERT INTO $schema._trigger_log (state, action, table_name, record_id, created_at, updated_at) VALUES ('NEW', 'UPDATE', 'account', 2, now() - interval '3 minutes', now())`,
		"a poll overdue by an interval":   `UPDATE mappings SET next_poll_at = now() - interval '11 minutes' WHERE id = $mapping`,
		"an aborted load":                 `UPDATE mappings SET state = 'ABORTED' WHERE id = $mapping`,
		"a field Salesforce now requires": `UPDATE mappings SET drift = '[{"field":"Phone","was":"not mapped","now":"required to create records","fix":"Account.Phone is required to create Account records","required":true}]' WHERE id = $mapping`,
		"a paused connection":             `UPDATE connections SET state = 'PAUSED' WHERE id = $conn`,
	} {
		t.Run(name, func(t *testing.T) {
			b, k, m := healthyBench(t)
			sql := strings.NewReplacer("$schema", b.Conn.Schema, "$mapping", itoa(m.ID), "$conn", itoa(b.Conn.ID)).Replace(arrange)
			b.Exec(sql)
			r, err := k.Run(b.Ctx, b.Conn.ID)
			if err != nil {
				t.Fatal(err)
			}
			worst, ok := r.Worst()
			if r.Healthy() || !ok || strings.HasPrefix(r.Summary(), "Healthy") || r.Status == diagnose.Green {
				t.Fatalf("claims health: %s (%s)", r.Summary(), r.Status)
			}
			if worst.Fix == "" || worst.FixURL == "" || worst.Message == "" || !strings.Contains(r.Summary(), strings.TrimSuffix(worst.Message, ".")) {
				t.Fatalf("the worst problem says what to do and where: %+v", worst)
			}
		})
	}
	b.Exec(`INSERT INTO ` + b.Conn.Schema + `._trigger_log (state, action, table_name, record_id, sf_message, created_at, updated_at)
		VALUES ('FAILED', 'INSERT', 'account', 1, 'REQUIRED_FIELD_MISSING', now() - interval '3 days', now() - interval '3 days')`)
	if r, _ = k.Run(b.Ctx, b.Conn.ID); len(r.Of(m.ID)) != 1 || r.Of(m.ID)[0].RuleID != "FAILED_WRITES" || r.Of(m.ID)[0].FixURL != "/activity?mapping="+itoa(m.ID) ||
		!strings.Contains(r.Summary(), "Salesforce refused 1 write of Account (the oldest 3 days ago)") {
		t.Fatalf("a failed write belongs to its mapping until it is resolved: %s %+v", r.Summary(), r.Problems)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestAnAcceleratedMappingThatDoesNotStreamIsAProblem(t *testing.T) {
	t.Parallel()
	b, k, m := healthyBench(t)
	b.Exec(`UPDATE mappings SET config = jsonb_set(config, '{sf_notify_enabled}', 'true'),
		stream_note = 'Not streaming: Salesforce publishes no change events for Account.' WHERE id = $1`, m.ID)
	r, err := k.Run(b.Ctx, b.Conn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ps := r.Of(m.ID); len(ps) != 1 || ps[0].RuleID != "STREAMING" || ps[0].Status != diagnose.Yellow || !strings.Contains(ps[0].Message, "publishes no change events") {
		t.Fatalf("problems: %+v", r.Problems)
	}
}

// A change held as a manual conflict waits for an admin: fine for a while, flagged yellow once held
// longer than HeldAge and red after HeldAgeRed, with the Conflicts page as the fix.
func TestConflictsHeldTooLongAreFlagged(t *testing.T) {
	t.Parallel()
	b, k, m := healthyBench(t)
	hold := func(age string) {
		b.Exec(`DELETE FROM ` + b.Conn.Schema + `._trigger_log`)
		b.Exec(`INSERT INTO ` + b.Conn.Schema + `._trigger_log (state, action, table_name, record_id, created_at, updated_at)
			VALUES ('CONFLICT', 'UPDATE', 'account', 1, now() - interval '` + age + `' - interval '1 minute', now() - interval '` + age + `')`)
	}
	for _, tc := range []struct {
		age  string
		want diagnose.Status
	}{{"10 minutes", diagnose.Green}, {"2 hours", diagnose.Yellow}, {"2 days", diagnose.Red}} {
		hold(tc.age)
		r, err := k.Run(b.Ctx, b.Conn.ID)
		if err != nil {
			t.Fatal(err)
		}
		res := result(t, r, "HELD_CONFLICTS")
		if res.Status != tc.want {
			t.Fatalf("held %s: %s, want %s (%s)", tc.age, res.Status, tc.want, res.Message)
		}
		if tc.want == diagnose.Green {
			if !strings.Contains(res.Message, "1 conflict held for an admin") {
				t.Fatalf("held %s: %s", tc.age, res.Message)
			}
			continue
		}
		if !strings.Contains(res.Message, "1 change of Account is held as a conflict") || !strings.Contains(res.Fix, "Keep Postgres or Keep Salesforce") {
			t.Fatalf("held %s: %+v", tc.age, res)
		}
		if ps := r.Of(m.ID); len(ps) != 1 || ps[0].RuleID != "HELD_CONFLICTS" || ps[0].FixURL != "/conflicts?mapping="+itoa(m.ID) {
			t.Fatalf("held %s: problems %+v", tc.age, ps)
		}
		if res := result(t, r, "TRIGGER_LOG_BACKLOG"); res.Status != diagnose.Green {
			t.Fatalf("a held conflict is no backlog: %+v", res)
		}
	}
}
