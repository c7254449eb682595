package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/enginetest"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store/storetest"
)

const simToken = "e2e-sim-control"

// seedProduct is a connected product whose simulated org can be driven through its control API.
type seedProduct struct {
	*product
	ctx    context.Context
	schema string
	t      *testing.T
}

func newSeedProduct(t *testing.T) *seedProduct {
	t.Helper()
	ctx := newBrowser(t)
	env := testEnv(t)
	env["PGFORCE_SIM_CONTROL_TOKEN"] = simToken
	p := startProduct(t, env)
	schema := "sf_" + env["PGFORCE_DB_SCHEMA"][len(env["PGFORCE_DB_SCHEMA"])-6:]
	t.Cleanup(func() { _ = p.Stop(); storetest.DropSchema(t, schema) })
	if err := setupAdmin(ctx, p.SetupURL, adminEmail, adminPassword); err != nil {
		t.Fatalf("setup: %v", err)
	}
	if err := setUpConnection(ctx, p.BaseURL, "demo", schema, "simulated"); err != nil {
		screenshot(t, ctx, "failed-setup-connection")
		t.Fatalf("set up connection: %v", err)
	}
	if err := authorizeWithSimulatedOrg(ctx, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		screenshot(t, ctx, "failed-authorize")
		t.Fatalf("authorize: %v", err)
	}
	return &seedProduct{product: p, ctx: ctx, schema: schema, t: t}
}

// sim calls the embedded org's control API.
func (s *seedProduct) sim(method, path string, body any) []byte {
	s.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, s.BaseURL+"/sim/_sforg"+path, rd)
	req.Header.Set("Authorization", "Bearer "+simToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	if res.StatusCode >= 300 {
		s.t.Fatalf("sim %s %s: %d %s", method, path, res.StatusCode, out)
	}
	return out
}

// step runs browser actions with their own deadline and keeps a screenshot when they fail.
func (s *seedProduct) step(name string, timeout time.Duration, fn func(ctx context.Context) error) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		screenshot(s.t, s.ctx, "failed-"+name)
		html, _ := chromedp.Run(s.ctx, chromedp.Evaluate[string](`document.querySelector('main')?.innerText ?? ''`))
		s.t.Fatalf("%s: %v\npage: %.2000s", name, err, html)
	}
}

// query runs SQL against the synced database.
func (s *seedProduct) query(sql string, args ...any) [][]any {
	s.t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, storetest.URL())
	if err != nil {
		s.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SET search_path = "+pgx.Identifier{s.Env["PGFORCE_DB_SCHEMA"]}.Sanitize()+", public"); err != nil {
		s.t.Fatal(err)
	}
	rows, err := conn.Query(ctx, strings.ReplaceAll(sql, "$schema", pgx.Identifier{s.schema}.Sanitize()), args...)
	if err != nil {
		s.t.Fatalf("%s: %v", sql, err)
	}
	var out [][]any
	for rows.Next() {
		v, _ := rows.Values()
		out = append(out, v)
	}
	if rows.Err() != nil {
		s.t.Fatalf("%s: %v", sql, rows.Err())
	}
	return out
}

// try runs a one-value query that may fail while the product is still changing the schema.
func (s *seedProduct) try(sql string, args ...any) (string, error) {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, storetest.URL())
	if err != nil {
		return "", err
	}
	defer conn.Close(ctx)
	var v any
	err = conn.QueryRow(ctx, strings.ReplaceAll(sql, "$schema", pgx.Identifier{s.schema}.Sanitize()), args...).Scan(&v)
	return fmt.Sprint(v), err
}

func (s *seedProduct) scalar(sql string, args ...any) string {
	s.t.Helper()
	rows := s.query(sql, args...)
	if len(rows) == 0 || len(rows[0]) == 0 {
		return ""
	}
	return fmt.Sprint(rows[0][0])
}

// eventually polls a condition with a deadline.
func (s *seedProduct) eventually(what string, timeout time.Duration, cond func() bool) {
	s.t.Helper()
	start, shot := time.Now(), false
	enginetest.Eventually(s.t, what, timeout, func() (bool, string) {
		if cond() {
			return true, ""
		}
		if time.Since(start) > timeout-200*time.Millisecond { // about to time out: show why
			if !shot {
				screenshot(s.t, s.ctx, "failed-"+strings.ReplaceAll(what, " ", "-"))
				shot = true
			}
			return false, fmt.Sprintf("connections: %v\nmappings: %v", s.query(`SELECT id, name, state, state_reason FROM connections`),
				s.query(`SELECT connection_id, object_name, state, state_reason, orphaned_at FROM mappings`))
		}
		return false, ""
	})
}

func (s *seedProduct) mapping(object string, readWrite bool, fields, indexed []string) {
	s.t.Helper()
	if err := createMapping(s.ctx, s.BaseURL, object, readWrite, fields, indexed); err != nil {
		screenshot(s.t, s.ctx, "failed-create-"+object)
		s.t.Fatal(err)
	}
	if err := waitMappingState(s.ctx, s.BaseURL, object, "DATA_SYNCED", 30*time.Second); err != nil {
		s.t.Fatal(err)
	}
}

func TestEditMappingAddsAFieldAndBackfillsIt(t *testing.T) {
	t.Parallel()
	s := newSeedProduct(t)
	s.mapping("Contact", true, []string{"Email"}, []string{"Email"})
	if got := s.scalar(`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'hc_idx_contact_email'`, s.schema); got != "1" {
		t.Fatalf("Indexed checkbox made no index: %s", got)
	}
	s.step("edit", 20*time.Second, func(ctx context.Context) error {
		if err := mappingAction(ctx, s.BaseURL, "Contact", "edit"); err != nil {
			return err
		}
		steps := append([]chromedp.Action[chromedp.Void]{chromedp.WaitVisible(css(`[data-testid="mapping-form"]`))},
			tick(`[data-field="Title"] [data-testid="field-check"]:not(:checked)`)...)
		return chromedp.Do(ctx, append(steps, chromedp.Click(css(`[data-testid="mapping-save"]`)), chromedp.WaitVisible(css(`[data-testid="mapping-live"]`)))...)
	})
	s.step("saved", 10*time.Second, func(ctx context.Context) error { return flashContains(ctx, "Saved the Contact mapping") })
	// The new column appears and the backfill fills it from Salesforce.
	s.eventually("titles backfilled", 30*time.Second, func() bool {
		n, err := s.try(`SELECT count(*) FROM $schema.contact WHERE title IS NOT NULL`)
		return err == nil && n != "0"
	})
	if err := waitMappingState(s.ctx, s.BaseURL, "Contact", "DATA_SYNCED", 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

func TestReloadAndAbortThenDeleteASlowLoad(t *testing.T) {
	t.Parallel()
	s := newSeedProduct(t)
	s.mapping("Lead", false, nil, nil)
	before := s.scalar(`SELECT max(id) FROM $schema.lead`)
	lost, err := reloadMapping(s.ctx, s.BaseURL, "Lead")
	if err != nil {
		screenshot(t, s.ctx, "failed-reload")
		t.Fatal(err)
	}
	if !strings.Contains(lost, "rows") {
		t.Fatalf("the confirmation names what is lost: %q", lost)
	}
	if err := waitMappingState(s.ctx, s.BaseURL, "Lead", "DATA_SYNCED", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if s.scalar(`SELECT min(id) FROM $schema.lead`) != "1" || before == "" {
		t.Fatal("a reload assigns new ids")
	}
	// A load that cannot finish by itself: the org holds every query until the request is cancelled
	// (the abort cancels the load's), so the abort always finds the mapping loading, however slowly
	// the test gets there. Abort it, then delete the mapping.
	s.sim("POST", "/generate", map[string]any{"Object": "Case", "Count": 3000, "Seed": 1})
	s.sim("POST", "/faults", map[string]any{"Path": "/query", "Latency": int64(time.Hour), "Count": -1})
	s.step("create-slow-mapping", 20*time.Second, func(ctx context.Context) error {
		return createMapping(ctx, s.BaseURL, "Case", false, nil, nil)
	})
	s.step("open-delete", 20*time.Second, func(ctx context.Context) error { return mappingAction(ctx, s.BaseURL, "Case", "delete") })
	screenshot(t, s.ctx, "delete-while-loading")
	if err := deleteMapping(s.ctx, s.BaseURL, "Case"); err != nil {
		screenshot(t, s.ctx, "failed-delete")
		t.Fatal(err)
	}
	s.sim("DELETE", "/faults", nil)
	if s.scalar(`SELECT to_regclass($1) IS NULL`, s.schema+".case") != "true" {
		t.Fatal("delete drops the table")
	}
}

func TestPauseChangeWriteAlgorithmResumeAndRecover(t *testing.T) {
	t.Parallel()
	s := newSeedProduct(t)
	if err := createMappingMode(s.ctx, s.BaseURL, "Invoice__c", true, true, []string{"Amount__c", "External_Id__c"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := waitMappingState(s.ctx, s.BaseURL, "Invoice__c", "DATA_SYNCED", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := settingsAction(s.ctx, s.BaseURL, "pause", "PAUSED"); err != nil {
		screenshot(t, s.ctx, "failed-pause")
		t.Fatal(err)
	}
	if err := setWriteAlgorithm(s.ctx, s.BaseURL, "merged"); err != nil {
		t.Fatal(err)
	}
	s.query(`INSERT INTO $schema.invoice__c (external_id__c, amount__c) VALUES ('E2E-1', 10)`)
	s.query(`UPDATE $schema.invoice__c SET amount__c = 11 WHERE external_id__c = 'E2E-1'`)
	time.Sleep(time.Second) // nothing may be written while paused
	if s.scalar(`SELECT count(*) FROM $schema._trigger_log WHERE state = 'NEW'`) != "2" {
		t.Fatal("changes wait in the trigger log while paused")
	}
	screenshot(t, s.ctx, "settings-paused")
	if err := settingsAction(s.ctx, s.BaseURL, "resume", "IDLE"); err != nil {
		html, _ := chromedp.Run(s.ctx, chromedp.OuterHTML(css(`#manage-connection`)))
		t.Logf("panel: %.1500s", html)
		t.Logf("connection: %v; mappings: %v; log: %v", s.query(`SELECT state, state_reason FROM connections`),
			s.query(`SELECT object_name, state, last_poll_at, next_poll_at FROM mappings`), s.query(`SELECT state, count(*) FROM $schema._trigger_log GROUP BY 1`))
		t.Fatal(err)
	}
	s.eventually("the queued writes to arrive", 15*time.Second, func() bool {
		return s.scalar(`SELECT count(*) FROM $schema.invoice__c WHERE external_id__c = 'E2E-1' AND sfid IS NOT NULL`) == "1"
	})
	if got := s.scalar(`SELECT count(*) FROM $schema._trigger_log WHERE state = 'MERGED'`); got != "1" {
		t.Fatalf("merged writes fold the update into the insert: %s MERGED", got)
	}
	// A failure that stops the mapping (SYSTEM_ERROR), then Recover From Error.
	s.sim("POST", "/faults", map[string]any{"Path": "/queryAll", "Status": 400, "Code": "INVALID_FIELD", "Message": "No such column", "Count": -1})
	s.sim("PATCH", "/records/Invoice__c/"+s.scalar(`SELECT sfid FROM $schema.invoice__c WHERE external_id__c = 'E2E-1'`), map[string]any{"Amount__c": 99})
	// The change event makes the accelerated mapping poll at once, and the poll fails for good.
	if err := waitMappingState(s.ctx, s.BaseURL, "Invoice__c", "SYSTEM_ERROR", 20*time.Second); err != nil {
		t.Fatal(err)
	}
	s.sim("DELETE", "/faults", nil)
	if err := settingsAction(s.ctx, s.BaseURL, "recover", "IDLE"); err != nil {
		screenshot(t, s.ctx, "failed-recover")
		t.Fatal(err)
	}
	s.eventually("the Salesforce edit after recovery", 15*time.Second, func() bool {
		return s.scalar(`SELECT amount__c FROM $schema.invoice__c WHERE external_id__c = 'E2E-1'`) == "99"
	})
}

func TestExportImportOrphansAuditAndViewer(t *testing.T) {
	t.Parallel()
	s := newSeedProduct(t)
	s.mapping("Account", true, []string{"Industry"}, []string{"Industry"})
	// Export through the confirmation: the download is the configuration JSON.
	dir := t.TempDir()
	resp, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`fetch('/settings/export.json').then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil || !strings.Contains(resp, `"object_name": "Account"`) || !strings.Contains(resp, `"version": 1`) {
		t.Fatalf("export: %v %.200s", err, resp)
	}
	file := filepath.Join(dir, "config.json")
	if err := os.WriteFile(file, []byte(strings.Replace(resp, `"object_name": "Account"`, `"object_name": "Account"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second connection to the same org imports it.
	if err := setUpConnection(s.ctx, s.BaseURL, "second", s.schema+"_b", "simulated"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { storetest.DropSchema(t, s.schema+"_b") })
	if err := authorizeWithSimulatedOrg(s.ctx, sforg.DemoUsername, sforg.DemoPassword); err != nil {
		t.Fatal(err)
	}
	s.eventually("the second connection to be IDLE", 15*time.Second, func() bool {
		return s.scalar(`SELECT state FROM connections WHERE name = 'second'`) == "IDLE"
	})
	if err := importConfig(s.ctx, s.BaseURL, file, "Account"); err != nil {
		screenshot(t, s.ctx, "failed-import")
		t.Fatal(err)
	}
	s.eventually("the imported mapping's table", 20*time.Second, func() bool {
		return s.scalar(`SELECT count(*) FROM `+s.schema+`_b.account`) != "0"
	})
	// Orphans: the object disappears from Salesforce.
	s.sim("POST", "/objects", map[string]any{"Name": "Gizmo__c", "Label": "Gizmo", "Fields": []map[string]any{{"Name": "Size__c", "Type": "string", "Length": 10, "Nillable": true, "Createable": true, "Updateable": true}}})
	s.mapping("Gizmo__c", false, nil, nil)
	s.sim("DELETE", "/objects/Gizmo__c", nil)
	// The dashboard now works on the second connection, where Gizmo__c was mapped.
	connID := s.scalar(`SELECT connection_id FROM mappings WHERE object_name = 'Gizmo__c'`)
	if status, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`fetch('/connections/`+connID+`/check-schema', {method: 'POST'}).then(async r => String(r.status) + (await r.text()).replace(/[\s\S]*?class="flash[^>]*>([\s\S]{0,300})[\s\S]*/, " $1"))`, chromedp.EvalAwaitPromise)); err != nil || !strings.HasPrefix(status, "200") {
		t.Fatalf("check schema: %s %v", status, err)
	} else {
		t.Logf("check schema: %s", status)
	}
	s.eventually("Gizmo__c to be orphaned", 20*time.Second, func() bool {
		return s.scalar(`SELECT count(*) FROM mappings WHERE object_name = 'Gizmo__c' AND orphaned_at IS NOT NULL`) == "1"
	})
	if err := chromedp.Do(s.ctx,
		chromedp.Navigate(s.BaseURL+"/settings"),
		chromedp.WaitVisible(css(`[data-testid="orphan-row"]`)),
		chromedp.Click(css(`[data-testid="remove-orphans"]`)),
		chromedp.WaitVisible(css(`[data-testid="confirm-orphans"]`)),
		chromedp.Click(css(`[data-testid="drop-tables"]`)),
		chromedp.Click(css(`[data-testid="confirm"]`)),
	); err != nil {
		screenshot(t, s.ctx, "failed-orphans")
		t.Fatal(err)
	}
	s.eventually("the orphan removed", 10*time.Second, func() bool {
		return s.scalar(`SELECT count(*) FROM mappings WHERE object_name = 'Gizmo__c'`) == "0"
	})
	// The audit trail download lists what happened.
	csvText, err := chromedp.Run(s.ctx, chromedp.Evaluate[string](`fetch('/settings/audit.csv').then(r => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
	if err != nil {
		t.Fatalf("audit CSV: %v", err)
	}
	actions := map[string]bool{}
	for _, r := range rows[1:] {
		actions[r[5]] = true
	}
	for _, want := range []string{"user.add", "connection.create", "connection.authorize", "mapping.create", "connection.import", "mapping.remove_orphans"} {
		if !actions[want] {
			t.Errorf("audit trail lacks %s (has %v)", want, actions)
		}
	}
	// A viewer sees actions disabled and cannot act.
	if _, err := runCmd(t, s.Env, "viewer password 1234\n", "user", "add", "--email", "viewer@example.com", "--role", "viewer"); err != nil {
		t.Fatal(err)
	}
	viewer := newBrowser(t)
	if err := signIn(viewer, s.BaseURL, "viewer@example.com", "viewer password 1234"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(viewer, chromedp.Navigate(s.BaseURL+"/settings"), chromedp.WaitVisible(css(`[data-testid="manage-connection"]`))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, viewer, "settings-viewer")
	status, err := chromedp.Run(viewer, chromedp.Evaluate[string](`fetch('/connections/1/pause', {method: 'POST'}).then(r => String(r.status))`, chromedp.EvalAwaitPromise))
	if err != nil || status != "403" {
		t.Fatalf("viewer POST: %s %v", status, err)
	}
}
