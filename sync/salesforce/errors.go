// Package salesforce is pgforce's Salesforce client: OAuth (golang.org/x/oauth2), REST, SOQL paging,
// sObject Collections and Bulk API 2.0, with errors classified once, retries with backoff, token
// refresh and API usage tracking. The sync engine talks to Salesforce only through it, and it works
// the same against a real org and the simulated one.
package salesforce

import (
	"errors"
	"fmt"
	"net"
	"time"

	"pgforce/sync/failure"
)

// Kind says what to do about an error.
type Kind int

// Error kinds.
const (
	Permanent          Kind = iota // the request is wrong: retrying cannot help
	Retriable                      // timeouts, network errors, 5xx, record locks: try again later
	RateLimited                    // the org's API limit is reached: wait for the window
	NeedAuthentication             // the tokens are refused and cannot be refreshed: re-authorize
)

func (k Kind) String() string {
	return [...]string{"permanent", "retriable", "rate_limited", "need_authentication"}[k]
}

// Error is a Salesforce error (or a transport failure) with its classification.
type Error struct {
	Status     int
	Code       string // Salesforce errorCode, or a transport description
	Message    string
	Fields     []string
	Kind       Kind
	RetryAfter time.Duration
	Err        error // underlying transport error, if any
}

func (e *Error) Error() string {
	if e.Status > 0 {
		return fmt.Sprintf("salesforce %d %s: %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("salesforce: %s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error {
	if e.Err != nil {
		return e.Err
	}
	return e.Failure()
}

// Failure maps the error onto pgforce's user-facing kinds.
func (e *Error) Failure() *failure.Error {
	kind := failure.Invalid
	switch e.Kind {
	case Retriable:
		kind = failure.Unavailable
	case RateLimited:
		kind = failure.RateLimited
	case NeedAuthentication:
		kind = failure.Unauthenticated
	}
	msg := e.Message
	if e.Code != "" {
		msg = e.Code + ": " + e.Message
	}
	return &failure.Error{Kind: kind, Message: "Salesforce: " + msg, After: e.RetryAfter}
}

// retriableCodes are errorCodes that succeed when tried again later.
var retriableCodes = map[string]bool{
	"UNABLE_TO_LOCK_ROW": true, "SERVER_UNAVAILABLE": true, "QUERY_TIMEOUT": true, "REQUEST_RUNNING_TOO_LONG": true,
	"UNKNOWN_EXCEPTION": true, "CONCURRENT_REQUEST_LIMIT": true, "API_CURRENTLY_DISABLED": true,
}

// classify sets Kind from status and code: the one place errors are classified.
func classify(e *Error) *Error {
	switch {
	case e.Code == "REQUEST_LIMIT_EXCEEDED" || e.Status == 429:
		e.Kind = RateLimited
		if e.RetryAfter == 0 {
			e.RetryAfter = 10 * time.Minute
		}
	case e.Code == "INVALID_SESSION_ID" || e.Status == 401:
		e.Kind = NeedAuthentication
	case retriableCodes[e.Code] || e.Status >= 500 || e.Status == 408:
		e.Kind = Retriable
	default:
		e.Kind = Permanent
	}
	return e
}

// transportError wraps a network failure: always retriable.
func transportError(err error) *Error {
	code := "NETWORK_ERROR"
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		code = "TIMEOUT"
	}
	return &Error{Code: code, Message: err.Error(), Kind: Retriable, Err: err}
}

// KindOf returns the kind of a Salesforce error (Permanent for anything else).
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Permanent
}

// IsRetriable reports whether trying again later may succeed.
func IsRetriable(err error) bool {
	k := KindOf(err)
	return k == Retriable || k == RateLimited
}
