// Package failure classifies errors once, where they arise, so that every surface (dashboard, API, CLI)
// can turn them into the right status and a message that is safe to show.
package failure

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind says what the caller can do about an error.
type Kind int

// Do not reorder: kinds are compared by value across packages and in tests.
const (
	Internal        Kind = iota // a bug or an unexpected outage; details are logged, never shown
	Invalid                     // the input is wrong; the message says how
	NotFound                    // the thing asked for does not exist
	Conflict                    // the request clashes with the current state (e.g. pause while busy)
	Forbidden                   // the actor may not do this
	Unauthenticated             // the actor must sign in (again)
	RateLimited                 // too many attempts; retry later
	Unavailable                 // a dependency is down; retrying later may succeed
)

var kindNames = [...]string{"internal", "invalid", "not_found", "conflict", "forbidden", "unauthenticated", "rate_limited", "unavailable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error with a Kind and a message written for the person who caused it.
type Error struct {
	Kind    Kind
	Message string        // safe to show to users
	Field   string        // optional: the input field the message is about
	After   time.Duration // optional: for RateLimited, when to retry
	Err     error         // optional cause, for logs only
}

func (e *Error) Error() string {
	if e.Err != nil && !strings.Contains(e.Message, e.Err.Error()) {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error of the given kind with a user-facing message.
func E(kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a kind and user-facing message to a cause that is logged but not shown.
func Wrap(err error, kind Kind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...), Err: err}
}

// InvalidField reports bad input for one named field.
func InvalidField(field, format string, args ...any) *Error {
	return &Error{Kind: Invalid, Field: field, Message: fmt.Sprintf(format, args...)}
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// Message returns the user-facing message of err, or a generic one for internal errors so that
// details (SQL, stack, hostnames) never reach a page.
func Message(err error) string {
	var e *Error
	if errors.As(err, &e) && e.Kind != Internal {
		return e.Message
	}
	return "Something went wrong on our side. The details have been logged."
}

// Is reports whether err carries the given kind.
func Is(err error, kind Kind) bool {
	var e *Error
	return errors.As(err, &e) && e.Kind == kind
}
