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

// Classifier gives a kind to an error of a dependency that does not build *Error itself (nil when
// it does not know the error). The package that owns the dependency registers one, once: sync/store
// for the database driver's errors, so that a database outage is Unavailable wherever it surfaces.
type Classifier func(err error) *Error

var classifiers []Classifier

// Register adds a classifier; call it from an init function.
func Register(c Classifier) { classifiers = append(classifiers, c) }

// find returns the first *Error in err's chain, or what a classifier makes of err.
func find(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if err == nil {
		return nil
	}
	for _, c := range classifiers {
		if e := c(err); e != nil {
			return e
		}
	}
	return nil
}

// KindOf returns the kind of the first *Error in err's chain (or a classifier's), or Internal.
func KindOf(err error) Kind {
	if e := find(err); e != nil {
		return e.Kind
	}
	return Internal
}

// Message returns the user-facing message of err, or a generic one for internal errors so that
// details (SQL, stack, hostnames) never reach a page.
func Message(err error) string {
	if e := find(err); e != nil && e.Kind != Internal {
		return e.Message
	}
	return "Something went wrong on our side. The details have been logged."
}

// Is reports whether err carries the given kind.
func Is(err error, kind Kind) bool {
	e := find(err)
	return e != nil && e.Kind == kind
}

// Transient reports whether err is worth retrying as it is, later: a dependency is down or busy
// (Unavailable) or asks to slow down (RateLimited). This is the one place where retriable and
// permanent errors part: the runtime retries the first and gives up on the others.
func Transient(err error) bool {
	k := KindOf(err)
	return k == Unavailable || k == RateLimited
}
