// Package resource holds the JSON shapes of the REST API (v3) — connections, mappings, write errors,
// lists — built from the engine's types. The CLI's --json output uses the same shapes, so a script
// can move between `pgforce ... --json` and the API without renaming a field. Field names follow
// Heroku Connect's API where it has one.
package resource

import (
	"time"

	"pgforce/sync/diagnose"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/report"
)

// List is Heroku Connect's list envelope.
type List[T any] struct {
	Count   int `json:"count"`
	Results []T `json:"results"`
}

// NewList wraps items (never null in JSON).
func NewList[T any](items []T) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Count: len(items), Results: items}
}

// Connection is a connection as the API shows it.
type Connection struct {
	ID                   int64           `json:"id"`
	Name                 string          `json:"name"`
	SchemaName           string          `json:"schema_name"`
	State                string          `json:"state"`
	StateDescription     string          `json:"state_description"`
	StateReason          string          `json:"state_reason"`
	StateChangedAt       time.Time       `json:"state_changed_at"`
	MappingsSummaryState string          `json:"mappings_summary_state"`
	OrgType              string          `json:"org_type"`
	LoginURL             string          `json:"login_url"`
	APIVersion           string          `json:"api_version"`
	WriteAlgorithm       string          `json:"write_algorithm"`
	StreamTransport      string          `json:"stream_transport"`
	OrganizationID       string          `json:"organization_id"`
	SFInfo               SFInfo          `json:"sf_info"`
	AuthorizedAt         *time.Time      `json:"auth_updated"`
	CreatedAt            time.Time       `json:"created_at"`
	Features             map[string]bool `json:"features"`
	Health               *Health         `json:"health,omitempty"`
	Mappings             []Mapping       `json:"mappings,omitempty"`
}

// Health is the health model's verdict (the same as the dashboard's and `pgforce diagnose`'s): GREEN
// with "Healthy: ..." only when nothing is wrong, otherwise the problems, worst first.
type Health struct {
	Status   diagnose.Status    `json:"status"`
	Summary  string             `json:"summary"`
	Problems []diagnose.Problem `json:"problems"`
}

// NewHealth shows a health report (never a null list).
func NewHealth(r diagnose.Report) *Health {
	h := &Health{Status: r.Status, Summary: r.Summary(), Problems: r.Problems}
	if h.Problems == nil {
		h.Problems = []diagnose.Problem{}
	}
	if r.Healthy() {
		h.Status = diagnose.Green
	}
	return h
}

// SFInfo is the authorized Salesforce user and org.
type SFInfo struct {
	Username       string `json:"username"`
	OrganizationID string `json:"organization_id"`
	OrgName        string `json:"org_name"`
	InstanceURL    string `json:"instance_url"`
	APIVersion     string `json:"api_version"`
}

// NewConnection shows a connection; with mappings (GET ?deep=true, info) they are embedded.
func NewConnection(c connection.Connection, mappings []Mapping) Connection {
	summary := "OK"
	for _, m := range mappings {
		if mapping.State(m.State).Severity() == "bad" {
			summary = "ERROR"
		}
	}
	return Connection{
		ID: c.ID, Name: c.Name, SchemaName: c.Schema, State: string(c.State), StateDescription: c.State.Describe(),
		StateReason: c.StateReason, StateChangedAt: c.StateChangedAt, MappingsSummaryState: summary,
		OrgType: string(c.OrgType), LoginURL: c.LoginURL, APIVersion: c.APIVersion, WriteAlgorithm: string(c.WriteAlgorithm),
		StreamTransport: string(c.StreamTransport),
		OrganizationID:  c.OrgID, AuthorizedAt: c.AuthorizedAt, CreatedAt: c.CreatedAt,
		SFInfo:   SFInfo{Username: c.Username, OrganizationID: c.OrgID, OrgName: c.OrgName, InstanceURL: c.InstanceURL, APIVersion: c.APIVersion},
		Features: map[string]bool{"poll_db_no_merge": c.WriteAlgorithm == connection.Ordered},
		Mappings: mappings,
	}
}

// Mapping is a mapping as the API shows it.
type Mapping struct {
	ID               int64              `json:"id"`
	ObjectName       string             `json:"object_name"`
	TableName        string             `json:"table_name"`
	State            string             `json:"state"`
	StateDescription string             `json:"state_description"`
	StateReason      string             `json:"state_reason"`
	Access           string             `json:"access"`
	SFNotifyEnabled  bool               `json:"sf_notify_enabled"`
	StreamTransport  string             `json:"stream_transport"` // "pubsub" or "cometd" while it streams
	SFPollingSeconds int                `json:"sf_polling_seconds"`
	UpsertField      string             `json:"upsert_field"`
	Config           mapping.Config     `json:"config"`
	Counts           Counts             `json:"counts"`
	Problems         []diagnose.Problem `json:"problems,omitempty"` // the health model's findings for it
	Load             *Load              `json:"load,omitempty"`
	Drift            []mapping.Drift    `json:"drift,omitempty"`
	Orphaned         bool               `json:"orphaned"`
	Times            Times              `json:"times"`
	Connection       Ref                `json:"connection"`
	CreatedAt        time.Time          `json:"created_at"`
	UpdatedAt        time.Time          `json:"updated_at"`
}

// Counts are a mapping's row figures (Heroku Connect's counts object).
type Counts struct {
	DB          int64  `json:"db"`
	DBEstimated bool   `json:"db_estimated"`
	SF          *int64 `json:"sf"`
	Pending     int64  `json:"pending"`
	Errors      int64  `json:"errors"` // writes Salesforce refused that are not resolved yet
}

// Load is the progress of a running or last load.
type Load struct {
	Done       int64      `json:"done"`
	Expected   *int64     `json:"expected"`
	StartedAt  *time.Time `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
}

// Times are the mapping's last activity.
type Times struct {
	SFPoll     *time.Time `json:"sf_poll"`
	NextSFPoll *time.Time `json:"next_sf_poll"`
}

// Ref points at another resource.
type Ref struct {
	ID int64 `json:"id"`
}

// NewMapping shows a mapping with its table's counts.
func NewMapping(m mapping.Mapping, tc report.TableCounts) Mapping {
	out := Mapping{
		ID: m.ID, ObjectName: m.Object, TableName: m.Table, State: string(m.State), StateDescription: m.State.Describe(),
		StateReason: m.StateReason, Access: string(m.Config.Access), SFNotifyEnabled: m.Config.SFNotifyEnabled, StreamTransport: m.StreamTransport,
		SFPollingSeconds: m.Config.SFPollingSeconds, UpsertField: m.Config.UpsertField, Config: m.Config,
		Counts: Counts{DB: tc.Rows, DBEstimated: tc.Estimated, SF: m.SFCount, Pending: tc.Pending, Errors: tc.Failed},
		Drift:  m.Drift, Orphaned: m.OrphanedAt != nil, Times: Times{SFPoll: m.LastPollAt, NextSFPoll: m.NextPollAt},
		Connection: Ref{ID: m.ConnectionID}, CreatedAt: m.CreatedAt, UpdatedAt: m.UpdatedAt,
	}
	if m.LoadStartedAt != nil || m.State.Loading() {
		out.Load = &Load{Done: m.LoadDone, Expected: m.LoadExpected, StartedAt: m.LoadStartedAt, FinishedAt: m.LoadFinishedAt}
	}
	return out
}

// WriteError is a write Salesforce refused (Heroku Connect's errors feed).
type WriteError struct {
	ID        int64     `json:"id"`
	TableName string    `json:"table_name"`
	RecordID  int64     `json:"record_id"`
	Action    string    `json:"action"`
	SFID      string    `json:"sfid"`
	Message   string    `json:"message"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Archived  bool      `json:"archived"`
}

// NewWriteErrors shows failed trigger-log entries.
func NewWriteErrors(es []report.LogEntry) []WriteError {
	out := make([]WriteError, len(es))
	for i, e := range es {
		out[i] = WriteError{ID: e.ID, TableName: e.Table, RecordID: e.RecordID, Action: e.Action, SFID: e.SFID, Message: e.Message,
			CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Archived: e.Archived}
	}
	return out
}

// ImportResult says what an import did.
type ImportResult struct {
	Added     []string `json:"added"`
	Edited    []string `json:"edited"`
	Unchanged []string `json:"unchanged"`
	Notes     []string `json:"notes"`
}

// Problem is one reason a request was refused, for a field.
type Problem struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// WritesByCode says what retrying or ignoring a mapping's failed writes by error code did.
type WritesByCode struct {
	MappingID int64  `json:"mapping_id"`
	Code      string `json:"code"`   // Salesforce's error code ("": writes refused without one)
	Action    string `json:"action"` // retried or ignored
	Count     int    `json:"count"`  // how many failed writes were retried or ignored
}
