package handlers

import (
	"context"
	"io"
	"time"

	"pgforce/sync/audit"
	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/failure"
	"pgforce/sync/report"
)

// Engine is what the dashboard asks of the sync engine (*engine.Engine implements it).
type Engine interface {
	CreateConnection(ctx context.Context, actor audit.Actor, n engine.NewConnection) (connection.Connection, error)
	Connections(ctx context.Context) ([]connection.Connection, error)
	Connection(ctx context.Context, id int64) (connection.Connection, error)
	AuthorizeURL(ctx context.Context, connID int64, redirectURL, state, verifier string) (string, error)
	CompleteAuthorization(ctx context.Context, actor audit.Actor, connID int64, redirectURL, code, verifier string) (connection.Connection, error)
	Pause(ctx context.Context, actor audit.Actor, connID int64) error
	Resume(ctx context.Context, actor audit.Actor, connID int64) error
	Recover(ctx context.Context, actor audit.Actor, connID int64) error
	SetWriteAlgorithm(ctx context.Context, actor audit.Actor, connID int64, algo connection.WriteAlgorithm) error
	SetAPIVersion(ctx context.Context, actor audit.Actor, connID int64, version string) error

	Objects(ctx context.Context, connID int64, search string) ([]engine.ObjectSummary, error)
	Describe(ctx context.Context, connID int64, object string) (mapping.Object, error)
	CreateMapping(ctx context.Context, actor audit.Actor, connID int64, object string, cfg mapping.Config) (mapping.Mapping, error)
	Mappings(ctx context.Context, connID int64) ([]mapping.Mapping, error)
	Mapping(ctx context.Context, id int64) (mapping.Mapping, error)
	EditMapping(ctx context.Context, actor audit.Actor, mappingID int64, cfg mapping.Config, recreate []string) (mapping.Mapping, error)
	PendingWrites(ctx context.Context, mappingID int64) (int64, error)
	ReloadMapping(ctx context.Context, actor audit.Actor, mappingID int64) error
	AbortMapping(ctx context.Context, actor audit.Actor, mappingID int64) error
	DeleteMapping(ctx context.Context, actor audit.Actor, mappingID int64) error

	ExportConfig(ctx context.Context, connID int64) ([]byte, error)
	PlanImport(ctx context.Context, connID int64, raw []byte) (engine.ImportPlan, error)
	ApplyImport(ctx context.Context, actor audit.Actor, connID int64, raw []byte) (engine.ImportPlan, error)
	Orphans(ctx context.Context, connID int64) ([]mapping.Mapping, error)
	RemoveOrphans(ctx context.Context, actor audit.Actor, connID int64, dropTables bool) (int, error)
	CheckSchema(ctx context.Context, connID int64) error

	SetStreamTransport(ctx context.Context, actor audit.Actor, connID int64, transport string) error

	RetryWrite(ctx context.Context, actor audit.Actor, connID, logID int64) error
	IgnoreWrite(ctx context.Context, actor audit.Actor, connID, logID int64) error
}

var _ Engine = (*engine.Engine)(nil)

// Operations the engine does not offer yet. The dashboard shows their controls disabled with an
// explanation until the engine implements them (checked at run time, so wiring never breaks).
type (
	// pollingDefaulter sets the polling interval new mappings start with.
	pollingDefaulter interface {
		SetPollingDefault(ctx context.Context, actor audit.Actor, connID int64, seconds int) error
	}
	// apiUsager reports the org's daily API usage as last seen by the engine.
	apiUsager interface {
		APIUsage(ctx context.Context, connID int64) (used, max int, at time.Time, err error)
	}
	// connectionDeleter deletes a connection (after a sandbox refresh), dropping its schema or not.
	connectionDeleter interface {
		DeleteConnection(ctx context.Context, actor audit.Actor, connID int64, dropSchema bool) error
	}
)

// Reports is the dashboard's read side (*report.Reader implements it).
type Reports interface {
	MappingSummaries(ctx context.Context, connID int64) ([]report.MappingSummary, error)
	Counts(ctx context.Context, schema string, tables []string) (map[string]report.TableCounts, error)
	Activity(ctx context.Context, connID int64, since time.Time) ([]report.Bucket, error)
	Events(ctx context.Context, connID int64, f report.EventFilter) ([]mapping.Event, error)
	EventKinds(ctx context.Context, connID int64, since time.Time) ([]string, error)
	WriteErrors(ctx context.Context, schema string, tables []string, since time.Time, limit int) ([]report.LogEntry, error)
	RecordHistory(ctx context.Context, schema, table string, recordID int64, limit int) ([]report.LogEntry, error)
	Rows(ctx context.Context, schema, table string, q report.RowQuery) (report.RowPage, error)
	Record(ctx context.Context, schema, table string, id int64) ([]report.Field, error)
	AuditCSV(ctx context.Context, f audit.Filter, w io.Writer) error
	AuditEntries(ctx context.Context, f audit.Filter) ([]audit.Entry, error)
}

var _ Reports = (*report.Reader)(nil)

// noEngine stands in until the sync engine is wired into the product: there are no connections, and
// anything that needs the engine says that it is not running (never a crash or an internal error).
type noEngine struct{}

var _ Engine = noEngine{}

var errNoEngine = failure.E(failure.Unavailable, "The sync engine is not running in this pgforce process, so connections cannot be managed yet.")

func (noEngine) Connections(context.Context) ([]connection.Connection, error) { return nil, nil }
func (noEngine) Connection(context.Context, int64) (connection.Connection, error) {
	return connection.Connection{}, errNoEngine
}
func (noEngine) CreateConnection(context.Context, audit.Actor, engine.NewConnection) (connection.Connection, error) {
	return connection.Connection{}, errNoEngine
}
func (noEngine) AuthorizeURL(context.Context, int64, string, string, string) (string, error) {
	return "", errNoEngine
}
func (noEngine) CompleteAuthorization(context.Context, audit.Actor, int64, string, string, string) (connection.Connection, error) {
	return connection.Connection{}, errNoEngine
}
func (noEngine) Pause(context.Context, audit.Actor, int64) error   { return errNoEngine }
func (noEngine) Resume(context.Context, audit.Actor, int64) error  { return errNoEngine }
func (noEngine) Recover(context.Context, audit.Actor, int64) error { return errNoEngine }
func (noEngine) SetWriteAlgorithm(context.Context, audit.Actor, int64, connection.WriteAlgorithm) error {
	return errNoEngine
}
func (noEngine) SetAPIVersion(context.Context, audit.Actor, int64, string) error { return errNoEngine }
func (noEngine) SetStreamTransport(context.Context, audit.Actor, int64, string) error {
	return errNoEngine
}
func (noEngine) Objects(context.Context, int64, string) ([]engine.ObjectSummary, error) {
	return nil, errNoEngine
}
func (noEngine) Describe(context.Context, int64, string) (mapping.Object, error) {
	return mapping.Object{}, errNoEngine
}
func (noEngine) CreateMapping(context.Context, audit.Actor, int64, string, mapping.Config) (mapping.Mapping, error) {
	return mapping.Mapping{}, errNoEngine
}
func (noEngine) Mappings(context.Context, int64) ([]mapping.Mapping, error) { return nil, errNoEngine }
func (noEngine) Mapping(context.Context, int64) (mapping.Mapping, error) {
	return mapping.Mapping{}, errNoEngine
}
func (noEngine) EditMapping(context.Context, audit.Actor, int64, mapping.Config, []string) (mapping.Mapping, error) {
	return mapping.Mapping{}, errNoEngine
}
func (noEngine) PendingWrites(context.Context, int64) (int64, error)       { return 0, errNoEngine }
func (noEngine) ReloadMapping(context.Context, audit.Actor, int64) error   { return errNoEngine }
func (noEngine) AbortMapping(context.Context, audit.Actor, int64) error    { return errNoEngine }
func (noEngine) DeleteMapping(context.Context, audit.Actor, int64) error   { return errNoEngine }
func (noEngine) ExportConfig(context.Context, int64) ([]byte, error)       { return nil, errNoEngine }
func (noEngine) CheckSchema(context.Context, int64) error                  { return errNoEngine }
func (noEngine) Orphans(context.Context, int64) ([]mapping.Mapping, error) { return nil, errNoEngine }
func (noEngine) PlanImport(context.Context, int64, []byte) (engine.ImportPlan, error) {
	return engine.ImportPlan{}, errNoEngine
}
func (noEngine) ApplyImport(context.Context, audit.Actor, int64, []byte) (engine.ImportPlan, error) {
	return engine.ImportPlan{}, errNoEngine
}
func (noEngine) RemoveOrphans(context.Context, audit.Actor, int64, bool) (int, error) {
	return 0, errNoEngine
}
func (noEngine) RetryWrite(context.Context, audit.Actor, int64, int64) error  { return errNoEngine }
func (noEngine) IgnoreWrite(context.Context, audit.Actor, int64, int64) error { return errNoEngine }

// eng returns the engine, or a stand-in that has no connections.
func (h *Handlers) eng() Engine {
	if h.Engine == nil {
		return noEngine{}
	}
	return h.Engine
}
