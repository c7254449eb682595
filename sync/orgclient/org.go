// Package orgclient is a Salesforce org as the sync sees it: the Org interface the runtime and the
// administration call, and its implementation over the Salesforce client (salesforce.go). Neither
// ever knows whether the org is real or simulated.
package orgclient

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

// Org is what the sync needs from a Salesforce org. *salesforce.Client implements it through an
// adapter (salesforce.go).
type Org interface {
	// Objects lists the org's objects (describe global).
	Objects(ctx context.Context) ([]ObjectSummary, error)
	// Describe returns one object's fields.
	Describe(ctx context.Context, object string) (mapping.Object, error)
	// Count runs a SELECT COUNT() query.
	Count(ctx context.Context, soql string) (int, error)
	// Query runs SOQL (all = queryAll, deleted records included) and calls fn for each record, page by page.
	Query(ctx context.Context, soql string, all bool, fn func(rec map[string]json.RawMessage) error) (int, error)
	// BulkQuery runs a Bulk API 2.0 query job and calls page with each result page's CSV (header
	// line included) as it downloads; state reports progress (job created, results ready).
	BulkQuery(ctx context.Context, soql string, all bool, state func(BulkState), page func(csv io.Reader) error) error
	// BulkWrite runs one Bulk API 2.0 ingest job (insert, update, upsert or delete) over CSV.
	BulkWrite(ctx context.Context, object, operation, extIDField string, csv []byte) (BulkWriteResult, error)
	// Usage reports the daily API usage last seen.
	Usage() (used, max int)
	// Calls counts the API calls this client made, by kind (query, composite, bulk, ...).
	Calls() map[string]int

	// CreateMany, UpdateMany (each record has "Id"), UpsertMany (by an external id field) and
	// DeleteMany write through sObject Collections, 200 records per call, allOrNone false; results are
	// in input order. A whole-call failure (network, 5xx, limits) is returned as the error.
	CreateMany(ctx context.Context, object string, recs []map[string]any) ([]SaveResult, error)
	UpdateMany(ctx context.Context, object string, recs []map[string]any) ([]SaveResult, error)
	UpsertMany(ctx context.Context, object, extIDField string, recs []map[string]any) ([]SaveResult, error)
	DeleteMany(ctx context.Context, ids []string) ([]SaveResult, error)
	// UpdateUnmodifiedSince updates one record unless it was modified after since (a conditional
	// request): Salesforce's refusal of the record (412 ENTITY_FAILED_IFLASTMODIFIED_ON_UPDATE_CHECK
	// when it changed, ENTITY_IS_DELETED, a validation) is the result's error; a whole-call failure
	// (network, 5xx, limits, authentication) is the error.
	UpdateUnmodifiedSince(ctx context.Context, object string, rec map[string]any, since time.Time) (SaveResult, error)

	// Stream subscribes to the objects' Change Data Capture channels (object → replay id to resume
	// after, -1 for new events only) and calls fn with every change event, until ctx ends or the
	// stream fails. An object whose subscription is refused is reported to fn (StreamEvent.Err) and
	// the others stream on.
	Stream(ctx context.Context, objects map[string]int64, fn func(StreamEvent)) error
}

// MetadataWatcher is an Org that tells whether any object's metadata changed since a time (describe
// global with If-Modified-Since: one API call, no body when nothing did), so a periodic schema check
// describes objects only when something changed.
type MetadataWatcher interface {
	ObjectsModifiedSince(ctx context.Context, since time.Time) (objects []ObjectSummary, modified bool, err error)
}

// StreamEvent is a change event of one object, or (Err set) the end of that object's subscription.
type StreamEvent struct {
	Object     string
	ReplayID   int64
	ChangeType string   // CREATE, UPDATE, DELETE, UNDELETE, GAP_CREATE, ..., GAP_OVERFLOW
	RecordIDs  []string // the records (gap events name the records to fetch)
	// Err is ErrReplayGone (events after the replay id are not available) or ErrNoChangeEvents (the
	// org publishes none for the object), wrapped with Salesforce's words.
	Err error
	// Subscribed reports that the object's subscription was acknowledged.
	Subscribed bool
}

// Errors of one object's subscription.
var (
	// ErrReplayGone reports that change events were lost (outside the replay window, or a replay id
	// the org never issued): poll to catch up.
	ErrReplayGone = errors.New("change events no longer available for replay")
	// ErrNoChangeEvents reports that the org publishes no change events for an object (not selected
	// for Change Data Capture): poll it.
	ErrNoChangeEvents = errors.New("the org publishes no change events for this object")
)

// SaveResult is Salesforce's per-record outcome of a write.
type SaveResult struct {
	ID      string
	Success bool
	Created bool
	Errors  []RecordError
}

// RecordError is one of Salesforce's reasons for refusing a record.
type RecordError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

// BulkUnprocessed marks a record an ingest job did not get to: it is sent again, in order.
const BulkUnprocessed = "BULK_RECORD_UNPROCESSED"

// retriableRecordCodes are per-record errors that succeed when tried again later.
var retriableRecordCodes = map[string]bool{"UNABLE_TO_LOCK_ROW": true, "SERVER_UNAVAILABLE": true, "REQUEST_RUNNING_TOO_LONG": true, BulkUnprocessed: true}

// Retriable reports whether Salesforce's refusal of a record is one that succeeds when tried again
// later (a lock, a busy server).
func (e RecordError) Retriable() bool { return retriableRecordCodes[e.StatusCode] }

// BulkWriteResult is an ingest job's outcome: the uploaded columns and the result files' rows
// (successful: sf__Id, sf__Created, columns…; failed: sf__Id, sf__Error, columns…).
type BulkWriteResult struct {
	Header                          []string
	Successful, Failed, Unprocessed [][]string
}

// BulkState is a step of a Bulk API query job, for the mapping's state.
type BulkState int

// Bulk query steps.
const (
	BulkWaiting BulkState = iota // the job is created, Salesforce prepares results
	BulkLoading                  // results are being downloaded
)

// ObjectSummary is one entry of describe global.
type ObjectSummary struct {
	Name       string
	Label      string
	Custom     bool
	Queryable  bool
	Createable bool
	Updateable bool
}

// Authorization is the result of a completed OAuth flow.
type Authorization struct {
	AccessToken, RefreshToken string
	InstanceURL               string
	IdentityURL               string
	OrgID, OrgName            string
	UserID, Username          string
	IssuedAt                  time.Time
}

// Orgs builds org clients and runs OAuth flows for connections. It is implemented over the
// Salesforce client; tests and the product use the same implementation.
type Orgs interface {
	// Open returns a client for an authorized connection. save is called with refreshed tokens;
	// a refusal of the tokens surfaces as a failure.Unauthenticated error from the client's calls.
	Open(ctx context.Context, c connection.Connection, tokens connection.Tokens, save func(ctx context.Context, access, refresh string) error) (Org, error)
	// AuthCodeURL is the authorize URL for a connection's org, with state and PKCE verifier.
	AuthCodeURL(c connection.Connection, redirectURL, state, verifier string) (string, error)
	// Exchange completes the web-server flow.
	Exchange(ctx context.Context, c connection.Connection, redirectURL, code, verifier string) (Authorization, error)
	// Password authorizes non-interactively (automation, the simulated org).
	Password(ctx context.Context, c connection.Connection, username, password string) (Authorization, error)
	// Revoke revokes a refresh token (connection deleted).
	Revoke(ctx context.Context, c connection.Connection, token string) error
	// Inspect returns a reader of how an authorized connection's org is set up (pgforce doctor);
	// redirectURL is the dashboard's OAuth callback.
	Inspect(ctx context.Context, c connection.Connection, tokens connection.Tokens, save func(ctx context.Context, access, refresh string) error, redirectURL string) (Inspector, error)
}

// QueryBatcher is an Org that runs several queries in one API call: the polls of a connection's
// mappings share one request instead of one each. Orgs without it are polled a query at a time.
type QueryBatcher interface {
	// QueryBatch runs up to MaxBatchQueries queries in one API call and returns each one's first page.
	QueryBatch(ctx context.Context, queries []BatchQuery) ([]FirstPage, error)
	// QueryMore calls fn for each record of the pages after a first page's Next.
	QueryMore(ctx context.Context, next string, fn func(rec map[string]json.RawMessage) error) error
}

// MaxBatchQueries is how many queries one QueryBatch call carries (a /composite request's 25 subrequests).
const MaxBatchQueries = 25

// BatchQuery is one query of a batch; All selects queryAll.
type BatchQuery struct {
	SOQL string
	All  bool
}

// FirstPage is a query's first page of records; Next, when set, is where the rest is.
type FirstPage struct {
	Records []map[string]json.RawMessage
	Total   int
	Next    string
	Err     error // this query's own failure; the others of the batch answered
}
