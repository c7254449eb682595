// Package connection holds a connection's lifecycle: its typed state, the named transitions between
// states (each a compare-and-set in SQL, recorded as an event), and its stored settings and tokens.
package connection

import (
	"strings"

	"pgforce/sync/lifecycle"
)

// State is a connection's state, with Heroku Connect's names.
type State string

// Connection states.
const (
	New                 State = "NEW"                  // created; waiting for Salesforce authorization
	Idle                State = "IDLE"                 // healthy; nothing being written right now
	PollingDBChanges    State = "POLLING_DB_CHANGES"   // writing database changes to Salesforce
	Paused              State = "PAUSED"               // paused by an admin: no polling, changes queue in the trigger log
	Recovery            State = "RECOVERY"             // resuming after a pause, an error or a re-authorization; catching up
	ImportConfiguration State = "IMPORT_CONFIGURATION" // applying an imported configuration
	SystemError         State = "SYSTEM_ERROR"         // an unexpected error stopped syncing; Recover From Error resumes
	DBUnavailable       State = "DB_UNAVAILABLE"       // the database cannot be reached; retried automatically
	NeedAuthentication  State = "NEED_AUTHENTICATION"  // Salesforce refused the tokens; re-authorize
	Busy                State = "BUSY"                 // pause requested while work was in flight: nothing new starts; PAUSED when it is done
)

// Describe is the one-line explanation shown next to a state.
func (s State) Describe() string {
	switch s {
	case New:
		return "Created; authorize pgforce with Salesforce to start syncing."
	case Idle:
		return "Idle: no database change is being written to Salesforce right now (the health checks say whether everything is in sync)."
	case PollingDBChanges:
		return "Writing database changes to Salesforce."
	case Paused:
		return "Paused: no syncing; database changes queue in the trigger log until resumed."
	case Recovery:
		return "Catching up: every mapping polls Salesforce once for what changed while the connection was not syncing; then it is IDLE."
	case ImportConfiguration:
		return "Applying an imported configuration."
	case SystemError:
		return "Stopped by an unexpected error; use Recover From Error after checking the cause."
	case DBUnavailable:
		return "The database cannot be reached; pgforce retries automatically."
	case NeedAuthentication:
		return "Salesforce no longer accepts pgforce's authorization; re-authorize the connection."
	case Busy:
		return "Pausing: the write in flight finishes first and nothing new starts; the connection is PAUSED as soon as it is done. Resume cancels the pause."
	}
	return string(s)
}

// DescribeNow is Describe for a connection in its state now: RECOVERY right after an authorization
// (a brand-new connection's first) is starting to sync, with nothing missed to catch up on.
func (c Connection) DescribeNow() string {
	if c.State == Recovery && strings.HasPrefix(c.StateReason, AuthorizedReason) {
		return "Starting to sync after the authorization: every mapping polls Salesforce once, then the connection is IDLE."
	}
	return c.State.Describe()
}

// AuthorizedReason begins the state reason an authorization records.
const AuthorizedReason = "authorized as "

// Severity groups states for badges: ok, busy, paused, error.
func (s State) Severity() string {
	switch s {
	case Idle:
		return "ok"
	case PollingDBChanges, Recovery, ImportConfiguration, Busy:
		return "info"
	case Paused, New:
		return "warn"
	}
	return "bad"
}

// Syncing reports whether the engine should poll Salesforce and write changes in this state.
func (s State) Syncing() bool {
	return s == Idle || s == PollingDBChanges || s == Recovery
}

// APIVersionChangeable reports whether the API version may change in this state: nothing is synced
// (paused, not authorized yet, or stopped by an error or a refused authorization), so no call in
// flight uses the old version. A connection the org's versions refused can be set right before it
// is authorized again or recovered.
func (s State) APIVersionChangeable() bool {
	return s == Paused || s == New || s == NeedAuthentication || s == SystemError
}

// Transition is a named change of a connection's state (see package lifecycle); Apply makes it with
// a compare-and-set. Preconditions see the connection's row as c.
type Transition = lifecycle.Transition[State]

// Transitions. Each is applied with a compare-and-set guard on the current state.
var (
	Authorize      = Transition{Name: "authorize", From: []State{New, NeedAuthentication, Recovery, Idle, Paused, SystemError}, To: Recovery}
	StartWriting   = Transition{Name: "start_writing", From: []State{Idle}, To: PollingDBChanges, Quiet: true}
	FinishWriting  = Transition{Name: "finish_writing", From: []State{PollingDBChanges}, To: Idle, Quiet: true}
	Pause          = Transition{Name: "pause", From: []State{Idle}, To: Paused}
	PauseWhenDone  = Transition{Name: "pause", From: []State{PollingDBChanges, Recovery}, To: Busy} // the seed: in-flight work finishes first
	FinishPausing  = Transition{Name: "finish_pausing", From: []State{Busy}, To: Paused}
	Resume         = Transition{Name: "resume", From: []State{Paused, Busy}, To: Recovery}
	Recover        = Transition{Name: "recover", From: []State{SystemError, DBUnavailable, NeedAuthentication, Recovery, Idle}, To: Recovery, Requires: []lifecycle.Precondition{somethingToRecover}}
	Recovered      = Transition{Name: "recovered", From: []State{Recovery}, To: Idle, Requires: []lifecycle.Precondition{polledSinceRecovery}}
	Fail           = Transition{Name: "fail", From: []State{Idle, PollingDBChanges, Recovery, ImportConfiguration, DBUnavailable, Busy}, To: SystemError}
	LoseDatabase   = Transition{Name: "lose_database", From: []State{Idle, PollingDBChanges, Recovery}, To: DBUnavailable}
	RegainDatabase = Transition{Name: "regain_database", From: []State{DBUnavailable}, To: Recovery}
	LoseAuth       = Transition{Name: "lose_auth", From: []State{Idle, PollingDBChanges, Recovery, Paused, Busy}, To: NeedAuthentication}
	StartImport    = Transition{Name: "start_import", From: []State{Idle, Paused, New}, To: ImportConfiguration}
)

// WriteAlgorithm is how pending database changes are written to Salesforce.
type WriteAlgorithm string

// Write algorithms.
const (
	Ordered WriteAlgorithm = "ordered" // each change in commit order; collections and Bulk for backlogs
	Merged  WriteAlgorithm = "merged"  // pending changes to a record folded into one write
)

// OrgType is the kind of Salesforce org.
type OrgType string

// Org types.
const (
	Production OrgType = "production"
	Sandbox    OrgType = "sandbox"
	Custom     OrgType = "custom"    // a My Domain login URL
	Simulated  OrgType = "simulated" // the org built into pgforce
)
