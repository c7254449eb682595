package resource

import (
	"time"

	"pgforce/sync/verify"
)

// Verification is a comparison of a mapped table with Salesforce, as the API shows it.
type Verification struct {
	ID          int64      `json:"id"`
	Mapping     Ref        `json:"mapping"`
	State       string     `json:"state"`
	Description string     `json:"state_description"`
	Reason      string     `json:"state_reason"`
	RequestedBy string     `json:"requested_by"`
	RequestedAt time.Time  `json:"requested_at"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
	Watermark   *time.Time `json:"watermark"` // the high-water mark the table was judged against
	SFRecords   *int64     `json:"sf_records"`
	PGRows      *int64     `json:"pg_rows"`
	InFlight    int64      `json:"in_flight"`
	Missing     int64      `json:"missing"`
	Extra       int64      `json:"extra"`
	Stale       int64      `json:"stale"`
	Repaired    int64      `json:"repaired"`
	Findings    []Finding  `json:"findings,omitempty"`
}

// Finding is one record that differs.
type Finding struct {
	SFID       string     `json:"sfid"`
	Kind       string     `json:"kind"` // missing, extra, stale
	SFModstamp *time.Time `json:"sf_systemmodstamp"`
	PGModstamp *time.Time `json:"pg_systemmodstamp"`
	Repaired   bool       `json:"repaired"`
}

// NewVerification shows a verification with some of its findings.
func NewVerification(v verify.Verification, fs []verify.Finding) Verification {
	out := Verification{ID: v.ID, Mapping: Ref{ID: v.MappingID}, State: string(v.State), Description: v.State.Describe(), Reason: v.StateReason,
		RequestedBy: v.RequestedBy, RequestedAt: v.RequestedAt, StartedAt: v.StartedAt, FinishedAt: v.FinishedAt, Watermark: v.Watermark,
		SFRecords: v.SFRecords, PGRows: v.PGRows, InFlight: v.InFlight, Missing: v.Missing, Extra: v.Extra, Stale: v.Stale, Repaired: v.Repaired}
	for _, f := range fs {
		out.Findings = append(out.Findings, Finding{SFID: f.SFID, Kind: string(f.Kind), SFModstamp: f.SFModstamp, PGModstamp: f.PGModstamp, Repaired: f.Repaired})
	}
	return out
}
