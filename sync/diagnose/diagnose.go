// Package diagnose checks a connection's health the way Heroku Connect's `connect:diagnose` does:
// each check is RED, YELLOW, GREEN or SKIPPED, with a message saying what was found and the fix. It
// only reads (through the engine and the report reader), so the CLI, the API and the dashboard can
// all run it at any time; the checks are written once, here.
package diagnose

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
)

// Status is a check's outcome, with Heroku Connect's names.
type Status string

// Statuses, from worst to best.
const (
	Red     Status = "RED"     // broken: syncing is stopped or data is being lost; act now
	Yellow  Status = "YELLOW"  // degraded or at risk; act soon
	Green   Status = "GREEN"   // fine
	Skipped Status = "SKIPPED" // does not apply now (e.g. nothing to measure yet)
)

func (s Status) rank() int {
	switch s {
	case Red:
		return 3
	case Yellow:
		return 2
	case Green:
		return 1
	}
	return 0
}

// Result is one check's outcome. The JSON names follow Heroku Connect's diagnose API, plus fix.
type Result struct {
	RuleID      string `json:"rule_id"`
	DisplayName string `json:"display_name"`
	Status      Status `json:"status"`
	Message     string `json:"message"`
	Fix         string `json:"fix,omitempty"` // what to do about a RED or YELLOW result
}

// Report is every check of one connection.
type Report struct {
	ConnectionID   int64     `json:"connection_id"`
	ConnectionName string    `json:"connection_name"`
	Status         Status    `json:"status"` // the worst result
	CheckedAt      time.Time `json:"checked_at"`
	Results        []Result  `json:"results"`
}

// Connections is what diagnose reads of connections (*admin.Connections implements it).
type Connections interface {
	Get(ctx context.Context, id int64) (connection.Connection, error)
	APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error)
}

// Mappings is what diagnose reads of mappings (*admin.Mappings implements it).
type Mappings interface {
	List(ctx context.Context, connID int64) ([]mapping.Mapping, error)
}

// Reports is what diagnose reads from the database's statistics (*report.Reader implements it).
type Reports interface {
	Counts(ctx context.Context, schema string, tables []string) (map[string]report.TableCounts, error)
	SyncIndexes(ctx context.Context, schema string, tables []string) (map[string]report.TableIndexes, error)
	Backlog(ctx context.Context, schema string) (report.Backlog, error)
}

var (
	_ Connections = (*admin.Connections)(nil)
	_ Mappings    = (*admin.Mappings)(nil)
	_ Reports     = (*report.Reader)(nil)
)

// Thresholds. Polling is stale when no poll finished for StaleFactor intervals; the trigger log is
// backed up when its oldest pending change waits longer than BacklogAge (writes normally go out
// within seconds, at most two minutes).
const (
	StaleFactor       = 3
	BacklogAge        = 10 * time.Minute
	BacklogAgeRed     = time.Hour
	APIUsageYellow    = 0.75
	APIUsageRed       = 0.90
	OldAPIVersionGap  = 3 // major versions behind pgforce's default
	docWriteErrors    = "Fix the rows (or the Salesforce rule refusing them), then retry or ignore each write in Explorer, or `pgforce write-errors` to list them."
	docReauthorize    = "Re-authorize the connection in Settings (or `pgforce connection create` anew with credentials), then `pgforce recover`."
	docRecoverMapping = "Look at the mapping's recent errors; `pgforce recover` restarts mappings stopped by transient errors, `pgforce mapping reload NAME` reloads one."
)

// Checker runs the checks.
type Checker struct {
	Connections Connections
	Mappings    Mappings
	Reports     Reports
	Now         func() time.Time // time.Now when nil
}

// Run checks one connection.
func (k Checker) Run(ctx context.Context, connID int64) (Report, error) {
	now := time.Now()
	if k.Now != nil {
		now = k.Now()
	}
	c, err := k.Connections.Get(ctx, connID)
	if err != nil {
		return Report{}, err
	}
	ms, err := k.Mappings.List(ctx, connID)
	if err != nil {
		return Report{}, fmt.Errorf("diagnose %s: %w", c.Name, err)
	}
	tables := make([]string, len(ms))
	for i, m := range ms {
		tables[i] = m.Table
	}
	counts, err := k.Reports.Counts(ctx, c.Schema, tables)
	if err != nil {
		return Report{}, fmt.Errorf("diagnose %s: %w", c.Name, err)
	}
	indexes, err := k.Reports.SyncIndexes(ctx, c.Schema, tables)
	if err != nil {
		return Report{}, fmt.Errorf("diagnose %s: %w", c.Name, err)
	}
	backlog, err := k.Reports.Backlog(ctx, c.Schema)
	if err != nil {
		return Report{}, fmt.Errorf("diagnose %s: %w", c.Name, err)
	}
	used, max, seen, err := k.Connections.APIUsage(ctx, connID)
	if err != nil {
		return Report{}, fmt.Errorf("diagnose %s: %w", c.Name, err)
	}
	r := Report{ConnectionID: c.ID, ConnectionName: c.Name, CheckedAt: now.UTC(), Results: []Result{
		authorization(c, ms),
		connectionState(c),
		mappingsInError(ms),
		failedWrites(ms, counts),
		stalePolling(c, ms, now),
		apiUsage(used, max, seen),
		missingIndexes(ms, indexes),
		triggerLogBacklog(c, backlog, now),
		fieldsDrifted(ms),
		apiVersion(c),
	}}
	r.Status = Skipped
	for _, res := range r.Results {
		if res.Status.rank() > r.Status.rank() {
			r.Status = res.Status
		}
	}
	return r, nil
}

func green(id, name, msg string) Result {
	return Result{RuleID: id, DisplayName: name, Status: Green, Message: msg}
}

func names(xs []string) string {
	sort.Strings(xs)
	if len(xs) > 5 {
		return strings.Join(xs[:5], ", ") + fmt.Sprintf(" and %d more", len(xs)-5)
	}
	return strings.Join(xs, ", ")
}

// authorization: Salesforce must accept the stored tokens.
func authorization(c connection.Connection, ms []mapping.Mapping) Result {
	const id, name = "SALESFORCE_AUTHORIZATION", "Salesforce authorization"
	if c.State == connection.New || c.AuthorizedAt == nil {
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: "The connection was never authorized with Salesforce, so nothing syncs.",
			Fix: "Authorize it in the dashboard, or create it with `pgforce connection create --username U --password P`."}
	}
	var refused []string
	for _, m := range ms {
		if m.State == mapping.Unauthorized {
			refused = append(refused, m.Object)
		}
	}
	if c.State == connection.NeedAuthentication || len(refused) > 0 {
		msg := "Salesforce no longer accepts pgforce's tokens (" + c.Username + ")."
		if len(refused) > 0 {
			msg += " Mappings stopped: " + names(refused) + "."
		}
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: msg, Fix: docReauthorize}
	}
	return green(id, name, "Authorized as "+c.Username+" on org "+c.OrgID+".")
}

// connectionState: the connection should be syncing.
func connectionState(c connection.Connection) Result {
	const id, name = "CONNECTION_STATE", "Connection state"
	switch c.State {
	case connection.SystemError, connection.DBUnavailable:
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: fmt.Sprintf("%s: %s", c.State, c.StateReason),
			Fix: "Check the cause in Activity, then `pgforce recover`."}
	case connection.Paused:
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: "Paused since " + c.StateChangedAt.UTC().Format(time.RFC3339) + ": database changes queue, nothing is polled.",
			Fix: "`pgforce resume` when maintenance is over."}
	case connection.Busy:
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: "Pausing since " + c.StateChangedAt.UTC().Format(time.RFC3339) + ": the work in flight finishes, then the connection is PAUSED.",
			Fix: "Wait a moment, or `pgforce resume` to cancel the pause."}
	case connection.New, connection.NeedAuthentication:
		return Result{RuleID: id, DisplayName: name, Status: Skipped, Message: string(c.State) + ": see Salesforce authorization."}
	}
	return green(id, name, string(c.State)+": "+c.State.Describe())
}

// mappingsInError: every mapping should be syncing.
func mappingsInError(ms []mapping.Mapping) Result {
	const id, name = "MAPPINGS_IN_ERROR", "Mappings in error"
	if len(ms) == 0 {
		return Result{RuleID: id, DisplayName: name, Status: Skipped, Message: "The connection has no mappings."}
	}
	var bad, aborted []string
	for _, m := range ms {
		switch {
		case m.State == mapping.Aborted:
			aborted = append(aborted, m.Object)
		case m.State.Severity() == "bad" && m.State != mapping.Unauthorized:
			bad = append(bad, fmt.Sprintf("%s (%s)", m.Object, m.State))
		}
	}
	if len(bad) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: fmt.Sprintf("%d of %d mappings stopped: %s.", len(bad), len(ms), names(bad)), Fix: docRecoverMapping}
	}
	if len(aborted) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: "Aborted, not syncing: " + names(aborted) + ".",
			Fix: "Reload the aborted mappings (`pgforce mapping reload NAME`) or delete them."}
	}
	return green(id, name, fmt.Sprintf("All %d mappings are syncing or loading.", len(ms)))
}

// failedWrites: writes Salesforce refused in the last 24 hours need someone to look at them.
func failedWrites(ms []mapping.Mapping, counts map[string]report.TableCounts) Result {
	const id, name = "FAILED_WRITES", "Failed writes (24 h)"
	var total int64
	var where []string
	for _, m := range ms {
		if n := counts[m.Table].Errors24h; n > 0 {
			total += n
			where = append(where, fmt.Sprintf("%s %d", m.Object, n))
		}
	}
	if total > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: fmt.Sprintf("Salesforce refused %d writes: %s. pgforce does not retry them on its own.", total, names(where)), Fix: docWriteErrors}
	}
	return green(id, name, "No write failed in the last 24 hours.")
}

// stalePolling: a syncing mapping should have polled within a few of its intervals.
func stalePolling(c connection.Connection, ms []mapping.Mapping, now time.Time) Result {
	const id, name = "STALE_POLLING", "Polling Salesforce"
	if !c.State.Syncing() {
		return Result{RuleID: id, DisplayName: name, Status: Skipped, Message: "The connection is " + string(c.State) + ", so nothing polls."}
	}
	var stale, veryStale []string
	polling := 0
	for _, m := range ms {
		switch m.State {
		case mapping.DataSynced, mapping.PollingSFChanges, mapping.PollingSFBulk:
		default:
			continue
		}
		polling++
		interval := time.Duration(m.Config.SFPollingSeconds) * time.Second
		if interval <= 0 {
			interval = mapping.DefaultPollingSeconds * time.Second
		}
		since := m.StateChangedAt
		if m.LastPollAt != nil {
			since = *m.LastPollAt
		}
		age := now.Sub(since)
		switch {
		case age > 10*StaleFactor*interval:
			veryStale = append(veryStale, fmt.Sprintf("%s (last poll %s ago)", m.Object, age.Round(time.Minute)))
		case age > StaleFactor*interval:
			stale = append(stale, fmt.Sprintf("%s (last poll %s ago)", m.Object, age.Round(time.Minute)))
		}
	}
	fix := "Check that `pgforce serve` is running and can reach Salesforce (Activity shows poll errors); `pgforce recover` restarts stopped work."
	if len(veryStale) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: "Salesforce changes are not being read: " + names(append(veryStale, stale...)) + ".", Fix: fix}
	}
	if len(stale) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: "Polls are late: " + names(stale) + ".", Fix: fix}
	}
	if polling == 0 {
		return Result{RuleID: id, DisplayName: name, Status: Skipped, Message: "No mapping is polling yet."}
	}
	return green(id, name, fmt.Sprintf("%d mappings polled on time.", polling))
}

// apiUsage: the org's daily API allowance is shared with every other integration.
func apiUsage(used, max int, seen time.Time) Result {
	const id, name = "API_USAGE", "Salesforce API usage"
	if max <= 0 {
		return Result{RuleID: id, DisplayName: name, Status: Skipped, Message: "Salesforce has not reported the daily API usage yet."}
	}
	share := float64(used) / float64(max)
	msg := fmt.Sprintf("%d of %d daily API requests used (%.0f%%) as of %s.", used, max, share*100, seen.UTC().Format(time.RFC3339))
	fix := "Raise polling intervals or turn off accelerated polling for busy mappings, set a daily API limit for pgforce in Settings, or buy more API capacity."
	switch {
	case share >= APIUsageRed:
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: msg, Fix: fix}
	case share >= APIUsageYellow:
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: msg, Fix: fix}
	}
	return green(id, name, msg)
}

// missingIndexes: every poll looks rows up by sfid and every read is bounded by systemmodstamp; without
// indexes each poll scans the table.
func missingIndexes(ms []mapping.Mapping, idx map[string]report.TableIndexes) Result {
	const id, name = "SYNC_INDEXES", "Indexes on sfid and systemmodstamp"
	var red, yellow []string
	checked := 0
	for _, m := range ms {
		ti := idx[m.Table]
		if ti.Missing {
			continue
		}
		checked++
		if !ti.SFIDUnique {
			red = append(red, m.Table+".sfid (unique)")
		}
		if !ti.SystemModstamp {
			yellow = append(yellow, m.Table+".systemmodstamp")
		}
	}
	fix := "Edit and save the mapping (pgforce recreates hcu_idx_<table>_sfid and hc_idx_<table>_systemmodstamp), or create the indexes by hand."
	if len(red) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: "Missing: " + names(append(red, yellow...)) + ". Without a unique sfid index, duplicates can appear and every poll scans the table.", Fix: fix}
	}
	if len(yellow) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: "Missing: " + names(yellow) + ".", Fix: fix}
	}
	if checked == 0 {
		return Result{RuleID: id, DisplayName: name, Status: Skipped, Message: "No mapped table exists yet."}
	}
	return green(id, name, fmt.Sprintf("All %d tables have both indexes.", checked))
}

// triggerLogBacklog: database changes normally reach Salesforce within seconds.
func triggerLogBacklog(c connection.Connection, b report.Backlog, now time.Time) Result {
	const id, name = "TRIGGER_LOG_BACKLOG", "Trigger log backlog"
	if b.Pending == 0 {
		return green(id, name, "No database change is waiting to be written.")
	}
	age := time.Duration(0)
	if b.OldestPending != nil {
		age = now.Sub(*b.OldestPending)
	}
	msg := fmt.Sprintf("%d changes wait to be written to Salesforce; the oldest for %s.", b.Pending, age.Round(time.Second))
	if c.State == connection.Paused {
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: msg + " The connection is paused.", Fix: "`pgforce resume` writes them."}
	}
	fix := "Check that `pgforce serve` runs and the connection is IDLE; failed writes block nothing, but an unauthorized or stopped connection writes nothing."
	switch {
	case age > BacklogAgeRed:
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: msg, Fix: fix}
	case age > BacklogAge:
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: msg, Fix: fix}
	}
	return green(id, name, msg)
}

// fieldsDrifted: Salesforce field definitions changed since the tables were built.
func fieldsDrifted(ms []mapping.Mapping) Result {
	const id, name = "FIELDS_DRIFTED", "Fields changed in Salesforce"
	var drifted, orphans, fixes []string
	for _, m := range ms {
		if m.OrphanedAt != nil {
			orphans = append(orphans, m.Object)
		}
		for _, d := range m.Drift {
			drifted = append(drifted, m.Object+"."+d.Field)
			if len(fixes) < 3 {
				fixes = append(fixes, m.Object+"."+d.Field+": "+d.Fix)
			}
		}
	}
	if len(orphans) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Red, Message: "Objects no longer in Salesforce (renamed or deleted): " + names(orphans) + ".",
			Fix: "Remove the orphaned mappings in Settings → Orphaned mappings (keep or drop their tables)."}
	}
	if len(drifted) > 0 {
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: "Definitions changed: " + names(drifted) + ".", Fix: strings.Join(fixes, " ")}
	}
	return green(id, name, "Every mapped field matches its Salesforce definition (as of the last schema check).")
}

// apiVersion: Heroku Connect's MUST_USE_RECENT_API_VERSION.
func apiVersion(c connection.Connection) Result {
	const id, name = "MUST_USE_RECENT_API_VERSION", "Salesforce API version"
	var have, want int
	fmt.Sscanf(c.APIVersion, "%d", &have)
	fmt.Sscanf(admin.DefaultAPIVersion, "%d", &want)
	if have > 0 && want-have >= OldAPIVersionGap {
		return Result{RuleID: id, DisplayName: name, Status: Yellow, Message: fmt.Sprintf("The connection uses API %s; pgforce defaults to %s.", c.APIVersion, admin.DefaultAPIVersion),
			Fix: "Pause, change the API version in Settings, and resume."}
	}
	return green(id, name, "API "+c.APIVersion+".")
}
