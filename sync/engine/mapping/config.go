// Package mapping holds a mapping's configuration (Heroku Connect's export format), its validation
// against the org's describe, its typed state with guarded transitions, and its storage.
package mapping

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Access says which way a mapping syncs.
type Access string

// Accesses.
const (
	ReadOnly  Access = "read_only"  // Salesforce → Postgres only
	ReadWrite Access = "read_write" // both ways
)

// Polling bounds, in seconds (Heroku Connect: 2 to 60 minutes, default 10).
const (
	MinPollingSeconds     = 120
	MaxPollingSeconds     = 3600
	DefaultPollingSeconds = 600
	DefaultMaxDailyCalls  = 30000
)

// IndexOption is a field index as Heroku Connect exports it.
type IndexOption struct {
	Unique bool `json:"unique"`
}

// Extra holds pgforce-only options under a key Heroku Connect ignores.
type Extra struct {
	// RecordFilter is a SOQL WHERE condition limiting which records are synced.
	RecordFilter string `json:"record_filter,omitempty"`
	// ConflictPolicy is what the writer does when a record changed in Salesforce after its
	// Postgres change was captured: postgres_wins (the default, also when empty), salesforce_wins,
	// newest_wins or manual (see package conflict).
	ConflictPolicy string `json:"conflict_policy,omitempty"`
}

// Config is a mapping's configuration in Heroku Connect's export format.
type Config struct {
	Access             Access                 `json:"access"`
	SFNotifyEnabled    bool                   `json:"sf_notify_enabled"`
	SFPollingSeconds   int                    `json:"sf_polling_seconds"`
	SFMaxDailyAPICalls int                    `json:"sf_max_daily_api_calls"`
	Fields             map[string]struct{}    `json:"fields"`
	Indexes            map[string]IndexOption `json:"indexes"`
	UpsertField        string                 `json:"upsert_field,omitempty"`
	AppliedAt          *time.Time             `json:"applied_at,omitempty"`
	PGForce            *Extra                 `json:"pgforce,omitempty"`
}

// FieldNames returns the mapped fields in a stable order: Id first, then alphabetically.
func (c Config) FieldNames() []string {
	names := make([]string, 0, len(c.Fields))
	for n := range c.Fields {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == "Id":
			return -1
		case b == "Id":
			return 1
		}
		return strings.Compare(strings.ToLower(a), strings.ToLower(b))
	})
	return names
}

// Filter returns the record filter, or "".
func (c Config) Filter() string {
	if c.PGForce == nil {
		return ""
	}
	return c.PGForce.RecordFilter
}

// ConflictPolicy returns the conflict policy's name, "" for the default (postgres_wins).
func (c Config) ConflictPolicy() string {
	if c.PGForce == nil {
		return ""
	}
	return c.PGForce.ConflictPolicy
}

// Accelerated reports whether changes stream in (Change Data Capture) besides polling.
func (c Config) Accelerated() bool { return c.SFNotifyEnabled }

// Clone returns a deep copy.
func (c Config) Clone() Config {
	b, _ := json.Marshal(c)
	var out Config
	_ = json.Unmarshal(b, &out)
	return out
}

// NewConfig returns a read-only config with Heroku Connect's defaults for the given fields.
func NewConfig(fields ...string) Config {
	c := Config{Access: ReadOnly, SFPollingSeconds: DefaultPollingSeconds, SFMaxDailyAPICalls: DefaultMaxDailyCalls,
		Fields: map[string]struct{}{}, Indexes: map[string]IndexOption{}}
	for _, f := range fields {
		c.Fields[f] = struct{}{}
	}
	return c
}
