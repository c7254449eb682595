package handlers

import (
	"fmt"

	"pgforce/sync/conflict"
	"pgforce/sync/engine/connection"
	"pgforce/views"
)

// policyLabel is a mapping's conflict policy in words.
func policyLabel(name string) string {
	p, err := conflict.ParsePolicy(name)
	if err != nil {
		return name
	}
	return p.Label()
}

// outcomeSeverity colours an outcome's badge: held ones wait for someone, kept ones not written yet
// for a retry; a delete that stands and a kept change dismissed unwritten lost a Postgres change.
func outcomeSeverity(o conflict.Outcome) string {
	switch o {
	case conflict.Held, conflict.PostgresKept:
		return "warn"
	case conflict.DeleteStands, conflict.PostgresDismissed:
		return "bad"
	}
	return "info"
}

func showValue(v any) string {
	if v == nil {
		return "(empty)"
	}
	return fmt.Sprint(v)
}

// newConflictsPage is the Conflicts view's model.
func newConflictsPage(c connection.Connection, f conflict.Filter, cs []conflict.Conflict) views.ConflictsPage {
	vm := views.ConflictsPage{ConnID: c.ID, ConnName: c.Name, MappingID: f.MappingID, SFID: f.SFID, RecordID: f.RecordID}
	for _, x := range cs {
		if f.MappingID != 0 {
			vm.Object = x.Object
		}
		row := views.ConflictRow{ID: x.ID, Object: x.Object, MappingID: x.MappingID, RecordID: x.RecordID, SFID: x.SFID, Kind: x.Kind.Label(),
			CapturedAt: x.CapturedAt, SFAt: x.SFModifiedAt, SFBy: x.SFModifiedBy, Policy: x.Policy.Label(),
			Outcome: views.Badge{Label: x.Outcome.Label(), Severity: outcomeSeverity(x.Outcome)}, Held: x.Outcome == conflict.Held,
			DetectedAt: x.DetectedAt, ResolvedAt: x.ResolvedAt, ResolvedBy: x.ResolvedBy}
		row.RecordLink = x.RecordID != 0 && x.MappingID != 0 && x.Kind == conflict.UpdateUpdate && x.Outcome != conflict.DeleteStands
		for _, name := range x.Fields() {
			row.Fields = append(row.Fields, views.ConflictField{Name: name, Postgres: showValue(x.PostgresValues[name]), Salesforce: showValue(x.SalesforceValues[name])})
		}
		if row.Held {
			vm.Held++
		}
		vm.Rows = append(vm.Rows, row)
	}
	return vm
}
