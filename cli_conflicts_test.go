package main

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store/storetest"
)

type cliConflict struct {
	ID               int64          `json:"id"`
	ObjectName       string         `json:"object_name"`
	SFID             string         `json:"sfid"`
	Kind             string         `json:"kind"`
	PostgresValues   map[string]any `json:"postgres_values"`
	SalesforceValues map[string]any `json:"salesforce_values"`
	Outcome          string         `json:"outcome"`
	ResolvedBy       string         `json:"resolved_by"`
}

// pgforce conflicts lists a connection's conflicts (all, a mapping's, the held ones) with both
// versions; conflicts keep resolves a held one once (audited, its change queued again); retry
// --mapping --code acts on a mapping's failed writes by error code.
func TestCLIListsAndResolvesConflictsAndRetriesByCode(t *testing.T) {
	t.Parallel()
	env, _, loginURL := cliEnv(t)
	schema := env["PGFORCE_DB_SCHEMA"] + "_sf"
	c := jsonOut[cliConnection](t, env, "connection", "create", "--name", "acme", "--schema", schema, "--login-url", loginURL,
		"--org-type", "simulated", "--username", sforg.DemoUsername, "--password", sforg.DemoPassword)
	if out, err := runCmd(t, env, "", "mapping", "create", "Account", "--fields", "Name", "--access", "read_write"); err != nil {
		t.Fatalf("mapping create: %v\n%s", err, out)
	}
	if out, err := runCmd(t, env, "", "conflicts"); err != nil || strings.TrimSpace(out) != "no conflicts" {
		t.Fatalf("no conflicts yet: %v\n%s", err, out)
	}

	db, err := pgx.Connect(context.Background(), storetest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := db.Exec(context.Background(), sql, args...); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	app := env["PGFORCE_DB_SCHEMA"]
	// A change held as a manual conflict of Account, and one Postgres won of another record.
	exec(`INSERT INTO ` + schema + `._trigger_log (id, state, action, table_name, record_id, sfid, updated_at)
		VALUES (500, 'CONFLICT', 'UPDATE', 'account', 1, '001000000000001AAA', now())`)
	exec(`INSERT INTO `+app+`.conflicts (connection_id, mapping_id, object_name, table_name, record_id, sfid, trigger_log_id, kind,
			postgres_values, salesforce_values, sf_modified_by, policy, outcome, resolved_at, resolved_by)
		SELECT $1::bigint, m.id, 'Account', 'account', 1, '001000000000001AAA', 500, 'update_update', '{"Name":"Acme PG"}'::jsonb, '{"Name":"Acme SF"}'::jsonb, '005A', 'manual', 'held', NULL::timestamptz, ''
		FROM `+app+`.mappings m WHERE m.object_name = 'Account'
		UNION ALL
		SELECT $1::bigint, m.id, 'Account', 'account', 2, '001000000000002AAA', 499, 'update_update', '{"Name":"B PG"}', '{"Name":"B SF"}', '005A', 'postgres_wins', 'postgres_won', now(), 'policy'
		FROM `+app+`.mappings m WHERE m.object_name = 'Account'`, c.ID)

	out, err := runCmd(t, env, "", "conflicts", "--mapping", "Account")
	if err != nil || !strings.Contains(out, "Name=Acme PG|Acme SF") || !strings.Contains(out, "held") || !strings.Contains(out, "postgres_won") ||
		!strings.Contains(out, "SF_MODIFIED_BY") {
		t.Fatalf("conflicts --mapping Account: %v\n%s", err, out)
	}
	held := jsonOut[list[cliConflict]](t, env, "conflicts", "--held")
	if held.Count != 1 || held.Results[0].SFID != "001000000000001AAA" || held.Results[0].Outcome != "held" ||
		held.Results[0].PostgresValues["Name"] != "Acme PG" || held.Results[0].SalesforceValues["Name"] != "Acme SF" {
		t.Fatalf("conflicts --held: %+v", held)
	}
	id := strconv.FormatInt(held.Results[0].ID, 10)
	if _, err := runCmd(t, env, "", "conflicts", "keep", id, "both"); err == nil {
		t.Fatal("keeping neither side is refused")
	}
	if out, err := runCmd(t, env, "", "conflicts", "keep", id, "postgres"); err != nil || !strings.Contains(out, "conflict "+id+" on Account 001000000000001AAA") {
		t.Fatalf("conflicts keep: %v\n%s", err, out)
	}
	if _, err := runCmd(t, env, "", "conflicts", "keep", id, "salesforce"); err == nil {
		t.Fatal("a conflict is resolved once")
	}
	var state, audited string
	_ = db.QueryRow(context.Background(), `SELECT state FROM `+schema+`._trigger_log WHERE id = 500`).Scan(&state)
	_ = db.QueryRow(context.Background(), `SELECT actor || ' ' || detail FROM `+app+`.audit_log WHERE action = 'conflict.resolve'`).Scan(&audited)
	if state != "REQUEUE" || audited != "cli:ops kept postgres" {
		t.Fatalf("after keep: trigger log %q, audit %q", state, audited)
	}
	if held := jsonOut[list[cliConflict]](t, env, "conflicts", "--held"); held.Count != 0 {
		t.Fatalf("still held: %+v", held)
	}

	// Failed writes by error code.
	exec(`INSERT INTO ` + schema + `._trigger_log (id, state, action, table_name, record_id, sf_message, updated_at) VALUES
		(601, 'FAILED', 'UPDATE', 'account', 1, '[{"statusCode":"STRING_TOO_LONG","message":"Name: too long"}]', now()),
		(602, 'FAILED', 'UPDATE', 'account', 2, '[{"statusCode":"STRING_TOO_LONG","message":"Name: too long"}]', now())`)
	if _, err := runCmd(t, env, "", "retry", "--mapping", "Account"); err == nil || !strings.Contains(err.Error(), "--code CODE") {
		t.Fatalf("retry --mapping without --code: %v", err)
	}
	if out, err := runCmd(t, env, "", "retry", "--mapping", "Account", "--code", "STRING_TOO_LONG", "--ignore"); err != nil ||
		!strings.Contains(out, "ignored 2 failed write(s) of Account refused with STRING_TOO_LONG") {
		t.Fatalf("retry --ignore by code: %v\n%s", err, out)
	}
	if _, err := runCmd(t, env, "", "retry", "--mapping", "Account", "--code", "STRING_TOO_LONG"); err == nil || !strings.Contains(err.Error(), "no failed write") {
		t.Fatalf("nothing left to retry: %v", err)
	}
}
