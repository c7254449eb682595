package views

import (
	"net/url"
	"time"
)

// Badge is a state shown as a coloured badge, with its explanation on hover.
type Badge struct {
	Label    string // e.g. DATA_SYNCED
	Severity string // ok, info, warn, bad
	Title    string // the state's one-line description
}

// ConnectionView is a connection as the Overview and Settings show it.
type ConnectionView struct {
	ID             int64
	Name           string
	Schema         string
	State          Badge
	StateReason    string
	StateSince     time.Time
	OrgType        string // production, sandbox, custom, simulated
	LoginURL       string
	APIVersion     string
	WriteAlgorithm string // ordered, merged
	OrgName        string
	OrgID          string
	Username       string
	InstanceURL    string
	AuthorizedAt   *time.Time
	PollingSeconds int
	VerifyEvery    int // hours between full verifications of each mapping (0: off)
	// StreamTransport is the connection's setting: auto, pubsub or cometd.
	StreamTransport string
	// Allowed actions in the current state; Why* explain a disabled button.
	CanPause, CanResume, CanRecover, CanImport bool
	PauseWhy, ResumeWhy, RecoverWhy, ImportWhy string
	Paused                                     bool // settings that need a pause are editable
	Authorized                                 bool
	// CanChangeAPIVersion: nothing is synced (paused, not authorized yet, or stopped), so the API
	// version can change, e.g. to one the org offers after an authorization was refused for it.
	CanChangeAPIVersion bool
}

// OrgTypeLabel names an org type for people.
func OrgTypeLabel(t string) string {
	switch t {
	case "production":
		return "Production"
	case "sandbox":
		return "Sandbox"
	case "custom":
		return "Custom domain"
	case "simulated":
		return "Simulated org (built in)"
	}
	return t
}

// OverviewPage is the Overview.
type OverviewPage struct {
	Conn      *ConnectionView // nil: no connection yet
	Health    Health
	Chart     ActivityChart // 24 hours in 15-minute bins
	HourChart ActivityChart // the last hour in one-minute bins
	APIUsed   *int          // nil until the engine reports API usage
	APILimit  *int
	APIAsOf   *time.Time
	NoMapping bool
}

// Health is the connection's health model as the Overview shows it: "Healthy" only when no check
// found a problem, otherwise the problems, worst first, each with its fix.
type Health struct {
	Healthy  bool
	Summary  string
	Problems []Problem
	// Mappings by what the data says: in sync (nothing wrong), loading, or needing attention (a
	// problem names them, or the connection cannot sync at all).
	Total, InSync, Loading, Attention int
	Unhealthy                         []MappingLink
}

// Problem is one finding of the health model.
type Problem struct {
	Critical  bool // RED; otherwise YELLOW
	MappingID int64
	Object    string
	Message   string
	Fix       string
	FixURL    string
}

// MappingLink is a mapping mentioned elsewhere (overview, activity).
type MappingLink struct {
	ID      int64
	Object  string
	State   Badge
	Reason  string
	Problem string // the worst problem the health model found, when the state alone does not say it
}

// MappingsPage lists a connection's mappings.
type MappingsPage struct {
	ConnID     int64
	ConnName   string
	ConnSchema string
	Authorized bool
	Rows       []MappingRow
	Problems   []Problem // the connection's health problems, with their fixes
}

// MappingRow is one row of the Mappings table.
type MappingRow struct {
	ID          int64
	Object      string
	Table       string
	Access      string // read_only, read_write
	Mode        string // "every 10 min" or "accelerated"
	State       Badge
	SFRows      *int64
	SFRowsAt    *time.Time // when Salesforce said so
	PGRows      *int64
	PGEstimated bool
	Pending     int64
	Failed      int64 // writes Salesforce refused, not resolved yet
	LastSync    *time.Time
	Progress    *Progress
	Problem     *Problem // the worst problem the health model found for it
}

// Progress is a running load.
type Progress struct {
	Done     int64
	Expected int64   // 0 when not known yet
	Rate     float64 // records per second since the load started
	ETA      time.Duration
}

// Percent is the share done, 0..100.
func (p Progress) Percent() int {
	if p.Expected <= 0 {
		return 0
	}
	return int(min(100, p.Done*100/p.Expected))
}

// ObjectPicker is the first step of Create Mapping: choose an object.
type ObjectPicker struct {
	Query   string
	Objects []ObjectChoice
	Error   string // the org could not be asked
}

// ObjectChoice is one Salesforce object.
type ObjectChoice struct {
	Name      string
	Label     string
	Custom    bool
	MappingID int64 // already mapped
}

// MappingForm creates or edits a mapping.
type MappingForm struct {
	ConnID         int64
	MappingID      int64 // 0 when creating
	Object         string
	Label          string
	Table          string
	Access         string // read_only, read_write
	Mode           string // polling, accelerated
	PollingMinutes int
	UpsertField    string
	RecordFilter   string
	ConflictPolicy string // postgres_wins, salesforce_wins, newest_wins, manual ("" = postgres_wins)
	Fields         []FieldChoice
	UpsertChoices  []string
	Errors         FormErrors // by form field; "field:<Name>" for a field row; "" for the form
}

// FieldChoice is one row of the field picker.
type FieldChoice struct {
	Name             string
	Label            string
	Type             string // "string(255)", "reference → Account"
	Locked           bool   // system fields: always mapped
	Checked          bool
	Indexed          bool
	RequiredOnCreate bool // Salesforce refuses inserts without it (read-write mappings)
	ExternalID       bool
	Missing          bool   // mapped, but no longer in Salesforce
	Drift            string // type change waiting for a fix, e.g. "varchar(40) → double precision"
	Recreate         bool   // the admin asked to drop and re-add the column
}

// Creating reports whether the form creates a mapping.
func (f MappingForm) Creating() bool { return f.MappingID == 0 }

// MappingDetail is a mapping's page.
type MappingDetail struct {
	ID         int64
	ConnID     int64
	Object     string
	Schema     string
	Table      string
	Live       MappingLive
	Config     ConfigSummary
	Fields     []FieldRow
	Events     []EventRow
	Errors     []LogRow
	ErrorCodes []ErrorCodeCount // every unresolved failed write, per error code
	Drift      []DriftRow
	OrphanedAt *time.Time
	Verify     VerifyPanel
}

// MappingLive is the part of the mapping page that refreshes itself.
type MappingLive struct {
	ID          int64
	Object      string
	Aborted     bool // an admin aborted the load: the table is incomplete until a reload
	State       Badge
	Reason      string
	StateSince  time.Time
	Loading     bool
	Stopped     bool // an error stopped it: Recover From Error restarts it
	Progress    *Progress
	SFRows      *int64
	SFRowsAt    *time.Time // when Salesforce said so
	PGRows      *int64
	PGEstimated bool
	Pending     int64
	Failed      int64  // writes Salesforce refused, not resolved yet
	LastLoad    string // "20,081 records in 3.2 s (6,275/s)"
	LastPollAt  *time.Time
	NextPollAt  *time.Time
	Problems    []Problem // the health model's findings for this mapping, worst first
}

// ConfigSummary is a mapping's configuration in words.
type ConfigSummary struct {
	Access       string
	Mode         string
	UpsertField  string
	RecordFilter string
	Conflicts    string // the conflict policy in words
	Revision     int
	AppliedAt    *time.Time
	FieldCount   int
}

// FieldRow is a mapped field.
type FieldRow struct {
	Name    string
	Column  string
	Type    string
	Indexed bool
	Unique  bool
	Upsert  bool
}

// DriftRow is a field whose Salesforce definition changed.
type DriftRow struct {
	Field string
	Was   string
	Now   string
	Fix   string
	Kind  string // widen (Edit + Save), recreate (drop and re-add the column), remove (unmap the field)
}

// EventRow is an event of a connection or mapping.
type EventRow struct {
	At        time.Time
	MappingID int64
	Object    string
	Level     string
	Kind      string
	Message   string
	// RecordURL is the record page of a conflict's or a failed write's row; ConflictsURL the
	// Conflicts view of a conflict's record.
	RecordURL    string
	ConflictsURL string
	// FailedWriteID is the trigger-log id of a failed write still unresolved: it offers Retry and
	// Ignore.
	FailedWriteID int64
}

// LogRow is a trigger-log entry.
type LogRow struct {
	ID        int64
	At        time.Time
	Table     string
	MappingID int64
	RecordID  int64
	Action    string
	State     string
	SFID      string
	Values    string
	Message   string
	Archived  bool
}

// Failed reports whether the entry is a failed write.
func (l LogRow) Failed() bool { return l.State == "FAILED" }

// MappingConfirm confirms a destructive mapping action (reload or delete).
type MappingConfirm struct {
	ID            int64
	Object        string
	Schema        string
	Table         string
	State         Badge
	Loading       bool
	Rows          int64
	RowsEstimated bool
	Pending       int64
	Expected      *int64 // records the running load expects (nil = not known)
}

// RemoveFieldsConfirm confirms an edit that removes mapped fields: their columns are dropped with
// their values. Form is the edit as posted, sent again with the confirmation.
type RemoveFieldsConfirm struct {
	ID            int64
	Object        string
	Schema        string
	Table         string
	Removed       []RemovedField
	Rows          int64
	RowsEstimated bool
	Form          []KV
}

// RemovedField is a mapped field an edit removes, and the column that goes with it.
type RemovedField struct{ Field, Column string }

// ReloadAllConfirm confirms reloading every mapping of a connection.
type ReloadAllConfirm struct {
	ConnID   int64
	ConnName string
	Mappings []MappingConfirm
}

// DeleteConnectionConfirm is the confirmation of deleting a connection.
type DeleteConnectionConfirm struct {
	Conn     ConnectionView
	Mappings []MappingConfirm
	Pending  int64  // pending writes over every mapping, lost with the connection
	Refusal  string // why it cannot be deleted now ("" = it can)
}

// SettingsPage is Settings → Manage connection.
type SettingsPage struct {
	Conn           *ConnectionView
	Conns          []ConnectionView
	APIVersions    []string
	Orphans        []OrphanRow
	AuditActions   []string
	AuditSince     string // yyyy-mm-dd
	AuditUntil     string
	SimulatedOrg   bool
	RefreshPending bool // a sandbox refresh is in progress
}

// OrphanRow is a mapping whose object disappeared from Salesforce.
type OrphanRow struct {
	ID     int64
	Object string
	Table  string
	Since  time.Time
}

// OrphansConfirm confirms Remove Orphaned Mappings.
type OrphansConfirm struct {
	ConnID  int64
	Schema  string
	Orphans []OrphanRow
}

// ConnectionForm sets up a connection.
type ConnectionForm struct {
	Name          string
	Schema        string
	OrgType       string
	LoginURL      string // My Domain URL for custom orgs
	APIVersion    string
	APIVersions   []string
	Simulated     bool   // offer the built-in simulated org
	SimulatedURL  string // its login URL
	Next          string // where to go after creating (the sandbox refresh page)
	RefreshFromID int64
	Errors        FormErrors
}

// ExportConfirm confirms an export.
type ExportConfirm struct {
	ConnID   int64
	ConnName string
	Mappings int
}

// ImportForm uploads a configuration.
type ImportForm struct {
	ConnID   int64
	ConnName string
	Error    string
}

// ImportPreview shows what an uploaded configuration would do.
type ImportPreview struct {
	ConnID    int64
	ConnName  string
	FileName  string
	Raw       string
	Add       []PlannedRow
	Edit      []PlannedRow
	Unchanged []string
	Notes     []string
	Problems  []ProblemRow
	Blocked   string // why the import cannot be applied now (connection state)
}

// PlannedRow is a mapping an import adds or edits.
type PlannedRow struct {
	Object  string
	Changes []string
}

// ProblemRow is a problem in an uploaded file, located by its JSON path.
type ProblemRow struct {
	Path    string
	Message string
}

// SandboxRefresh guides the recreation of a connection after a sandbox refresh.
type SandboxRefresh struct {
	From         ConnectionView
	FromMappings int
	Exported     bool
	To           *ConnectionView
	ToMappings   int
	ToLoading    int
	ToSynced     int
}

// ExplorerPage browses a mapped table.
type ExplorerPage struct {
	Tables   []TableChoice
	Selected *TableChoice
	Query    string
	Columns  []string
	Rows     []ExplorerRow
	Page     int
	PerPage  int
	HasNext  bool
}

// TableChoice is a mapped table to browse.
type TableChoice struct {
	MappingID int64
	Object    string
	Table     string
}

// ExplorerRow is one row of a mapped table.
type ExplorerRow struct {
	ID     int64
	Failed bool
	Cells  []Cell
}

// Cell is a value shown as text.
type Cell struct {
	Text string
	Null bool
}

// RecordPage is one row of a mapped table with its write history.
type RecordPage struct {
	MappingID int64
	ConnID    int64
	Object    string
	Schema    string
	Table     string
	RecordID  int64
	Fields    []RecordField
	LastOp    string
	Err       string
	History   []LogRow
	// The newest failed write of the row, Salesforce's reasons in words, and the row's mapped fields
	// as a form to fix and resend it in one step.
	FailedLogID int64
	Problems    []WriteProblem
	FixFields   []FixField
}

// WriteProblem is one of Salesforce's reasons for refusing a write.
type WriteProblem struct {
	Code    string // REQUIRED_FIELD_MISSING
	Message string
	Fields  []string
}

// FixField is a mapped field of a row on the record page's fix form.
type FixField struct {
	Name   string // the Salesforce field
	Column string
	Value  string
	Null   bool
	Named  bool // Salesforce's refusal names it
}

// RecordField is one column of a record.
type RecordField struct {
	Name string
	Type string
	Cell Cell
}

// ActivityPage lists a connection's recent events, conflicts and failed writes in one list.
type ActivityPage struct {
	Level     string
	Kind      string
	MappingID int64
	Mappings  []TableChoice
	Kinds     []string
	Events    []EventRow
}

// URL is the page with its filters, where Retry and Ignore return to.
func (m ActivityPage) URL() string {
	q := url.Values{}
	for k, v := range map[string]string{"level": m.Level, "kind": m.Kind, "mapping": mappingParam(m.MappingID)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return "/activity"
	}
	return "/activity?" + q.Encode()
}

// VerifyPanel is a mapping's verification section: the count check of every poll cycle and the last
// full verification with its findings.
type VerifyPanel struct {
	MappingID  int64
	CanVerify  bool   // not while loading or while a verification is open
	VerifyWhy  string // why Verify is disabled
	Count      *CountCheckView
	Last       *VerificationView
	EveryHours int // the connection's schedule (0: off)
}

// CountCheckView is the last count check.
type CountCheckView struct {
	At        time.Time
	SFRecords int64
	Drift     int64 // beyond changes in flight; 0 = the counts agree
}

// VerificationView is one verification.
type VerificationView struct {
	ID                    int64
	State                 string
	Description           string
	Reason                string
	Open                  bool // waiting or running: the panel refreshes itself
	RequestedBy           string
	FinishedAt            *time.Time
	SFRecords, PGRows     *int64
	InFlight              int64
	Missing, Extra, Stale int64
	Repaired              int64
	CanRepair             bool
	Findings              []FindingRow
	MoreFindings          int64
}

// FindingRow is one record that differs.
type FindingRow struct {
	SFID, Kind string
	SFStamp    *time.Time
	PGStamp    *time.Time
	Repaired   bool
}

// ErrorCodeCount is how many unresolved failed writes of a mapping Salesforce refused with one code.
type ErrorCodeCount struct {
	Code  string // "" when the failures name no code
	Count int64
}
