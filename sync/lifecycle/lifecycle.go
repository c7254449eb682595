// Package lifecycle is what pgforce's three state machines share (a connection, a mapping, a
// trigger-log row): a named transition between typed states, allowed from listed states and guarded
// by preconditions on the data. Each store applies a transition as one compare-and-set: the state
// and every precondition are checked in the statement that changes the state, so a row that changed
// meanwhile, or data that no longer allows the change, is never overwritten. When the store refuses,
// the caller gets a failure.Conflict whose message says which condition did not hold.
package lifecycle

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/failure"
)

// Transition is a named state change, allowed only from the states in From (any state when From is
// empty) and only while every precondition in Requires holds.
type Transition[S ~string] struct {
	Name  string
	From  []S
	To    S
	Quiet bool // frequent transitions (write batches, polls) are not recorded as events
	// Requires are conditions on the data, checked in the same statement as the state.
	Requires []Precondition
}

// Precondition is a named condition on the data a transition needs, as SQL. The store that applies
// the transition says under which alias the changed row is visible (a connection as c, a mapping as
// m, a trigger-log row as t); the expression may use named arguments (@name), whose values are in
// Args. Argument names must not clash with another precondition's or with the store's own (id, to,
// reason, from), so they carry the precondition's theme, e.g. @used_authorization.
type Precondition struct {
	Name    string         // short and stable: named in the refusal, for logs and tests
	SQL     string         // a boolean expression; NULL counts as not holding
	Args    map[string]any // values of the named arguments SQL uses
	Message string         // why the change is refused while it does not hold, for the person who asked
}

// Allowed reports whether t may leave state s (its preconditions aside).
func (t Transition[S]) Allowed(s S) bool {
	return len(t.From) == 0 || slices.Contains(t.From, s)
}

// FromStrings returns From as strings, for SQL parameters.
func (t Transition[S]) FromStrings() []string { return Strings(t.From...) }

// Strings returns states as strings, for SQL parameters.
func Strings[S ~string](states ...S) []string {
	out := make([]string, len(states))
	for i, s := range states {
		out[i] = string(s)
	}
	return out
}

// With returns t with more preconditions, for conditions only known when applying it (the
// authorization a failing client used, the tables whose writes must be done).
func (t Transition[S]) With(ps ...Precondition) Transition[S] {
	t.Requires = append(slices.Clone(t.Requires), ps...)
	return t
}

// Guard returns the SQL condition under which t applies to a row whose current state is the SQL
// expression state: the state is one of From and every precondition holds. The named arguments it
// uses are added to args.
func (t Transition[S]) Guard(state string, args pgx.NamedArgs) string {
	var conds []string
	if len(t.From) > 0 {
		setArg(args, "from", t.FromStrings())
		conds = append(conds, state+" = ANY(@from::text[])")
	}
	for _, p := range t.Requires {
		for k, v := range p.Args {
			setArg(args, k, v)
		}
		conds = append(conds, "COALESCE(("+p.SQL+"), false)")
	}
	if len(conds) == 0 {
		return "TRUE"
	}
	return strings.Join(conds, " AND ")
}

func setArg(args pgx.NamedArgs, k string, v any) {
	if _, dup := args[k]; dup {
		// Two conditions using one name would silently share a value: a programming error.
		panic(fmt.Sprintf("lifecycle: SQL argument @%s is used twice", k))
	}
	args[k] = v
}

// Querier is a pool or a transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Unmet returns the first of t's preconditions that does not hold for the row that rows selects (a
// FROM clause such as "connections c WHERE c.id = @id", whose named arguments are in args), or nil
// when they all hold (or the row is gone).
func (t Transition[S]) Unmet(ctx context.Context, q Querier, rows string, args pgx.NamedArgs) (*Precondition, error) {
	if len(t.Requires) == 0 {
		return nil, nil
	}
	named := pgx.NamedArgs{}
	for k, v := range args {
		named[k] = v
	}
	checks := make([]string, len(t.Requires))
	for i, p := range t.Requires {
		for k, v := range p.Args {
			named[k] = v
		}
		checks[i] = "COALESCE((" + p.SQL + "), false)"
	}
	var held []bool
	err := q.QueryRow(ctx, `SELECT ARRAY[`+strings.Join(checks, ", ")+`] FROM `+rows, named).Scan(&held)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("check the preconditions of %s: %w", t.Name, err)
	}
	for i, ok := range held {
		if !ok {
			return &t.Requires[i], nil
		}
	}
	return nil, nil
}

// Refusal is why a store refused a transition: the row was in a state the transition does not leave,
// or (Precondition set) a precondition did not hold. It is the cause inside the failure.Conflict the
// store returns.
type Refusal struct {
	Transition   string
	Current      string // the row's state when it was refused
	Precondition string // the unmet precondition's name; "" when the state was the reason
}

func (r *Refusal) Error() string {
	if r.Precondition != "" {
		return fmt.Sprintf("%s refused in state %s: precondition %s does not hold", r.Transition, r.Current, r.Precondition)
	}
	return fmt.Sprintf("%s is not allowed in state %s", r.Transition, r.Current)
}

// Refused builds the failure.Conflict a store returns when t did not apply to a row in state
// current: message says why in the asker's terms, unmet is the precondition that did not hold (nil
// when the state was the reason).
func (t Transition[S]) Refused(current S, unmet *Precondition, message string) error {
	r := &Refusal{Transition: t.Name, Current: string(current)}
	if unmet != nil {
		r.Precondition = unmet.Name
		if message == "" {
			message = unmet.Message
		}
	}
	return &failure.Error{Kind: failure.Conflict, Message: message, Err: r}
}

// Explain works out why t did not apply to a row now in state current: the state, or the first
// unmet precondition. stateMessage is the message for a refused state. When neither explains it (the
// data changed back meanwhile), the refusal asks to try again.
func (t Transition[S]) Explain(ctx context.Context, q Querier, current S, rows string, args pgx.NamedArgs, stateMessage string) error {
	if !t.Allowed(current) {
		return t.Refused(current, nil, stateMessage)
	}
	p, err := t.Unmet(ctx, q, rows, args)
	if err != nil {
		return err
	}
	if p == nil {
		return t.Refused(current, nil, "It changed while pgforce was applying "+t.Name+"; try again.")
	}
	return t.Refused(current, p, "")
}
