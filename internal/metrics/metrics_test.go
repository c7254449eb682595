package metrics_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"pgforce/internal/metrics"
	"pgforce/sync/diagnose"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
)

func scrape(t *testing.T, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("scrape: %d\n%s", res.StatusCode, b)
	}
	return string(b)
}

func TestMetricsReportEverySyncedMappingFromTheDatabase(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	cfg := mapping.NewConfig("Name", "Phone")
	cfg.Access = mapping.ReadWrite
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	reports := report.New(b.Pool)
	h := metrics.Handler(&metrics.Collector{Connections: b.Admin.Connections, Engine: b.Engine, Reports: reports,
		Health: diagnose.Checker{Connections: b.Admin.Connections, Mappings: b.Admin.Mappings, Reports: reports, Verifications: b.Admin.Verifications}})
	conn, obj := `connection="`+b.Conn.Name+`"`, `object="Account"`
	accounts := b.Org.Count("Account")
	want := []string{
		fmt.Sprintf(`pgforce_mapping_state{%s,%s,state="DATA_SYNCED"} 1`, conn, obj),
		fmt.Sprintf(`pgforce_mapping_state{%s,%s,state="SYSTEM_ERROR"} 0`, conn, obj),
		fmt.Sprintf(`pgforce_mapping_rows_synced_total{%s,direction="sf_to_pg",%s} %d`, conn, obj, accounts),
		fmt.Sprintf(`pgforce_mapping_table_rows{%s,%s} %d`, conn, obj, accounts),
		fmt.Sprintf(`pgforce_mapping_pending_writes{%s,%s} 0`, conn, obj),
		fmt.Sprintf(`pgforce_mapping_failed_writes{%s,%s} 0`, conn, obj),
		fmt.Sprintf(`pgforce_mapping_load_records_done{%s,%s} %d`, conn, obj, accounts),
		fmt.Sprintf(`pgforce_mapping_poll_lag_seconds{%s,%s}`, conn, obj),
		fmt.Sprintf(`pgforce_connection_state{%s,state="IDLE"} 1`, conn),
		fmt.Sprintf(`pgforce_trigger_log_pending{%s} 0`, conn),
		fmt.Sprintf(`pgforce_trigger_log_oldest_pending_seconds{%s} 0`, conn),
		fmt.Sprintf(`pgforce_salesforce_api_daily_used{%s}`, conn),
		fmt.Sprintf(`pgforce_salesforce_api_daily_remaining{%s}`, conn),
		fmt.Sprintf(`pgforce_salesforce_api_calls_total{%s,kind="query"}`, conn),
		"pgforce_scrape_success 1",
		fmt.Sprintf(`pgforce_connection_healthy{%s} 1`, conn),
		fmt.Sprintf(`pgforce_health_problems{%s,rule="FAILED_WRITES",status="RED"} 0`, conn),
		"go_goroutines",
		"process_start_time_seconds",
	}
	var body string
	enginetest.Eventually(t, "the synced mapping's metrics", 30*time.Second, func() (bool, string) {
		body = scrape(t, h)
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false, "missing " + w
			}
		}
		return true, ""
	})

	// A change waiting in the trigger log shows as pending while the connection is paused.
	b.Exec(`UPDATE connections SET state = 'PAUSED' WHERE id = $1`, b.Conn.ID)
	b.Exec(`UPDATE ` + b.Conn.Schema + `.account SET phone = '555' WHERE id = (SELECT min(id) FROM ` + b.Conn.Schema + `.account)`)
	body = scrape(t, h)
	if !strings.Contains(body, fmt.Sprintf(`pgforce_mapping_pending_writes{%s,%s} 1`, conn, obj)) ||
		!strings.Contains(body, fmt.Sprintf(`pgforce_trigger_log_pending{%s} 1`, conn)) {
		t.Fatalf("pending write not reported:\n%s", body)
	}
	if !strings.Contains(body, fmt.Sprintf(`pgforce_connection_healthy{%s} 0`, conn)) ||
		!strings.Contains(body, fmt.Sprintf(`pgforce_health_problems{%s,rule="CONNECTION_STATE",status="YELLOW"} 1`, conn)) {
		t.Fatalf("a paused connection is not healthy:\n%s", body)
	}
	_ = m
}

func TestMetricsScrapeFailureIsReportedNotHidden(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{NoStart: true})
	h := metrics.Handler(&metrics.Collector{Connections: b.Admin.Connections, Engine: b.Engine, Reports: report.New(b.Pool)})
	b.Pool.Close()
	if body := scrape(t, h); !strings.Contains(body, "pgforce_scrape_success 0") {
		t.Fatalf("scrape with the database gone:\n%s", body)
	}
}
