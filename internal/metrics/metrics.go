// Package metrics exposes pgforce's sync state to Prometheus. The collector reads the database at
// scrape time (through the engine and the report reader, never its own SQL), so every pgforce
// process — whichever instance holds a connection's lease — reports the same numbers, and nothing is
// kept in memory between scrapes.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"pgforce/sync/admin"
	"pgforce/sync/conflict"
	"pgforce/sync/diagnose"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
	"pgforce/sync/verify"
)

// Connections is what the collector reads of connections (*admin.Connections implements it).
type Connections interface {
	List(ctx context.Context) ([]connection.Connection, error)
	APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error)
}

// Engine is what the collector reads from the runtime (*engine.Engine implements it).
type Engine interface {
	// APICalls counts the calls this process's syncer made, by kind (nil when it does not sync it).
	APICalls(connID int64) map[string]int
}

// Reports is what the collector reads from the report reader (*report.Reader implements it).
type Reports interface {
	MappingSummaries(ctx context.Context, connID int64) ([]report.MappingSummary, error)
	Counts(ctx context.Context, schema string, tables []string) (map[string]report.TableCounts, error)
	Backlog(ctx context.Context, schema string) (report.Backlog, error)
	SyncedTotals(ctx context.Context) ([]report.SyncedTotal, error)
}

var (
	_ Connections = (*admin.Connections)(nil)
	_ Engine      = (*engine.Engine)(nil)
	_ Reports     = (*report.Reader)(nil)
)

// The state gauges have a series per known state (1 for the current one), so an alert can match a
// state that is not current yet.
var (
	connectionStates = []connection.State{connection.New, connection.Idle, connection.PollingDBChanges, connection.Paused, connection.Recovery,
		connection.ImportConfiguration, connection.SystemError, connection.DBUnavailable, connection.NeedAuthentication, connection.Busy}
	mappingStates = []mapping.State{mapping.Initial, mapping.ReloadTable, mapping.WaitBulkLoad, mapping.LoadingBulkJob, mapping.DataSynced,
		mapping.PollingSFChanges, mapping.PollingSFBulk, mapping.SchemaChanged, mapping.Resync, mapping.Aborted, mapping.SystemError,
		mapping.BadConfig, mapping.BulkLoadError, mapping.DBUnavailable, mapping.Unauthorized}
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("pgforce_"+name, help, labels, nil)
}

var (
	mLabels = []string{"connection", "object"}

	connState     = desc("connection_state", "1 for the connection's current state, 0 for the others.", "connection", "state")
	mapState      = desc("mapping_state", "1 for the mapping's current state, 0 for the others.", "connection", "object", "state")
	rowsSynced    = desc("mapping_rows_synced_total", "Records synced by a mapping, by direction (sf_to_pg, pg_to_sf).", "connection", "object", "direction")
	syncErrors    = desc("mapping_sync_errors_total", "Records a mapping failed to sync, by direction.", "connection", "object", "direction")
	tableRows     = desc("mapping_table_rows", "Rows in the mapped table (an estimate for large tables).", mLabels...)
	pending       = desc("mapping_pending_writes", "Database changes of the mapping waiting to be written to Salesforce.", mLabels...)
	writeErrors   = desc("mapping_failed_writes", "Writes Salesforce refused that are not resolved yet (retried, dismissed or superseded by a later successful write).", mLabels...)
	loadDone      = desc("mapping_load_records_done", "Records loaded by the running or last (re)load.", mLabels...)
	loadExpected  = desc("mapping_load_records_expected", "Records the running or last (re)load expects, when known.", mLabels...)
	pollLag       = desc("mapping_poll_lag_seconds", "Seconds since the mapping last polled Salesforce.", mLabels...)
	apiUsed       = desc("salesforce_api_daily_used", "API requests the org used today (all integrations), as Salesforce last reported.", "connection")
	apiLimit      = desc("salesforce_api_daily_limit", "The org's daily API request allowance.", "connection")
	apiRemaining  = desc("salesforce_api_daily_remaining", "API requests left today.", "connection")
	apiCalls      = desc("salesforce_api_calls_total", "Salesforce API calls this process made for the connection since it started, by kind.", "connection", "kind")
	logPending    = desc("trigger_log_pending", "Trigger-log rows waiting to be written to Salesforce (NEW, PENDING, REQUEUE).", "connection")
	logRows       = desc("trigger_log_rows", "Rows in the live trigger log (processed rows wait there until archived).", "connection")
	logOldest     = desc("trigger_log_oldest_pending_seconds", "Age of the oldest change waiting to be written (0 when none).", "connection")
	scrapeSuccess = desc("scrape_success", "1 when the database could be read for this scrape.")
	driftRecords  = desc("drift_records", "Records the newest verification found differing and not repaired yet, by kind (missing, extra, stale).", "connection", "object", "kind")
	countDrift    = desc("count_drift", "The last count check's difference (Salesforce records minus table rows) beyond changes in flight; 0 when they agree.", mLabels...)
	healthy       = desc("connection_healthy", "1 when the health checks (pgforce diagnose) find no problem, 0 otherwise.", "connection")
	conflicts     = desc("conflicts_total", "Conflicts the writer detected (records changed on both sides within one sync window), by what became of them (postgres_won, postgres_kept, postgres_dismissed, salesforce_won, delete_stands, held, kept_postgres, kept_salesforce).", "connection", "object", "outcome")
	problems      = desc("health_problems", "Problems the health checks find, by rule and status (RED, YELLOW); a series per rule, 0 when none.", "connection", "rule", "status")
)

// Health runs a connection's health checks (diagnose.Checker implements it).
type Health interface {
	Run(ctx context.Context, connID int64) (diagnose.Report, error)
}

// Collector reads the metrics at scrape time.
type Collector struct {
	Connections Connections
	Engine      Engine
	Reports     Reports
	Health      Health // nil: no health metrics
	// Verifications gives each mapping's newest verification; nil: no drift metrics.
	Verifications interface {
		Latest(ctx context.Context, connID int64) (map[int64]verify.Verification, error)
	}
	// Conflicts counts each mapping's conflicts by outcome; nil: no conflict metrics.
	Conflicts interface {
		Counts(ctx context.Context, connID int64) (map[int64]map[conflict.Outcome]int, error)
	}
	Log     *slog.Logger
	Now     func() time.Time // time.Now when nil
	Timeout time.Duration    // per scrape; 10s when 0
}

// Describe sends every metric's description.
func (k *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{connState, mapState, rowsSynced, syncErrors, tableRows, pending, writeErrors, loadDone, loadExpected,
		pollLag, apiUsed, apiLimit, apiRemaining, apiCalls, logPending, logRows, logOldest, scrapeSuccess, healthy, problems, driftRecords, countDrift, conflicts} {
		ch <- d
	}
}

// Collect reads the database and sends the current values. A failure is logged and reported as
// pgforce_scrape_success 0, so a broken database shows in the metrics instead of an empty scrape.
func (k *Collector) Collect(ch chan<- prometheus.Metric) {
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ok := 1.0
	if err := k.collect(ctx, ch); err != nil {
		ok = 0
		if k.Log != nil {
			k.Log.Warn("collect metrics", "err", err)
		}
	}
	ch <- prometheus.MustNewConstMetric(scrapeSuccess, prometheus.GaugeValue, ok)
}

func gauge(ch chan<- prometheus.Metric, d *prometheus.Desc, v float64, labels ...string) {
	ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func (k *Collector) collect(ctx context.Context, ch chan<- prometheus.Metric) error {
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	conns, err := k.Connections.List(ctx)
	if err != nil {
		return err
	}
	totals, err := k.Reports.SyncedTotals(ctx)
	if err != nil {
		return err
	}
	objects := map[int64]string{} // mapping id → object, for the totals
	for _, c := range conns {
		for _, s := range connectionStates {
			gauge(ch, connState, b2f(c.State == s), c.Name, string(s))
		}
		ms, err := k.Reports.MappingSummaries(ctx, c.ID)
		if err != nil {
			return err
		}
		tables := make([]string, len(ms))
		for i, m := range ms {
			tables[i] = m.Table
			objects[m.ID] = m.Object
		}
		counts, err := k.Reports.Counts(ctx, c.Schema, tables)
		if err != nil {
			return err
		}
		var verified map[int64]verify.Verification
		if k.Verifications != nil {
			if verified, err = k.Verifications.Latest(ctx, c.ID); err != nil {
				return err
			}
		}
		if k.Conflicts != nil {
			byMapping, err := k.Conflicts.Counts(ctx, c.ID)
			if err != nil {
				return err
			}
			for _, m := range ms {
				for _, o := range []conflict.Outcome{conflict.PostgresWon, conflict.PostgresKept, conflict.PostgresDismissed, conflict.SalesforceWon, conflict.DeleteStands, conflict.Held, conflict.KeptPostgres, conflict.KeptSalesforce} {
					ch <- prometheus.MustNewConstMetric(conflicts, prometheus.CounterValue, float64(byMapping[m.ID][o]), c.Name, m.Object, string(o))
				}
			}
		}
		for _, m := range ms {
			if k.Verifications != nil {
				v := verified[m.ID]
				unrepaired := v.Unrepaired() > 0
				for kind, n := range map[string]int64{"missing": v.Missing, "extra": v.Extra, "stale": v.Stale} {
					gauge(ch, driftRecords, float64(n)*b2f(unrepaired), c.Name, m.Object, kind)
				}
			}
			if m.CountDrift != nil {
				gauge(ch, countDrift, float64(*m.CountDrift), c.Name, m.Object)
			}
			for _, s := range mappingStates {
				gauge(ch, mapState, b2f(m.State == s), c.Name, m.Object, string(s))
			}
			tc := counts[m.Table]
			gauge(ch, tableRows, float64(tc.Rows), c.Name, m.Object)
			gauge(ch, pending, float64(tc.Pending), c.Name, m.Object)
			gauge(ch, writeErrors, float64(tc.Failed), c.Name, m.Object)
			gauge(ch, loadDone, float64(m.LoadDone), c.Name, m.Object)
			if m.LoadExpected != nil {
				gauge(ch, loadExpected, float64(*m.LoadExpected), c.Name, m.Object)
			}
			if m.LastPollAt != nil {
				gauge(ch, pollLag, max(0, now.Sub(*m.LastPollAt).Seconds()), c.Name, m.Object)
			}
		}
		if c.State != connection.New {
			b, err := k.Reports.Backlog(ctx, c.Schema)
			if err != nil {
				return err
			}
			gauge(ch, logPending, float64(b.Pending), c.Name)
			gauge(ch, logRows, float64(b.Live), c.Name)
			age := 0.0
			if b.OldestPending != nil {
				age = max(0, now.Sub(*b.OldestPending).Seconds())
			}
			gauge(ch, logOldest, age, c.Name)
		}
		used, limit, _, err := k.Connections.APIUsage(ctx, c.ID)
		if err != nil {
			return err
		}
		if limit > 0 {
			gauge(ch, apiUsed, float64(used), c.Name)
			gauge(ch, apiLimit, float64(limit), c.Name)
			gauge(ch, apiRemaining, float64(max(0, limit-used)), c.Name)
		}
		if k.Health != nil {
			if err := k.health(ctx, ch, c); err != nil {
				return err
			}
		}
	}
	names := map[int64]string{}
	for _, c := range conns {
		names[c.ID] = c.Name
	}
	for _, t := range totals {
		conn, obj := names[t.ConnectionID], objects[t.MappingID]
		if conn == "" || obj == "" {
			continue // created between the two reads
		}
		ch <- prometheus.MustNewConstMetric(rowsSynced, prometheus.CounterValue, float64(t.Records), conn, obj, t.Direction)
		ch <- prometheus.MustNewConstMetric(syncErrors, prometheus.CounterValue, float64(t.Errors), conn, obj, t.Direction)
	}
	for _, c := range conns {
		for kind, n := range k.Engine.APICalls(c.ID) {
			ch <- prometheus.MustNewConstMetric(apiCalls, prometheus.CounterValue, float64(n), c.Name, kind)
		}
	}
	return nil
}

// health reports the health model: the same checks as the dashboard and `pgforce diagnose`.
func (k *Collector) health(ctx context.Context, ch chan<- prometheus.Metric, c connection.Connection) error {
	r, err := k.Health.Run(ctx, c.ID)
	if err != nil {
		return err
	}
	gauge(ch, healthy, b2f(r.Healthy()), c.Name)
	n := map[string]int{}
	for _, p := range r.Problems {
		n[p.RuleID+"/"+string(p.Status)]++
	}
	for _, rule := range diagnose.RuleIDs() {
		for _, st := range []diagnose.Status{diagnose.Red, diagnose.Yellow} {
			gauge(ch, problems, float64(n[rule+"/"+string(st)]), c.Name, rule, string(st))
		}
	}
	return nil
}

// Handler serves the collector's metrics with Go runtime and process metrics, in Prometheus's text
// format.
func Handler(k *Collector) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), k)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}
