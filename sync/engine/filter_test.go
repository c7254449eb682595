package engine_test

import (
	"strings"
	"testing"

	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
)

// A mapping's record filter is checked by the org itself (SELECT COUNT() … WHERE filter): the
// conditions a real org accepts are accepted, and what it refuses, or what is not one condition
// (it would change every query the filter is pasted into), is refused with the reason.
func TestRecordFiltersAreCheckedAsSalesforceChecksThem(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 2, NoStart: true})
	withFilter := func(filter string, fields ...string) mapping.Config {
		cfg := mapping.NewConfig(fields...)
		cfg.Access = mapping.ReadOnly
		cfg.PGForce = &mapping.Extra{RecordFilter: filter}
		return cfg
	}
	invalid := map[string]string{
		"Type INCLUDES ('Prospect')":         "includes or excludes operator only valid on multipicklist field",
		"Name = 'a') OR (Name != null":       "not one SOQL condition",
		"Name = 'a' LIMIT 5":                 "not one SOQL condition",
		"Name = 'a'; DROP":                   "not one SOQL condition",
		"Description = 'long text'":          "can not be filtered",
		"Owner.Id = 'not an id'":             "invalid ID field",
		"CALENDAR_YEAR(Name) = 2024":         "needs a date or dateTime field",
		"Id IN (SELECT Name FROM Contact)":   "semi-join subquery selects an Id or a reference field",
		"COUNT(Id) > 1":                      "Aggregate functions",
		"Regions__c LIKE 'EM%'":              "invalid operator on multipicklist field",
		"CreatedDate > 2024-01-01":           "must be of type dateTime",
		"NumberOfEmployees = '10'":           "must be of type int",
		"Id IN (SELECT AccountId FROM Nope)": "sObject type 'Nope' is not supported",
	}
	for filter, want := range invalid {
		_, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", withFilter(filter, "Name"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("filter %q: got %v, want an error containing %q", filter, err, want)
		}
	}
	valid := map[string]string{
		"Account":     "CALENDAR_YEAR(CreatedDate) >= 2020 AND Regions__c INCLUDES ('EMEA;AMER', 'APAC')",
		"Contact":     "AccountId IN (SELECT Id FROM Account WHERE Industry = 'Banking') AND CreatedDate = LAST_N_MONTHS:6",
		"Opportunity": "StageName != 'Closed Lost' AND CloseDate = THIS_FISCAL_YEAR",
		"Case":        "Id NOT IN (SELECT ParentId FROM Case WHERE ParentId != null)",
	}
	for object, filter := range valid {
		if _, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, object, withFilter(filter, "Name")); err != nil && !strings.Contains(err.Error(), "Name") {
			t.Errorf("%s filter %q refused: %v", object, filter, err)
		}
	}
}
