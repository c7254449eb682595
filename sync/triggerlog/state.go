// Package triggerlog implements Heroku Connect's trigger log: the tables in a connection's schema that
// capture every insert, update and delete on read-write mapped tables, the capture triggers that fill
// them, and the states a captured change goes through on its way to Salesforce.
package triggerlog

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
)

// Action is the captured operation (column action, varchar(7)).
type Action string

// Actions as TG_OP names them.
const (
	Insert Action = "INSERT"
	Update Action = "UPDATE"
	Delete Action = "DELETE"
)

// Terminal reports whether a state is final (the row may move to the archive).
func (s State) Terminal() bool {
	switch s {
	case Success, Failed, Ignore, Ignored, Merged, ReadOnly, Requeued:
		return true
	}
	return false
}

// Transition is a named, guarded state change: the SQL update applies only to rows in From.
type Transition struct {
	Name string
	From []State
	To   State
}

// The transitions the writer and the dashboard may make. Each is applied with a compare-and-set
// (WHERE state = ANY(From)), so a row changed by someone else is never overwritten.
var (
	Claim   = Transition{"claim", []State{New, Requeue}, Pending}
	Succeed = Transition{"succeed", []State{Pending}, Success}
	Fail    = Transition{"fail", []State{Pending}, Failed}
	Release = Transition{"release", []State{Pending}, New} // a retriable failure: back in the queue, order kept
	Merge   = Transition{"merge", []State{New, Pending}, Merged}
	Dismiss = Transition{"dismiss", []State{Failed}, Ignored}
	Retry   = Transition{"retry", []State{Failed}, Requeue}
	Skip    = Transition{"skip", []State{New, Pending}, Ignored} // e.g. pending writes dropped by reload/delete
)

// Allowed reports whether t may apply to a row in state s.
func (t Transition) Allowed(s State) bool {
	for _, f := range t.From {
		if f == s {
			return true
		}
	}
	return false
}

// FromStrings returns From as strings for SQL parameters.
func (t Transition) FromStrings() []string {
	out := make([]string, len(t.From))
	for i, s := range t.From {
		out[i] = string(s)
	}
	return out
}
