package resource

import (
	"encoding/json"
	"time"

	"pgforce/sync/audit"
)

// AuditEntry is one audit trail entry; the names are the CSV download's columns.
type AuditEntry struct {
	ID           int64           `json:"id"`
	At           time.Time       `json:"time_utc"`
	Actor        string          `json:"actor"`
	ActorKind    string          `json:"actor_kind"`
	ConnectionID *int64          `json:"connection_id"`
	Action       string          `json:"action"`
	Target       string          `json:"target"`
	Before       json.RawMessage `json:"before"`
	After        json.RawMessage `json:"after"`
	Detail       string          `json:"detail"`
}

// NewAuditEntries shows audit entries.
func NewAuditEntries(es []audit.Entry) []AuditEntry {
	out := make([]AuditEntry, len(es))
	for i, e := range es {
		out[i] = AuditEntry{ID: e.ID, At: e.At.UTC(), Actor: e.Actor.Name, ActorKind: string(e.Actor.Kind), ConnectionID: e.ConnectionID,
			Action: string(e.Action), Target: e.Target, Before: raw(e.Before), After: raw(e.After), Detail: e.Detail}
	}
	return out
}

func raw(v any) json.RawMessage {
	if r, ok := v.(json.RawMessage); ok {
		return r
	}
	return json.RawMessage("null")
}
