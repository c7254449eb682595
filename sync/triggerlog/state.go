// Package triggerlog implements Heroku Connect's trigger log: the tables in a connection's schema that
// capture every insert, update and delete on read-write mapped tables, the capture triggers that fill
// them, and the states a captured change goes through on its way to Salesforce.
package triggerlog

import "pgforce/sync/lifecycle"

// State is the state of one captured change (column _trigger_log.state, varchar(8)).
type State string

// States, with Heroku Connect's names.
const (
	New      State = "NEW"      // captured, waiting to be sent
	Pending  State = "PENDING"  // claimed by the writer, being sent
	Success  State = "SUCCESS"  // Salesforce accepted it
	Failed   State = "FAILED"   // Salesforce refused it; sf_message says why
	Ignore   State = "IGNORE"   // nothing to send (set at capture: empty update, delete of an unsynced row)
	Ignored  State = "IGNORED"  // skipped on purpose (e.g. an admin dismissed a failure)
	Merged   State = "MERGED"   // folded into a later change of the same record (merged writes)
	ReadOnly State = "READONLY" // captured on a read-only mapping; never sent
	Requeue  State = "REQUEUE"  // asked to be sent again
	Requeued State = "REQUEUED" // an archived original that was sent again as a new entry
	// Conflict holds a change whose record changed in Salesforce meanwhile, on a mapping whose
	// conflict policy is manual: it waits for an admin to keep one side (pgforce's state; Heroku
	// Connect has none).
	Conflict State = "CONFLICT"
)

// Action is the captured operation (column action, varchar(7)).
type Action string

// Actions as TG_OP names them.
const (
	Insert Action = "INSERT"
	Update Action = "UPDATE"
	Delete Action = "DELETE"
)

// States lists every state, in the order above.
var States = []State{New, Pending, Success, Failed, Ignore, Ignored, Merged, ReadOnly, Requeue, Requeued, Conflict}

// Terminal reports whether a state is final (the row may move to the archive).
func (s State) Terminal() bool {
	switch s {
	case Success, Failed, Ignore, Ignored, Merged, ReadOnly, Requeued:
		return true
	}
	return false
}

// Waiting reports whether a change in this state is still to be written to Salesforce.
func (s State) Waiting() bool { return s == New || s == Pending || s == Requeue }

// Transition is a named change of a trigger-log row's state (see package lifecycle), applied with a
// compare-and-set (WHERE state = ANY(From)), so a row changed by someone else is never overwritten.
// Preconditions see the row as t.
type Transition = lifecycle.Transition[State]

// The transitions the writer and the admins make. The writer claims captured changes, then records
// one outcome per claimed change (Succeed, Fail, Release, Merge or Skip); admins dismiss or resend
// failed ones.
var (
	Claim   = Transition{Name: "claim", From: []State{New, Requeue}, To: Pending}
	Succeed = Transition{Name: "succeed", From: []State{Pending}, To: Success}
	Fail    = Transition{Name: "fail", From: []State{Pending}, To: Failed}
	// Release puts a change back in the queue, its order kept: a retriable failure, or a change that
	// was claimed but not sent (in doubt after a crash).
	Release = Transition{Name: "release", From: []State{Pending}, To: New}
	// Merge folds a change into a later one of the same record (merged writes).
	Merge = Transition{Name: "merge", From: []State{Pending}, To: Merged}
	// Skip sets aside a change there is nothing to send for (its row is gone, no writable field
	// changed, the table is no longer mapped read-write).
	Skip    = Transition{Name: "skip", From: []State{Pending}, To: Ignored}
	Dismiss = Transition{Name: "dismiss", From: []State{Failed}, To: Ignored}
	// Resend marks a failed change whose row was captured again as a new change.
	Resend = Transition{Name: "resend", From: []State{Failed}, To: Requeued}
	// Supersede resolves a failed change once a later write of its row succeeded: the row reached
	// Salesforce again, so the failure no longer waits for an admin.
	Supersede = Transition{Name: "supersede", From: []State{Failed}, To: Requeued}
	// Hold sets a conflicting change aside until an admin keeps one side (manual policy).
	Hold = Transition{Name: "hold", From: []State{Pending}, To: Conflict}
	// Decide queues a held change again once an admin kept a side: the writer sends it (Postgres
	// kept) or drops it and takes Salesforce's version (Salesforce kept), as the conflict records.
	Decide = Transition{Name: "decide", From: []State{Conflict}, To: Requeue}
	// Overrule sets aside a failed change once a poll brought a Salesforce version that the
	// mapping's conflict policy keeps over it (or a delete of its record in Salesforce): a retry
	// would send what the policy decided against.
	Overrule = Transition{Name: "overrule", From: []State{Failed}, To: Ignored}
	// HoldFailed holds a failed change whose record a poll found changed in Salesforce, on a mapping
	// whose policy is manual: an admin keeps one side, as for a change held by the writer.
	HoldFailed = Transition{Name: "hold_failed", From: []State{Failed}, To: Conflict}
)
