package views

import "time"

// Choice is one option of a select.
type Choice struct {
	Value, Label string
}

// ConflictPolicies are a mapping's conflict policies, the default first.
var ConflictPolicies = []Choice{
	{"postgres_wins", "Postgres wins (the change made in Postgres is written)"},
	{"salesforce_wins", "Salesforce wins (the row takes Salesforce's version)"},
	{"newest_wins", "Newest wins (the later of the two changes)"},
	{"manual", "Manual (hold the change until an admin chooses)"},
}

// ConflictsPage lists a connection's conflicts.
type ConflictsPage struct {
	ConnID    int64
	ConnName  string
	MappingID int64  // 0: every mapping
	Object    string // the mapping's object, when filtered
	SFID      string // filtered to one record
	RecordID  int64  // filtered to one row
	Rows      []ConflictRow
	Held      int
}

// ConflictRow is one conflict.
type ConflictRow struct {
	ID         int64
	Object     string
	MappingID  int64
	RecordID   int64
	RecordLink bool // the row is still there (the record page exists)
	SFID       string
	Kind       string // in words
	Fields     []ConflictField
	CapturedAt time.Time
	SFAt       time.Time
	SFBy       string
	Policy     string // in words
	Outcome    Badge
	Held       bool
	DetectedAt time.Time
	ResolvedAt *time.Time
	ResolvedBy string
}

// ConflictField is one field's two versions.
type ConflictField struct {
	Name, Postgres, Salesforce string
}
