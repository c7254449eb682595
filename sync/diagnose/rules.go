package diagnose

import (
	"fmt"
	"strconv"
	"time"

	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/verify"
)

// rule is one check: it judges the facts and finds problems, or says why it does not apply, or
// what it found fine.
type rule struct {
	id, name string
	check    func(f *facts) outcome
}

type outcome struct {
	problems []Problem
	skipped  string // the rule does not apply now, and why
	green    string // what was found fine
}

func fine(msg string) outcome    { return outcome{green: msg} }
func skipped(msg string) outcome { return outcome{skipped: msg} }

// rules in the order the results are listed; problems of earlier rules come first among equals.
var rules = []rule{
	{"SALESFORCE_AUTHORIZATION", "Salesforce authorization", authorization},
	{"CONNECTION_STATE", "Connection state", connectionState},
	{"MAPPINGS_IN_ERROR", "Mappings in error", mappingsInError},
	{"FAILED_WRITES", "Failed writes", failedWrites},
	{"TRIGGER_LOG_BACKLOG", "Writes waiting", writesWaiting},
	{"HELD_CONFLICTS", "Conflicts waiting for an admin", heldConflicts},
	{"STALE_POLLING", "Polling Salesforce", pollsOverdue},
	{"STREAMING", "Streaming changes", notStreaming},
	{"FIELDS_DRIFTED", "Fields changed in Salesforce", fieldsDrifted},
	{"DATA_VERIFICATION", "Tables match Salesforce", dataVerified},
	{"API_USAGE", "Salesforce API usage", apiUsage},
	{"SYNC_INDEXES", "Indexes on sfid and systemmodstamp", missingIndexes},
	{"MUST_USE_RECENT_API_VERSION", "Salesforce API version", apiVersion},
}

// RuleIDs lists every rule, in report order.
func RuleIDs() []string {
	out := make([]string, len(rules))
	for i, r := range rules {
		out[i] = r.id
	}
	return out
}

// Where problems are fixed in the dashboard.
const (
	urlConnection = "/settings#manage-connection"
	urlSettings   = "/settings"
	urlOrphans    = "/settings#orphans"
)

func mappingURL(m mapping.Mapping, anchor string) string {
	u := "/mappings/" + strconv.FormatInt(m.ID, 10)
	if anchor != "" {
		u += "#" + anchor
	}
	return u
}

func about(m mapping.Mapping, status Status, msg, fix, url string, since *time.Time) Problem {
	return Problem{Status: status, MappingID: m.ID, Object: m.Object, Message: msg, Fix: fix, FixURL: url, Since: since}
}

// ago says how long ago, for people: "40 s", "5 min", "3 h", "3 days".
func ago(since time.Time, now time.Time) string {
	return span(now.Sub(since))
}

func span(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d h", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

const docReauthorize = "Re-authorize the connection in Settings (or `pgforce connection create` anew with credentials), then Recover From Error."

// authorization: Salesforce must accept the stored tokens.
func authorization(f *facts) outcome {
	c := f.conn
	if c.State == connection.New || c.AuthorizedAt == nil {
		return outcome{problems: []Problem{{Status: Yellow, Message: "The connection was never authorized with Salesforce, so nothing syncs.",
			Fix: "Authorize it in Settings, or create it with `pgforce connection create --username U --password P`.", FixURL: urlConnection}}}
	}
	var o outcome
	if c.State == connection.NeedAuthentication {
		since := c.StateChangedAt
		o.problems = append(o.problems, Problem{Status: Red, Message: "Salesforce no longer accepts pgforce's authorization (" + c.Username + "): nothing syncs until the connection is re-authorized.",
			Fix: docReauthorize, FixURL: urlConnection, Since: &since})
		return o
	}
	for _, m := range f.ms {
		if m.State == mapping.Unauthorized {
			since := m.StateChangedAt
			o.problems = append(o.problems, about(m, Red, m.Object+" stopped: Salesforce refused pgforce's authorization for it.", docReauthorize, urlConnection, &since))
		}
	}
	if len(o.problems) > 0 {
		return o
	}
	return fine("Authorized as " + c.Username + " on org " + c.OrgID + ".")
}

// connectionState: the connection should be syncing.
func connectionState(f *facts) outcome {
	c := f.conn
	since := c.StateChangedAt
	conn := func(status Status, msg, fix string) outcome {
		return outcome{problems: []Problem{{Status: status, Message: msg, Fix: fix, FixURL: urlConnection, Since: &since}}}
	}
	switch c.State {
	case connection.SystemError, connection.DBUnavailable:
		return conn(Red, fmt.Sprintf("The connection stopped (%s): %s", c.State, c.StateReason), "Check the cause in Activity, then Recover From Error in Settings (`pgforce recover`).")
	case connection.Paused:
		msg := "Paused since " + since.UTC().Format(time.RFC3339) + ": nothing is polled or written"
		if f.backlog.Pending > 0 {
			msg += fmt.Sprintf("; %d database %s wait in the trigger log", f.backlog.Pending, plural(int(f.backlog.Pending), "change", "changes"))
		}
		return conn(Yellow, msg+".", "Resume in Settings (`pgforce resume`) when maintenance is over.")
	case connection.Busy:
		return conn(Yellow, "Pausing since "+since.UTC().Format(time.RFC3339)+": the work in flight finishes, then the connection is PAUSED.", "Wait a moment, or Resume to cancel the pause.")
	case connection.New, connection.NeedAuthentication:
		return skipped(string(c.State) + ": see Salesforce authorization.")
	}
	return fine(string(c.State) + ": " + c.State.Describe())
}

// mappingsInError: every mapping should be syncing or loading.
func mappingsInError(f *facts) outcome {
	if len(f.ms) == 0 {
		return skipped("The connection has no mappings.")
	}
	var o outcome
	for _, m := range f.ms {
		since := m.StateChangedAt
		reason := ""
		if m.StateReason != "" {
			reason = ": " + m.StateReason
		}
		switch {
		case m.State == mapping.Aborted:
			msg := m.Object + " was aborted: it does not sync"
			if tc, ok := f.counts[m.Table]; ok && !tc.Missing {
				msg += fmt.Sprintf(", and its table holds %d rows", tc.Rows)
				if m.SFCount != nil {
					msg += fmt.Sprintf(" of the %d records Salesforce had", *m.SFCount)
				}
			}
			o.problems = append(o.problems, about(m, Yellow, msg+".", "Reload it to load every record again, or delete it.", mappingURL(m, ""), &since))
		case m.State == mapping.Unauthorized:
			// reported under Salesforce authorization
		case m.State.Severity() == "bad":
			o.problems = append(o.problems, about(m, Red, fmt.Sprintf("%s (%s) is stopped%s.", m.Object, m.State, reason), stateFix(m.State), mappingURL(m, ""), &since))
		}
	}
	if len(o.problems) > 0 {
		return o
	}
	return fine(fmt.Sprintf("All %d mappings are syncing or loading.", len(f.ms)))
}

func stateFix(s mapping.State) string {
	switch s {
	case mapping.BadConfig:
		return "Edit the mapping to match Salesforce (its page lists the fields that changed), or remove it if its object is gone."
	case mapping.BulkLoadError:
		return "Look at the mapping's recent errors, then Reload it."
	case mapping.DBUnavailable:
		return "The table cannot be written: check the database (disk, permissions); pgforce retries by itself."
	}
	return "Look at the mapping's recent errors, then Recover it (mapping page or `pgforce mapping recover NAME`), or Reload it."
}

// failedWrites: a write Salesforce refused waits for an admin until it is retried, dismissed or
// superseded by a later successful write of the same row, however old it is.
func failedWrites(f *facts) outcome {
	var o outcome
	for _, m := range f.ms {
		tc := f.counts[m.Table]
		if tc.Failed == 0 {
			continue
		}
		msg := fmt.Sprintf("Salesforce refused %d %s of %s", tc.Failed, plural(int(tc.Failed), "write", "writes"), m.Object)
		if tc.OldestFailed != nil {
			msg += " (the oldest " + ago(*tc.OldestFailed, f.now) + " ago)"
		}
		o.problems = append(o.problems, about(m, Red, msg+"; pgforce does not send them again on its own.",
			"Fix the rows (or the Salesforce rule refusing them), then retry or dismiss each write (`pgforce write-errors` lists them).",
			"/activity?mapping="+strconv.FormatInt(m.ID, 10), tc.OldestFailed))
	}
	if len(o.problems) > 0 {
		return o
	}
	return fine("No refused write is waiting for an admin.")
}

// heldConflicts: a manual conflict holds its change (and the record's two sides apart) until an
// admin keeps one side; one held longer than HeldAge is flagged, red after HeldAgeRed.
func heldConflicts(f *facts) outcome {
	var o outcome
	var held int64
	for _, m := range f.ms {
		tc := f.counts[m.Table]
		held += tc.Held
		if tc.Held == 0 || tc.OldestHeld == nil {
			continue
		}
		age := f.now.Sub(*tc.OldestHeld)
		if age <= HeldAge {
			continue
		}
		st := Yellow
		if age > HeldAgeRed {
			st = Red
		}
		o.problems = append(o.problems, about(m, st, fmt.Sprintf("%d %s of %s %s held as %s for an admin to choose a side, the oldest for %s; until then Postgres and Salesforce differ.",
			tc.Held, plural(int(tc.Held), "change", "changes"), m.Object, plural(int(tc.Held), "is", "are"), plural(int(tc.Held), "a conflict", "conflicts"), ago(*tc.OldestHeld, f.now)),
			"Open the Conflicts page and Keep Postgres or Keep Salesforce for each (`pgforce conflicts --held`, then `pgforce conflicts keep ID postgres|salesforce`).",
			"/conflicts?mapping="+strconv.FormatInt(m.ID, 10), tc.OldestHeld))
	}
	if len(o.problems) > 0 {
		return o
	}
	if held > 0 {
		return fine(fmt.Sprintf("%d %s held for an admin, none for longer than %s.", held, plural(int(held), "conflict", "conflicts"), span(HeldAge)))
	}
	return fine("No conflict is held for an admin.")
}

// writesWaiting: a database change normally reaches Salesforce within seconds.
func writesWaiting(f *facts) outcome {
	b := f.backlog
	if b.Pending == 0 {
		return fine("No database change is waiting to be written.")
	}
	if f.conn.State == connection.Paused || f.conn.State == connection.Busy {
		return skipped(fmt.Sprintf("%d changes wait while the connection is paused; they are written when it resumes.", b.Pending))
	}
	fix := "Writes normally leave within seconds: check that `pgforce serve` runs and the connection is authorized and not stopped (Activity shows write errors)."
	level := func(oldest time.Time) (Status, bool) {
		switch age := f.now.Sub(oldest); {
		case age > WaitAgeRed:
			return Red, true
		case age > WaitAge:
			return Yellow, true
		}
		return "", false
	}
	var o outcome
	var mapped int64
	for _, m := range f.ms {
		tc := f.counts[m.Table]
		mapped += tc.Pending
		if tc.Pending == 0 || tc.OldestPending == nil {
			continue
		}
		if st, late := level(*tc.OldestPending); late {
			o.problems = append(o.problems, about(m, st, fmt.Sprintf("%d %s of %s wait to be written to Salesforce, the oldest for %s.",
				tc.Pending, plural(int(tc.Pending), "change", "changes"), m.Object, ago(*tc.OldestPending, f.now)), fix, mappingURL(m, ""), tc.OldestPending))
		}
	}
	if len(o.problems) == 0 && b.Pending > mapped && b.OldestPending != nil {
		if st, late := level(*b.OldestPending); late {
			o.problems = append(o.problems, Problem{Status: st, Message: fmt.Sprintf("%d changes of tables that are no longer mapped wait in the trigger log, the oldest for %s.",
				b.Pending-mapped, ago(*b.OldestPending, f.now)), Fix: "Map the table again, or dismiss them.", FixURL: "/activity", Since: b.OldestPending})
		}
	}
	if len(o.problems) > 0 {
		return o
	}
	return fine(fmt.Sprintf("%d %s waiting, none for longer than %s.", b.Pending, plural(int(b.Pending), "change", "changes"), span(WaitAge)))
}

// pollsOverdue: a syncing mapping polls at its interval; one late by a whole interval is not
// reading Salesforce's changes.
func pollsOverdue(f *facts) outcome {
	if !f.conn.State.Syncing() {
		return skipped("The connection is " + string(f.conn.State) + ", so nothing polls.")
	}
	var o outcome
	polling := 0
	for _, m := range f.ms {
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
		last := m.StateChangedAt
		if m.LastPollAt != nil {
			last = *m.LastPollAt
		}
		due := last.Add(interval)
		if m.NextPollAt != nil {
			due = *m.NextPollAt
		}
		grace := max(interval, OverdueMin)
		late := f.now.Sub(due)
		if late <= grace {
			continue
		}
		st := Yellow
		if late > OverdueRedFactor*grace {
			st = Red
		}
		o.problems = append(o.problems, about(m, st, fmt.Sprintf("%s last polled Salesforce %s ago (it polls every %s): changes made in Salesforce are not arriving.",
			m.Object, ago(last, f.now), span(interval)), "Check that `pgforce serve` is running and can reach Salesforce (Activity shows poll errors).", mappingURL(m, ""), &last))
	}
	if len(o.problems) > 0 {
		return o
	}
	if polling == 0 {
		return skipped("No mapping is polling yet.")
	}
	return fine(fmt.Sprintf("%d %s polled on time.", polling, plural(polling, "mapping", "mappings")))
}

// fieldsDrifted: Salesforce changed an object or field definition since the table was built.
func fieldsDrifted(f *facts) outcome {
	var o outcome
	for _, m := range f.ms {
		if m.OrphanedAt != nil {
			o.problems = append(o.problems, about(m, Red, "Salesforce object "+m.Object+" no longer exists (removed or renamed).",
				"Remove the orphaned mapping in Settings → Orphaned mappings (keep or drop its table).", urlOrphans, m.OrphanedAt))
			continue
		}
		for _, d := range m.Drift {
			if d.Required {
				o.problems = append(o.problems, about(m, Red, d.Fix, "Map "+d.Field+" (one click on the mapping page), or make the mapping read-only.", mappingURL(m, "drift"), nil))
				continue
			}
			change := d.Was + " → " + d.Now
			if d.Removed {
				change = "removed"
			}
			o.problems = append(o.problems, about(m, Yellow, fmt.Sprintf("%s.%s changed in Salesforce (%s).", m.Object, d.Field, change), d.Fix, mappingURL(m, "drift"), nil))
		}
	}
	if len(o.problems) > 0 {
		return o
	}
	return fine("Every mapped field matches its Salesforce definition (as of the last schema check).")
}

// apiUsage: the org's daily API allowance is shared with every other integration.
func apiUsage(f *facts) outcome {
	if f.apiMax <= 0 {
		return skipped("Salesforce has not reported the daily API usage yet.")
	}
	share := float64(f.apiUsed) / float64(f.apiMax)
	msg := fmt.Sprintf("%d of %d daily API requests used (%.0f%%) as of %s.", f.apiUsed, f.apiMax, share*100, f.apiSeen.UTC().Format(time.RFC3339))
	fix := "Raise polling intervals or turn off accelerated polling for busy mappings, set a daily API limit for pgforce in Settings, or buy more API capacity."
	switch {
	case share >= APIUsageRed:
		return outcome{problems: []Problem{{Status: Red, Message: msg, Fix: fix, FixURL: urlSettings}}}
	case share >= APIUsageYellow:
		return outcome{problems: []Problem{{Status: Yellow, Message: msg, Fix: fix, FixURL: urlSettings}}}
	}
	return fine(msg)
}

// missingIndexes: every poll looks rows up by sfid and every read is bounded by systemmodstamp;
// without indexes each poll scans the table.
func missingIndexes(f *facts) outcome {
	var o outcome
	checked := 0
	fix := "Edit and save the mapping (pgforce recreates hcu_idx_<table>_sfid and hc_idx_<table>_systemmodstamp), or create the indexes by hand."
	for _, m := range f.ms {
		ti := f.indexes[m.Table]
		if ti.Missing {
			continue
		}
		checked++
		switch {
		case !ti.SFIDUnique:
			o.problems = append(o.problems, about(m, Red, "Missing: "+m.Table+".sfid (unique). Without a unique sfid index, duplicates can appear and every poll scans the table.", fix, mappingURL(m, "")+"/edit", nil))
		case !ti.SystemModstamp:
			o.problems = append(o.problems, about(m, Yellow, "Missing: "+m.Table+".systemmodstamp.", fix, mappingURL(m, "")+"/edit", nil))
		}
	}
	if len(o.problems) > 0 {
		return o
	}
	if checked == 0 {
		return skipped("No mapped table exists yet.")
	}
	return fine(fmt.Sprintf("All %d tables have both indexes.", checked))
}

// apiVersion: Heroku Connect's MUST_USE_RECENT_API_VERSION.
func apiVersion(f *facts) outcome {
	c := f.conn
	var have, want int
	fmt.Sscanf(c.APIVersion, "%d", &have)
	fmt.Sscanf(admin.DefaultAPIVersion, "%d", &want)
	if have > 0 && want-have >= OldAPIVersionGap {
		return outcome{problems: []Problem{{Status: Yellow, Message: fmt.Sprintf("The connection uses API %s; pgforce defaults to %s.", c.APIVersion, admin.DefaultAPIVersion),
			Fix: "Pause, change the API version in Settings, and resume.", FixURL: urlSettings}}}
	}
	return fine("API " + c.APIVersion + ".")
}

// dataVerified: the last full verification and the count checks since say whether each table holds
// what Salesforce holds.
func dataVerified(f *facts) outcome {
	if f.verified == nil {
		return skipped("Verification results are not available here.")
	}
	var o outcome
	verified, checked := 0, 0
	for _, m := range f.ms {
		v, ok := f.verified[m.ID]
		if ok && (v.State == verify.DriftFound || v.State == verify.Repairing || v.State == verify.RepairRequested) && v.Unrepaired() > 0 {
			o.problems = append(o.problems, about(m, Red, fmt.Sprintf("%s's table does not hold what Salesforce holds: %d missing, %d extra and %d stale records (verified %s ago).",
				m.Object, v.Missing, v.Extra, v.Stale, ago(*v.FinishedAt, f.now)),
				"Repair it on the mapping page (or `pgforce verify "+m.Object+" --repair`): the records are fetched again from Salesforce.", mappingURL(m, "verification"), v.FinishedAt))
			continue
		}
		if ok && v.State == verify.Failed {
			o.problems = append(o.problems, about(m, Yellow, fmt.Sprintf("The last verification of %s failed: %s", m.Object, v.StateReason),
				"Fix the cause, then verify again on the mapping page (or `pgforce verify "+m.Object+"`).", mappingURL(m, "verification"), v.FinishedAt))
			continue
		}
		if ok && v.FinishedAt != nil {
			verified++
		}
		if m.CountCheckedAt != nil && m.CountDrift != nil {
			checked++
			if *m.CountDrift != 0 && (!ok || v.FinishedAt == nil || v.FinishedAt.Before(*m.CountCheckedAt)) {
				diff := fmt.Sprintf("Salesforce has %d more records than the table holds", *m.CountDrift)
				if *m.CountDrift < 0 {
					diff = fmt.Sprintf("the table holds %d more rows than Salesforce has records", -*m.CountDrift)
				}
				o.problems = append(o.problems, about(m, Yellow, fmt.Sprintf("%s's counts disagree: %s, beyond the changes in flight (counted %s ago).",
					m.Object, diff, ago(*m.CountCheckedAt, f.now)),
					"Verify the mapping to find which records differ, then repair them.", mappingURL(m, "verification"), m.CountCheckedAt))
			}
		}
	}
	if len(o.problems) > 0 {
		return o
	}
	if verified == 0 && checked == 0 {
		return skipped("No mapping was verified or counted yet.")
	}
	return fine(fmt.Sprintf("%d verified and %d counted without drift.", verified, checked))
}

// notStreaming: an accelerated mapping that does not stream hears of Salesforce's changes only at its
// polling interval.
func notStreaming(f *facts) outcome {
	if !f.conn.State.Syncing() {
		return skipped("The connection is " + string(f.conn.State) + ", so nothing streams.")
	}
	var o outcome
	accelerated := 0
	for _, m := range f.ms {
		if !m.Config.Accelerated() || m.State.Loading() || m.State.Stopped() {
			continue
		}
		accelerated++
		if m.StreamNote != "" {
			o.problems = append(o.problems, about(m, Yellow, m.StreamNote+fmt.Sprintf(" Changes arrive at the polling interval (%s) instead.",
				span(time.Duration(m.Config.SFPollingSeconds)*time.Second)),
				"Select the object for Change Data Capture in Salesforce Setup (or make the mapping polling-only); pgforce subscribes again by itself.", mappingURL(m, ""), nil))
		}
	}
	if len(o.problems) > 0 {
		return o
	}
	if accelerated == 0 {
		return skipped("No mapping is accelerated.")
	}
	return fine(fmt.Sprintf("%d accelerated %s streaming.", accelerated, plural(accelerated, "mapping is", "mappings are")))
}
