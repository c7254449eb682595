package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/enginetest"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
	"pgforce/sync/store/storetest"
)

// cliEnv is the environment of a pgforce whose connections use their own simulated org.
func cliEnv(t *testing.T) (map[string]string, *sforg.Org, string) {
	t.Helper()
	env := testEnv(t)
	env["USER"] = "ops"
	org, srv := sforgtest.NewServer(t, sforg.Options{Seed: 3, AllowPasswordFlow: true})
	t.Cleanup(func() {
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"]+"_sf")
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"]+"_other")
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"])
	})
	return env, org, srv.URL
}

// jsonOut runs a command with --json and decodes its output.
func jsonOut[T any](t *testing.T, env map[string]string, args ...string) T {
	t.Helper()
	out, err := runCmd(t, env, "", append(args, "--json")...)
	if err != nil {
		t.Fatalf("pgforce %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	var v T
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("pgforce %s --json printed no JSON: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

type cliConnection struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"`
	SchemaName string `json:"schema_name"`
	State      string `json:"state"`
	SFInfo     struct {
		Username string `json:"username"`
	} `json:"sf_info"`
}

type cliMapping struct {
	ID         int64  `json:"id"`
	ObjectName string `json:"object_name"`
	State      string `json:"state"`
	Access     string `json:"access"`
	Counts     struct {
		DB int64 `json:"db"`
	} `json:"counts"`
}

type list[T any] struct {
	Count   int `json:"count"`
	Results []T `json:"results"`
}

func TestCLIAdministersTheConnectionARunningServeSyncs(t *testing.T) {
	t.Parallel()
	env, org, loginURL := cliEnv(t)
	schema := env["PGFORCE_DB_SCHEMA"] + "_sf"

	// Set up and authorize without a browser, then let the running serve do the syncing.
	c := jsonOut[cliConnection](t, env, "connection", "create", "--name", "acme", "--schema", schema, "--login-url", loginURL,
		"--org-type", "simulated", "--username", sforg.DemoUsername, "--password", sforg.DemoPassword)
	if c.Name != "acme" || c.SchemaName != schema || c.SFInfo.Username != sforg.DemoUsername || c.State == "NEW" {
		t.Fatalf("created connection: %+v", c)
	}
	env["PGFORCE_EXPECT_SETUP"] = "no"
	startProduct(t, env)

	out, err := runCmd(t, env, "", "mapping", "create", "Account", "--fields", "Name,Phone", "--access", "read_write")
	if err != nil || !strings.Contains(out, "created mapping Account → "+schema+".account (read_write") {
		t.Fatalf("mapping create: %v\n%s", err, out)
	}
	enginetest.Eventually(t, "the running serve to load the mapping", 30*time.Second, func() (bool, string) {
		m := jsonOut[cliMapping](t, env, "mapping", "state", "account")
		return m.State == "DATA_SYNCED" && m.Counts.DB == int64(org.Count("Account")), fmt.Sprintf("%+v", m)
	})
	ms := jsonOut[list[cliMapping]](t, env, "mapping", "list")
	if ms.Count != 1 || ms.Results[0].ObjectName != "Account" || ms.Results[0].Access != "read_write" {
		t.Fatalf("mapping list: %+v", ms)
	}
	if out, err := runCmd(t, env, "", "info"); err != nil || !strings.Contains(out, "=== acme") || !strings.Contains(out, "Account") {
		t.Fatalf("info: %v\n%s", err, out)
	}

	// Pause waits for IDLE (the serve finishes catching up first); resume brings it back.
	enginetest.Eventually(t, "pause to succeed", 30*time.Second, func() (bool, string) {
		out, err = runCmd(t, env, "", "pause")
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("pause: %v", err)
		}
		return err == nil, fmt.Sprint(err)
	})
	if !strings.Contains(out, "acme: PAUSED") {
		t.Fatalf("pause: %s", out)
	}
	if st := jsonOut[cliConnection](t, env, "state"); st.State != "PAUSED" {
		t.Fatalf("state after pause: %+v", st)
	}
	if out, err := runCmd(t, env, "", "pause"); err == nil || !strings.Contains(err.Error(), "already paused") {
		t.Fatalf("pausing twice must fail with the reason: %v %s", err, out)
	}
	// While paused: export to a file and import it back (nothing changes); then resume.
	file := filepath.Join(t.TempDir(), "acme.json")
	if out, err := runCmd(t, env, "", "export", file); err != nil || !strings.Contains(out, "exported the configuration of acme") {
		t.Fatalf("export: %v %s", err, out)
	}
	raw, _ := os.ReadFile(file)
	if !strings.Contains(string(raw), `"object_name": "Account"`) {
		t.Fatalf("export file: %s", raw)
	}
	if out, err := runCmd(t, env, "", "import", file); err != nil || !strings.Contains(out, "unchanged Account") {
		t.Fatalf("import: %v %s", err, out)
	}
	if out, err := runCmd(t, env, "", "resume"); err != nil || !strings.Contains(out, "acme: RECOVERY") {
		t.Fatalf("resume: %v %s", err, out)
	}

	out, err = runCmd(t, env, "", "audit", "--action", "connection.")
	if err != nil || !strings.HasPrefix(out, "id,time_utc,actor") || !strings.Contains(out, "cli:ops,cli") || !strings.Contains(out, "connection.pause") {
		t.Fatalf("audit csv: %v\n%s", err, out)
	}
	if out, err := runCmd(t, env, "", "write-errors"); err != nil || !strings.Contains(out, "no write errors in the last 24 hours") {
		t.Fatalf("write-errors: %v %s", err, out)
	}

	// Edit adds a column (loaded by the serve); reload loads every record again.
	if out, err := runCmd(t, env, "", "mapping", "edit", "Account", "--add-fields", "Website"); err != nil || !strings.Contains(out, "edited mapping Account") {
		t.Fatalf("mapping edit: %v %s", err, out)
	}
	waitSynced := func(what string) {
		t.Helper()
		enginetest.Eventually(t, what+": the mapping to sync again", 30*time.Second, func() (bool, string) {
			m := jsonOut[cliMapping](t, env, "mapping", "state", "Account")
			return m.State == "DATA_SYNCED", fmt.Sprintf("%+v", m)
		})
	}
	waitSynced("after edit")
	if out, err := runCmd(t, env, "", "mapping", "reload", "Account"); err != nil || !strings.Contains(out, "Account: reloading") {
		t.Fatalf("mapping reload: %v %s", err, out)
	}
	waitSynced("after reload")

	// Recover From Error for one mapping: refused while nothing is wrong; a stopped mapping with a
	// loaded table catches up.
	if _, err := runCmd(t, env, "", "mapping", "recover", "Account"); err == nil || !strings.Contains(err.Error(), "no error to recover from") {
		t.Fatalf("recover a synced mapping: %v", err)
	}
	db, err := pgx.Connect(context.Background(), storetest.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(context.Background())
	if _, err := db.Exec(context.Background(), `UPDATE `+env["PGFORCE_DB_SCHEMA"]+`.mappings SET state = 'SYSTEM_ERROR' WHERE object_name = 'Account'`); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(t, env, "", "mapping", "recover", "Account"); err != nil || !strings.Contains(out, "Account: recovered: catching up") {
		t.Fatalf("mapping recover: %v %s", err, out)
	}
	waitSynced("after recover")

	// Destructive commands want a confirmation.
	if _, err := runCmd(t, env, "", "mapping", "delete", "Account"); err == nil || !strings.Contains(err.Error(), "--confirm Account") {
		t.Fatalf("delete without confirmation: %v", err)
	}
	if out, err := runCmd(t, env, "", "mapping", "delete", "Account", "--confirm", "Account"); err != nil || !strings.Contains(out, "deleted mapping Account") {
		t.Fatalf("delete: %v %s", err, out)
	}
}

func TestCLIAsksWhichConnectionWhenThereAreSeveral(t *testing.T) {
	t.Parallel()
	env, _, loginURL := cliEnv(t)
	if _, err := runCmd(t, env, "", "state"); err == nil || !strings.Contains(err.Error(), "There is no connection yet") {
		t.Fatalf("no connection: %v", err)
	}
	// Without credentials the connection waits for an interactive authorization.
	out, err := runCmd(t, env, "", "connection", "create", "--schema", env["PGFORCE_DB_SCHEMA"]+"_sf", "--login-url", loginURL, "--org-type", "simulated")
	if err != nil || !strings.Contains(out, ": NEW") || !strings.Contains(out, "/settings") || !strings.Contains(out, "--username") {
		t.Fatalf("create without credentials: %v\n%s", err, out)
	}
	if _, err := runCmd(t, env, "", "connection", "create", "--name", "other", "--schema", env["PGFORCE_DB_SCHEMA"]+"_other", "--login-url", loginURL, "--org-type", "simulated"); err != nil {
		t.Fatal(err)
	}
	_, err = runCmd(t, env, "", "state")
	if err == nil || !strings.Contains(err.Error(), "choose one with --connection NAME") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("several connections: %v", err)
	}
	if st := jsonOut[cliConnection](t, env, "state", "--connection", "other"); st.Name != "other" || st.State != "NEW" {
		t.Fatalf("state --connection other: %+v", st)
	}
	cs := jsonOut[list[cliConnection]](t, env, "connection", "list")
	if cs.Count != 2 {
		t.Fatalf("connection list: %+v", cs)
	}
	if _, err := runCmd(t, env, "", "mapping", "create", "Account", "--fields", "Name", "--connection", "other"); err == nil || !strings.Contains(err.Error(), "Authorize the connection") {
		t.Fatalf("mapping on an unauthorized connection: %v", err)
	}
	if _, err := runCmd(t, env, "", "connection", "delete", "other"); err == nil || !strings.Contains(err.Error(), "--confirm other") {
		t.Fatalf("delete without confirmation: %v", err)
	}
	if out, err := runCmd(t, env, "", "connection", "delete", "other", "--confirm", "other", "--drop-schema"); err != nil || !strings.Contains(out, "dropped schema") {
		t.Fatalf("delete: %v %s", err, out)
	}
	if out, err := runCmd(t, env, "", "diagnose"); err != nil || !strings.Contains(out, "YELLOW") || !strings.Contains(out, "never authorized") {
		t.Fatalf("diagnose of the unauthorized connection: %v\n%s", err, out)
	}
	if _, err := runCmd(t, env, "", "mapping", "frobnicate"); err == nil || !strings.Contains(err.Error(), `unknown mapping command "frobnicate"`) {
		t.Fatalf("unknown subcommand: %v", err)
	}
}

func TestCLITokensAreShownOnceListedAndRevoked(t *testing.T) {
	t.Parallel()
	env, _, _ := cliEnv(t)
	out, err := runCmd(t, env, "", "token", "create", "--name", "grafana", "--role", "metrics")
	if err != nil || !strings.Contains(out, "created token grafana (metrics)") || !strings.Contains(out, "token (shown once): pgf_") {
		t.Fatalf("token create: %v\n%s", err, out)
	}
	created := jsonOut[struct {
		Name  string `json:"name"`
		Role  string `json:"role"`
		Token string `json:"token"`
	}](t, env, "token", "create", "--name", "deploy", "--role", "admin")
	if created.Name != "deploy" || created.Role != "admin" || !strings.HasPrefix(created.Token, "pgf_") {
		t.Fatalf("token create --json: %+v", created)
	}
	if out, err := runCmd(t, env, "", "token", "list"); err != nil || strings.Contains(out, created.Token) || !strings.Contains(out, "grafana") || !strings.Contains(out, "live") {
		t.Fatalf("token list (never shows secrets): %v\n%s", err, out)
	}
	if out, err := runCmd(t, env, "", "token", "revoke", "grafana"); err != nil || !strings.Contains(out, "revoked token grafana") {
		t.Fatalf("revoke: %v %s", err, out)
	}
	if _, err := runCmd(t, env, "", "token", "revoke", "grafana"); err == nil || !strings.Contains(err.Error(), "no live token") {
		t.Fatalf("revoke twice: %v", err)
	}
	if _, err := runCmd(t, env, "", "token", "create", "--name", "x", "--role", "owner"); err == nil || !strings.Contains(err.Error(), "admin, viewer or metrics") {
		t.Fatalf("bad role: %v", err)
	}
}

func TestMetricsAddrServesWithoutATokenWhileTheAPINeedsOne(t *testing.T) {
	t.Parallel()
	env, _, loginURL := cliEnv(t)
	env["PGFORCE_METRICS_ADDR"] = "127.0.0.1:0"
	env["PGFORCE_EXPECT_SETUP"] = "no"
	if _, err := runCmd(t, env, "", "connection", "create", "--name", "acme", "--schema", env["PGFORCE_DB_SCHEMA"]+"_sf", "--login-url", loginURL,
		"--org-type", "simulated", "--username", sforg.DemoUsername, "--password", sforg.DemoPassword); err != nil {
		t.Fatal(err)
	}
	token := jsonOut[struct {
		Token string `json:"token"`
	}](t, env, "token", "create", "--name", "ci", "--role", "viewer").Token
	p := startProduct(t, env)
	metricsURL := p.out.wait(t, regexp.MustCompile(`pgforce: metrics at (\S+)`), 5*time.Second)

	body, status := httpGet(t, metricsURL)
	if status != 200 || !strings.Contains(body, `pgforce_connection_state{connection="acme"`) || !strings.Contains(body, "go_goroutines") {
		t.Fatalf("metrics address: %d\n%s", status, body)
	}
	if _, status := httpGet(t, p.BaseURL+"/metrics"); status != 401 {
		t.Fatalf("/metrics on the dashboard address without a token: %d", status)
	}
	req, _ := http.NewRequest("GET", p.BaseURL+"/api/v3/connections", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var conns struct {
		Count   int `json:"count"`
		Results []struct {
			Name string `json:"name"`
		} `json:"results"`
	}
	if err := json.NewDecoder(res.Body).Decode(&conns); err != nil || res.StatusCode != 200 || conns.Count != 1 || conns.Results[0].Name != "acme" {
		t.Fatalf("API through serve: %d %+v %v", res.StatusCode, conns, err)
	}
}

// An org that blocks the OAuth username-password flow (every org created since Summer '23) refuses
// `connection create --username --password` as it refuses a wrong password: the message says both.
func TestCLIPasswordLoginRefusedByTheOrgSaysWhy(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	_, srv := sforgtest.NewServer(t, sforg.Options{Seed: 3}) // a new org's defaults: the flow is blocked
	t.Cleanup(func() {
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"]+"_sf")
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"])
	})
	_, err := runCmd(t, env, "", "connection", "create", "--name", "blocked", "--schema", env["PGFORCE_DB_SCHEMA"]+"_sf", "--login-url", srv.URL+"/login",
		"--org-type", "simulated", "--username", sforg.DemoUsername, "--password", sforg.DemoPassword)
	if err == nil || !strings.Contains(err.Error(), "not authorized") || !strings.Contains(err.Error(), "Allow OAuth Username-Password Flows") ||
		!strings.Contains(err.Error(), "Settings → Authorize") {
		t.Fatalf("a blocked password flow: %v", err)
	}
}

// Issue 21: `connection create --api-version` with a version the org does not offer is created but
// not authorized, and says which versions the org offers.
func TestCLIAuthorizationForAnUnofferedAPIVersionSaysWhichAreOffered(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	_, srv := sforgtest.NewServer(t, sforg.Options{Seed: 3, AllowPasswordFlow: true})
	t.Cleanup(func() {
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"]+"_sf")
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"])
	})
	_, err := runCmd(t, env, "", "connection", "create", "--name", "v99", "--schema", env["PGFORCE_DB_SCHEMA"]+"_sf", "--login-url", srv.URL+"/login",
		"--org-type", "simulated", "--api-version", "99.0", "--username", sforg.DemoUsername, "--password", sforg.DemoPassword)
	if err == nil || !strings.Contains(err.Error(), "Connection v99 was created but not authorized") ||
		!strings.Contains(err.Error(), "does not offer Salesforce API version 99.0: it offers 50.0 to 68.0") {
		t.Fatalf("an unoffered API version: %v", err)
	}
}

// `pgforce doctor` checks the connected org's setup: every check with its finding, fixes under
// RED and YELLOW ones, exit status 1 when one is RED (a username-password connection cannot
// refresh its session), -q for the problems only, --json for the API's report.
func TestCLIDoctorChecksTheOrgSetup(t *testing.T) {
	t.Parallel()
	env := testEnv(t)
	env["PGFORCE_BASE_URL"] = "http://localhost:3999"
	org, srv := sforgtest.NewServer(t, sforg.Options{Seed: 3, AllowPasswordFlow: true, RedirectURIs: []string{"http://localhost:3999/oauth/callback"}})
	t.Cleanup(func() {
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"]+"_sf")
		storetest.DropSchema(t, env["PGFORCE_DB_SCHEMA"])
	})
	if out, err := runCmd(t, env, "", "connection", "create", "--name", "doc", "--schema", env["PGFORCE_DB_SCHEMA"]+"_sf", "--login-url", srv.URL+"/login",
		"--org-type", "simulated", "--username", sforg.DemoUsername, "--password", sforg.DemoPassword); err != nil {
		t.Fatalf("connection create: %v\n%s", err, out)
	}
	out, err := runCmd(t, env, "", "doctor")
	if err == nil || !strings.Contains(err.Error(), "doctor found RED checks for connection doc") {
		t.Fatalf("RED exits non-zero: %v\n%s", err, out)
	}
	for _, want := range []string{"=== doc: RED", "GREEN   API enabled:", "GREEN   PKCE:", "SKIPPED Object permissions: No mappings yet",
		"RED     Connected app scopes: The connection holds no refresh token", "fix: Authorize the connection in the dashboard (Settings → Authorize)"} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, out)
		}
	}
	if err := org.Configure(sforg.Settings{ViewAllData: new(bool)}); err != nil {
		t.Fatal(err)
	}
	out, _ = runCmd(t, env, "", "doctor", "-q")
	if !strings.Contains(out, "YELLOW  View All Data: The integration user lacks View All Data") || strings.Contains(out, "GREEN") {
		t.Fatalf("doctor -q shows the problems only:\n%s", out)
	}
	out, _ = runCmd(t, env, "", "doctor", "--json")
	var r struct {
		Status  string `json:"status"`
		Results []struct {
			RuleID string `json:"rule_id"`
			Status string `json:"status"`
			Fix    string `json:"fix"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Status != "RED" || len(r.Results) < 9 {
		t.Fatalf("doctor --json: %v\n%s", err, out)
	}
}

// `pgforce verify` finds a record no poll could read (committed late, stamped before the table's
// high-water mark), exits non-zero while the drift is there, and --repair fetches it.
func TestCLIVerifyFindsAndRepairsWhatPollsCannotSee(t *testing.T) {
	t.Parallel()
	env, org, loginURL := cliEnv(t)
	schema := env["PGFORCE_DB_SCHEMA"] + "_sf"
	jsonOut[cliConnection](t, env, "connection", "create", "--name", "acme", "--schema", schema, "--login-url", loginURL,
		"--org-type", "simulated", "--username", sforg.DemoUsername, "--password", sforg.DemoPassword)
	env["PGFORCE_EXPECT_SETUP"] = "no"
	startProduct(t, env)
	if _, err := runCmd(t, env, "", "mapping", "create", "Account", "--fields", "Name"); err != nil {
		t.Fatal(err)
	}
	enginetest.Eventually(t, "the running serve to load the mapping", 30*time.Second, func() (bool, string) {
		m := jsonOut[cliMapping](t, env, "mapping", "state", "account")
		return m.State == "DATA_SYNCED", fmt.Sprintf("%+v", m)
	})
	if out, err := runCmd(t, env, "", "verify", "Account"); err != nil || !strings.Contains(out, "Account: VERIFIED") {
		t.Fatalf("verify a synced table: %v\n%s", err, out)
	}
	late, err := org.CreateCommittedLate("Account", map[string]any{"Name": "Committed late"}, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCmd(t, env, "", "verify", "Account")
	if err == nil || !strings.Contains(err.Error(), "verification found drift") || !strings.Contains(out, "DRIFT_FOUND") || !strings.Contains(out, "missing "+late) {
		t.Fatalf("verify with a record no poll read: %v\n%s", err, out)
	}
	if out, err = runCmd(t, env, "", "verify", "Account", "--repair"); err != nil || !strings.Contains(out, "Account: REPAIRED") {
		t.Fatalf("verify --repair: %v\n%s", err, out)
	}
	if out, err = runCmd(t, env, "", "verify"); err != nil || !strings.Contains(out, "Account: VERIFIED") {
		t.Fatalf("verify every mapping after the repair: %v\n%s", err, out)
	}
}
