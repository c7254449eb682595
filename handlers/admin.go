package handlers

import (
	"context"
	"io"
	"time"

	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/orgclient"
	"pgforce/sync/report"
	"pgforce/sync/verify"
)

// ConnectionAdmin is what the dashboard asks of connections (*admin.Connections implements it).
type ConnectionAdmin interface {
	Create(ctx context.Context, actor audit.Actor, n admin.NewConnection) (connection.Connection, error)
	List(ctx context.Context) ([]connection.Connection, error)
	Get(ctx context.Context, id int64) (connection.Connection, error)
	AuthorizeURL(ctx context.Context, connID int64, redirectURL, state, verifier string) (string, error)
	CompleteAuthorization(ctx context.Context, actor audit.Actor, connID int64, redirectURL, code, verifier string) (connection.Connection, error)
	Pause(ctx context.Context, actor audit.Actor, connID int64) error
	Resume(ctx context.Context, actor audit.Actor, connID int64) error
	Recover(ctx context.Context, actor audit.Actor, connID int64) error
	SetWriteAlgorithm(ctx context.Context, actor audit.Actor, connID int64, algo connection.WriteAlgorithm) error
	SetAPIVersion(ctx context.Context, actor audit.Actor, connID int64, version string) error
	SetPollingDefault(ctx context.Context, actor audit.Actor, connID int64, seconds int) error
	SetStreamTransport(ctx context.Context, actor audit.Actor, connID int64, transport string) error
	APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error)
	Delete(ctx context.Context, actor audit.Actor, connID int64, dropSchema bool) error
}

// MappingAdmin is what the dashboard asks of mappings (*admin.Mappings implements it).
type MappingAdmin interface {
	Objects(ctx context.Context, connID int64, search string) ([]orgclient.ObjectSummary, error)
	Describe(ctx context.Context, connID int64, object string) (mapping.Object, error)
	Create(ctx context.Context, actor audit.Actor, connID int64, object string, cfg mapping.Config) (mapping.Mapping, error)
	List(ctx context.Context, connID int64) ([]mapping.Mapping, error)
	Get(ctx context.Context, id int64) (mapping.Mapping, error)
	Edit(ctx context.Context, actor audit.Actor, mappingID int64, cfg mapping.Config, recreate []string) (mapping.Mapping, error)
	PendingWrites(ctx context.Context, mappingID int64) (int64, error)
	Reload(ctx context.Context, actor audit.Actor, mappingID int64) error
	Abort(ctx context.Context, actor audit.Actor, mappingID int64) error
	Recover(ctx context.Context, actor audit.Actor, mappingID int64) (mapping.State, error)
	Delete(ctx context.Context, actor audit.Actor, mappingID int64) error
	CheckSchema(ctx context.Context, connID int64) error
	Orphans(ctx context.Context, connID int64) ([]mapping.Mapping, error)
	RemoveOrphans(ctx context.Context, actor audit.Actor, connID int64, dropTables bool) (int, error)
}

// ConfigurationAdmin is what the dashboard asks to export and import configurations
// (*admin.Configuration implements it).
type ConfigurationAdmin interface {
	Export(ctx context.Context, connID int64) ([]byte, error)
	PlanImport(ctx context.Context, connID int64, raw []byte) (admin.ImportPlan, error)
	ApplyImport(ctx context.Context, actor audit.Actor, connID int64, raw []byte) (admin.ImportPlan, error)
}

// WriteAdmin is what the dashboard asks of failed writes (*admin.Writes implements it).
type WriteAdmin interface {
	Retry(ctx context.Context, actor audit.Actor, connID, logID int64) error
	Ignore(ctx context.Context, actor audit.Actor, connID, logID int64) error
	FixAndRetry(ctx context.Context, actor audit.Actor, connID, logID int64, set map[string]string) error
	RetryByCode(ctx context.Context, actor audit.Actor, mappingID int64, code string) (int, error)
	IgnoreByCode(ctx context.Context, actor audit.Actor, mappingID int64, code string) (int, error)
}

// ConflictAdmin is what the dashboard and the API ask of conflicts (*admin.Conflicts implements it).
type ConflictAdmin interface {
	List(ctx context.Context, f conflict.Filter) ([]conflict.Conflict, error)
	Resolve(ctx context.Context, actor audit.Actor, connID, id int64, side admin.Side) (conflict.Conflict, error)
}

// VerificationAdmin is what the dashboard asks of verifications (*admin.Verifications implements it).
type VerificationAdmin interface {
	Request(ctx context.Context, actor audit.Actor, mappingID int64) (verify.Verification, error)
	Repair(ctx context.Context, actor audit.Actor, verificationID int64) (verify.Verification, error)
	Get(ctx context.Context, id int64) (verify.Verification, error)
	Latest(ctx context.Context, connID int64) (map[int64]verify.Verification, error)
	LatestOf(ctx context.Context, mappingID int64) (verify.Verification, bool, error)
	Findings(ctx context.Context, id int64, kind verify.Kind, limit int) ([]verify.Finding, error)
	SetSchedule(ctx context.Context, actor audit.Actor, connID int64, hours int) error
}

var (
	_ VerificationAdmin  = (*admin.Verifications)(nil)
	_ ConnectionAdmin    = (*admin.Connections)(nil)
	_ MappingAdmin       = (*admin.Mappings)(nil)
	_ ConfigurationAdmin = (*admin.Configuration)(nil)
	_ WriteAdmin         = (*admin.Writes)(nil)
)

// Reports is the dashboard's read side (*report.Reader implements it).
type Reports interface {
	MappingSummaries(ctx context.Context, connID int64) ([]report.MappingSummary, error)
	Counts(ctx context.Context, schema string, tables []string) (map[string]report.TableCounts, error)
	Activity(ctx context.Context, connID int64, since time.Time) ([]report.Bucket, error)
	Events(ctx context.Context, connID int64, f report.EventFilter) ([]mapping.Event, error)
	Timeline(ctx context.Context, connID int64, schema string, f report.TimelineFilter) (report.Timeline, error)
	WriteErrors(ctx context.Context, schema string, tables []string, since time.Time, limit int) ([]report.LogEntry, error)
	WriteErrorCodes(ctx context.Context, schema, table string) ([]report.ErrorCodeCount, error)
	RecordHistory(ctx context.Context, schema, table string, recordID int64, limit int) ([]report.LogEntry, error)
	Rows(ctx context.Context, schema, table string, q report.RowQuery) (report.RowPage, error)
	Record(ctx context.Context, schema, table string, id int64) ([]report.Field, error)
	AuditCSV(ctx context.Context, f audit.Filter, w io.Writer) error
	AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

var _ Reports = (*report.Reader)(nil)
