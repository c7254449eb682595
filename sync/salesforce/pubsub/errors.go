package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"pgforce/sync/failure"
)

// What an error means for the caller; test with errors.Is.
var (
	ErrAuth          = errors.New("Salesforce refused the session")
	ErrUnknownTopic  = errors.New("no such topic")
	ErrReplayInvalid = errors.New("the replay id is invalid or outside the retention window")
	ErrUnavailable   = errors.New("the Pub/Sub API is unavailable")
	ErrRefused       = errors.New("the Pub/Sub API refused the request")
)

// Salesforce's error codes (the error-code trailer of a failed call).
const (
	CodeAuth            = "sfdc.platform.eventbus.grpc.service.auth.error"
	CodeTopicNotFound   = "sfdc.platform.eventbus.grpc.topic.not.found"
	CodeReplayCorrupted = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
	CodeReplayMissing   = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"
	CodeRequestedEvents = "sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"
	CodeTopicMismatch   = "sfdc.platform.eventbus.grpc.subscription.fetch.topic.mismatch"
	CodeSchemaNotFound  = "sfdc.platform.eventbus.grpc.schema.validation.failed"
	CodeUnavailable     = "sfdc.platform.eventbus.grpc.service.unavailable"
	CodeTopicEmpty      = "sfdc.platform.eventbus.grpc.topic.validation.empty"
	CodeNoPublish       = "sfdc.platform.eventbus.grpc.publish.topic.cannot.publish"
)

// Error is a failed Pub/Sub API call, classified once.
type Error struct {
	Kind    error      // one of the Err values above
	Status  codes.Code // the gRPC status
	Code    string     // Salesforce's error-code trailer, when sent
	Message string
	Call    string // the RPC and its topic or schema
}

func (e *Error) Error() string {
	msg := e.Message
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Call != "" {
		return fmt.Sprintf("pubsub %s: %s", e.Call, msg)
	}
	return "pubsub: " + msg
}

// Is matches the error's kind.
func (e *Error) Is(target error) bool { return target == e.Kind }

// Unwrap gives the failure kind, for dashboards and retries.
func (e *Error) Unwrap() error {
	kind := failure.Invalid
	switch e.Kind {
	case ErrAuth:
		kind = failure.Unauthenticated
	case ErrUnavailable:
		kind = failure.Unavailable
	}
	return &failure.Error{Kind: kind, Message: "Salesforce Pub/Sub API: " + e.Message}
}

// classify turns a gRPC error into an *Error (context errors pass through); trailer holds the call's
// trailing metadata, where Salesforce puts its error code.
func classify(err error, call string, trailer metadata.MD) error {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	st, ok := status.FromError(err)
	if !ok {
		return &Error{Kind: ErrUnavailable, Message: err.Error(), Call: call}
	}
	if st.Code() == codes.Canceled {
		return context.Canceled
	}
	e := &Error{Status: st.Code(), Message: st.Message(), Call: call}
	if v := trailer.Get("error-code"); len(v) > 0 {
		e.Code = v[0]
	}
	switch {
	case e.Code == CodeAuth || st.Code() == codes.Unauthenticated:
		e.Kind = ErrAuth
	case e.Code == CodeTopicNotFound || st.Code() == codes.NotFound && strings.Contains(call, "Subscribe"):
		e.Kind = ErrUnknownTopic
	case e.Code == CodeReplayCorrupted || e.Code == CodeReplayMissing:
		e.Kind = ErrReplayInvalid
	case retriable[st.Code()]:
		e.Kind = ErrUnavailable
	default:
		e.Kind = ErrRefused
	}
	return e
}

var retriable = map[codes.Code]bool{codes.Unavailable: true, codes.Internal: true, codes.Unknown: true, codes.Aborted: true,
	codes.ResourceExhausted: true, codes.DeadlineExceeded: true}
