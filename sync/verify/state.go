// Package verify checks that a mapped table holds what Salesforce holds, which Heroku Connect never
// did: a full verification compares every record's Id and SystemModstamp with the table's sfid and
// systemmodstamp, judged against the high-water mark the table claims to reflect, and lists records
// missing from the table, rows whose record is gone (extra) and rows older than their record
// (stale). Repair fetches those records by Id and applies them through the same path as a poll (no
// echo to Salesforce). A cheap count check runs on every poll cycle in between.
//
// A verification has a lifecycle of its own, with named transitions applied as compare-and-set
// updates; the connection's syncer runs it under its lease, so a crash or a lost lease leaves it to
// be restarted, never half-recorded.
package verify

// State is a verification's state.
type State string

// States.
const (
	Requested       State = "REQUESTED"        // asked for (admin, CLI, API or the schedule); the syncer picks it up
	Verifying       State = "VERIFYING"        // comparing the table with Salesforce
	Verified        State = "VERIFIED"         // nothing differs beyond changes in flight
	DriftFound      State = "DRIFT_FOUND"      // records differ; see the findings, then repair
	Failed          State = "FAILED"           // the comparison could not finish; see the reason
	RepairRequested State = "REPAIR_REQUESTED" // an admin asked to repair the findings
	Repairing       State = "REPAIRING"        // fetching and applying the findings' records
	Repaired        State = "REPAIRED"         // every finding was fixed
)

// Open reports whether work on the verification is still to be done or running.
func (s State) Open() bool {
	return s == Requested || s == Verifying || s == RepairRequested || s == Repairing
}

// Describe is the one-line explanation shown next to a state.
func (s State) Describe() string {
	switch s {
	case Requested:
		return "Waiting for the connection's syncer to start it."
	case Verifying:
		return "Comparing every record with Salesforce."
	case Verified:
		return "The table holds what Salesforce holds."
	case DriftFound:
		return "Records differ from Salesforce; repair fetches them again."
	case Failed:
		return "The verification could not finish; see why, then verify again."
	case RepairRequested:
		return "Waiting for the connection's syncer to repair."
	case Repairing:
		return "Fetching the differing records from Salesforce."
	case Repaired:
		return "The differing records were fetched again."
	}
	return string(s)
}

// Transition is a named state change allowed only from the listed states.
type Transition struct {
	Name string
	From []State
	To   State
}

// Transitions. Each is applied with a compare-and-set on the current state (store.go).
var (
	Start         = Transition{"start", []State{Requested}, Verifying}
	Find          = Transition{"find", []State{Verifying}, DriftFound}
	Pass          = Transition{"pass", []State{Verifying}, Verified}
	Fail          = Transition{"fail", []State{Verifying}, Failed}
	Requeue       = Transition{"requeue", []State{Verifying}, Requested} // the runner died or lost its lease
	AskRepair     = Transition{"ask_repair", []State{DriftFound}, RepairRequested}
	StartRepair   = Transition{"start_repair", []State{RepairRequested}, Repairing}
	FinishRepair  = Transition{"finish_repair", []State{Repairing}, Repaired}
	FailRepair    = Transition{"fail_repair", []State{Repairing}, DriftFound} // findings stay, to repair again
	RequeueRepair = Transition{"requeue_repair", []State{Repairing}, RepairRequested}
)

func (t Transition) from() []string {
	out := make([]string, len(t.From))
	for i, s := range t.From {
		out[i] = string(s)
	}
	return out
}
