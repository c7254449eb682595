package resource

import (
	"time"

	"pgforce/sync/conflict"
)

// Conflict is a record changed on both sides of a mapping within one sync window (pgforce's API).
type Conflict struct {
	ID               int64          `json:"id"`
	Mapping          Ref            `json:"mapping"`
	ObjectName       string         `json:"object_name"`
	TableName        string         `json:"table_name"`
	RecordID         int64          `json:"record_id"`
	SFID             string         `json:"sfid"`
	TriggerLogID     int64          `json:"trigger_log_id"`
	Kind             string         `json:"kind"`
	PostgresValues   map[string]any `json:"postgres_values"`
	SalesforceValues map[string]any `json:"salesforce_values"`
	CapturedAt       *time.Time     `json:"captured_at"`
	SFModifiedAt     *time.Time     `json:"sf_modified_at"`
	SFModifiedBy     string         `json:"sf_modified_by"`
	Policy           string         `json:"policy"`
	Outcome          string         `json:"outcome"`
	DetectedAt       time.Time      `json:"detected_at"`
	ResolvedAt       *time.Time     `json:"resolved_at"`
	ResolvedBy       string         `json:"resolved_by"`
}

// NewConflict shows a conflict.
func NewConflict(c conflict.Conflict) Conflict {
	opt := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	return Conflict{ID: c.ID, Mapping: Ref{ID: c.MappingID}, ObjectName: c.Object, TableName: c.Table, RecordID: c.RecordID, SFID: c.SFID,
		TriggerLogID: c.TriggerLogID, Kind: string(c.Kind), PostgresValues: nonNilMap(c.PostgresValues), SalesforceValues: nonNilMap(c.SalesforceValues),
		CapturedAt: opt(c.CapturedAt), SFModifiedAt: opt(c.SFModifiedAt), SFModifiedBy: c.SFModifiedBy, Policy: string(c.Policy),
		Outcome: string(c.Outcome), DetectedAt: c.DetectedAt, ResolvedAt: c.ResolvedAt, ResolvedBy: c.ResolvedBy}
}

// NewConflicts shows conflicts.
func NewConflicts(cs []conflict.Conflict) []Conflict {
	out := make([]Conflict, len(cs))
	for i, c := range cs {
		out[i] = NewConflict(c)
	}
	return out
}

func nonNilMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
