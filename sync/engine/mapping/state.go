package mapping

import (
	"slices"
	"strconv"

	"pgforce/sync/lifecycle"
)

// State is a mapping's state, with Heroku Connect's names. Mapping states describe reading from
// Salesforce; writing is the connection's business.
type State string

// Mapping states.
const (
	Initial          State = "INITIAL"            // creating the table
	ReloadTable      State = "RELOAD_TABLE"       // loading every record (first load or reload) through the REST API
	WaitBulkLoad     State = "WAIT_BULK_LOAD"     // waiting for a Bulk API query job
	LoadingBulkJob   State = "LOADING_BULK_JOB"   // copying a Bulk API job's results into the table
	DataSynced       State = "DATA_SYNCED"        // in sync; polling or streaming changes
	PollingSFChanges State = "POLLING_SF_CHANGES" // reading changes from Salesforce
	PollingSFBulk    State = "POLLING_SF_BULK"    // reading a large batch of changes through the Bulk API
	SchemaChanged    State = "SCHEMA_CHANGED"     // altering the table after an edit
	Resync           State = "RESYNC"             // loading the values of newly added fields
	Aborted          State = "ABORTED"            // an admin aborted the running operation
	SystemError      State = "SYSTEM_ERROR"       // an unexpected error stopped the mapping
	BadConfig        State = "BAD_CONFIG"         // the configuration no longer matches Salesforce (e.g. a field was removed)
	BulkLoadError    State = "BULK_LOAD_ERROR"    // a Bulk API job failed
	DBUnavailable    State = "DB_UNAVAILABLE"     // the table cannot be written
	Unauthorized     State = "UNAUTHORIZED"       // Salesforce refused the connection's tokens
)

// Describe is the one-line explanation shown on hover.
func (s State) Describe() string {
	switch s {
	case Initial:
		return "Creating the table."
	case ReloadTable:
		return "Loading every record from Salesforce."
	case WaitBulkLoad:
		return "Waiting for Salesforce to prepare a Bulk API job."
	case LoadingBulkJob:
		return "Copying the Bulk API job's records into the table."
	case DataSynced:
		return "In sync: Salesforce is polled for changes on the connection's schedule."
	case PollingSFChanges:
		return "Reading changes from Salesforce."
	case PollingSFBulk:
		return "Reading a large batch of changes through the Bulk API."
	case SchemaChanged:
		return "Altering the table after an edit."
	case Resync:
		return "Loading the values of newly added fields."
	case Aborted:
		return "Aborted by an admin. Reload it to sync again, or delete it."
	case SystemError:
		return "Stopped by an unexpected error; see recent errors, then recover or reload."
	case BadConfig:
		return "The mapping no longer matches Salesforce; edit it to fix the fields."
	case BulkLoadError:
		return "A Bulk API job failed; reload to try again."
	case DBUnavailable:
		return "The table cannot be written; pgforce retries automatically."
	case Unauthorized:
		return "Salesforce refused the connection's authorization; re-authorize it."
	}
	return string(s)
}

// DescribeSync is Describe with how this mapping hears of changes, for the states that depend on it:
// polled every pollingSeconds, or streamed (accelerated) with polling as a safety net.
func (s State) DescribeSync(pollingSeconds int, accelerated bool) string {
	if s != DataSynced {
		return s.Describe()
	}
	// strconv, not fmt: this titles the badge of each of a thousand rows of the Mappings page.
	every := "every " + strconv.Itoa(max(1, pollingSeconds/60)) + " min"
	if pollingSeconds < 120 {
		every = "every " + strconv.Itoa(max(1, pollingSeconds)) + " s"
	}
	if accelerated {
		return "In sync: changes stream in as they happen (accelerated); Salesforce is also polled " + every + " as a safety net."
	}
	return "In sync: Salesforce is polled for changes " + every + ", so a change shows up here within that time."
}

// Severity groups states for badges.
func (s State) Severity() string {
	switch s {
	case DataSynced, PollingSFChanges, PollingSFBulk:
		return "ok"
	case Initial, ReloadTable, WaitBulkLoad, LoadingBulkJob, SchemaChanged, Resync:
		return "info"
	case Aborted:
		return "warn"
	}
	return "bad"
}

// Loading reports whether the mapping is in one of the data loading states, during which it can only
// be aborted (the seed: "If the mapping is in one of the data loading states, then Abort before
// proceeding").
func (s State) Loading() bool {
	switch s {
	case Initial, ReloadTable, WaitBulkLoad, LoadingBulkJob, SchemaChanged, Resync:
		return true
	}
	return false
}

// Transition is a named change of a mapping's state (see package lifecycle); Apply makes it with a
// compare-and-set. Preconditions see the mapping's row as m.
type Transition = lifecycle.Transition[State]

var loading = []State{Initial, ReloadTable, WaitBulkLoad, LoadingBulkJob, SchemaChanged, Resync}

var settled = []State{DataSynced, PollingSFChanges, PollingSFBulk, Aborted, SystemError, BadConfig, BulkLoadError, DBUnavailable, Unauthorized}

// Transitions.
var (
	StartLoad     = Transition{Name: "start_load", From: []State{Initial, ReloadTable, SchemaChanged}, To: ReloadTable}
	Reload        = Transition{Name: "reload", From: settled, To: ReloadTable}
	WaitBulk      = Transition{Name: "wait_bulk", From: []State{ReloadTable, Resync}, To: WaitBulkLoad}
	LoadBulk      = Transition{Name: "load_bulk", From: []State{WaitBulkLoad}, To: LoadingBulkJob}
	Loaded        = Transition{Name: "loaded", From: loading, To: DataSynced, Requires: []lifecycle.Precondition{tableLoaded}}
	StartPoll     = Transition{Name: "start_poll", From: []State{DataSynced}, To: PollingSFChanges, Quiet: true}
	StartBulkPoll = Transition{Name: "start_bulk_poll", From: []State{DataSynced, PollingSFChanges}, To: PollingSFBulk}
	Polled        = Transition{Name: "polled", From: []State{PollingSFChanges, PollingSFBulk}, To: DataSynced, Quiet: true, Requires: []lifecycle.Precondition{tableLoaded}}
	AlterSchema   = Transition{Name: "alter_schema", From: settled, To: SchemaChanged}
	StartResync   = Transition{Name: "start_resync", From: []State{SchemaChanged}, To: Resync}
	Abort         = Transition{Name: "abort", From: loading, To: Aborted}
	Fail          = Transition{Name: "fail", To: SystemError}
	FailBulk      = Transition{Name: "fail_bulk", From: []State{WaitBulkLoad, LoadingBulkJob, PollingSFBulk}, To: BulkLoadError}
	Misconfigured = Transition{Name: "misconfigured", To: BadConfig}
	LoseDatabase  = Transition{Name: "lose_database", To: DBUnavailable}
	LoseAuth      = Transition{Name: "lose_auth", To: Unauthorized}
	// RecoverPolling restarts a mapping stopped by an error whose table holds a completed load: it
	// catches up at once (POLLING_SF_CHANGES), and is DATA_SYNCED only when that poll is done.
	RecoverPolling = Transition{Name: "recover", From: stopped, To: PollingSFChanges, Requires: []lifecycle.Precondition{tableLoaded}}
	// RecoverLoad restarts a mapping stopped by an error before its load finished: the load resumes.
	RecoverLoad = Transition{Name: "recover_load", From: stopped, To: ReloadTable}
)

// stopped are the states errors leave a mapping in, which Recover From Error restarts.
var stopped = []State{SystemError, DBUnavailable, Unauthorized, BulkLoadError}

// Stopped reports whether an error stopped the mapping (Recover restarts it).
func (s State) Stopped() bool { return slices.Contains(stopped, s) }

// RecoverBy is the transition that restarts a stopped mapping given its data: a load resumes when
// its table holds no completed load, a catch-up poll otherwise.
func RecoverBy(m Mapping) Transition {
	if m.TableLoaded() {
		return RecoverPolling
	}
	return RecoverLoad
}

// Action is something an admin asked the syncer to do to a mapping.
type Action string

// Requested actions, picked up by the connection's syncer wherever it runs.
const (
	ActionReload Action = "reload"
	ActionAbort  Action = "abort"
	ActionResync Action = "resync" // load the values of added columns
)
