package handlers

import (
	"encoding/json"
	"slices"
	"strings"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/report"
	"pgforce/views"
)

// writeProblems turns a trigger-log message (Salesforce's error array, or pgforce's {"message": ...})
// into words: each code, message and the fields it names.
func writeProblems(msg string) []views.WriteProblem {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		return nil
	}
	var arr []struct {
		StatusCode string   `json:"statusCode"`
		ErrorCode  string   `json:"errorCode"`
		Message    string   `json:"message"`
		Fields     []string `json:"fields"`
	}
	if json.Unmarshal([]byte(msg), &arr) == nil && len(arr) > 0 {
		out := make([]views.WriteProblem, 0, len(arr))
		for _, e := range arr {
			code := e.StatusCode
			if code == "" {
				code = e.ErrorCode
			}
			out = append(out, views.WriteProblem{Code: code, Message: e.Message, Fields: e.Fields})
		}
		return out
	}
	var one struct {
		Message string `json:"message"`
	}
	if json.Unmarshal([]byte(msg), &one) == nil && one.Message != "" {
		return []views.WriteProblem{{Message: one.Message}}
	}
	return []views.WriteProblem{{Message: msg}}
}

// fixFields lists a row's mapped fields (system fields aside) with their values, for the fix form.
func fixFields(m mapping.Mapping, fields []report.Field, problems []views.WriteProblem) []views.FixField {
	values := map[string]report.Field{}
	for _, f := range fields {
		values[f.Name] = f
	}
	named := map[string]bool{}
	for _, p := range problems {
		for _, f := range p.Fields {
			named[strings.ToLower(f)] = true
		}
	}
	var out []views.FixField
	for _, af := range m.AppliedFields {
		if slices.Contains(mapping.SystemFields, af.Name) || strings.Contains(af.Name, ".") {
			continue
		}
		col := table.Column(af.Name)
		v, ok := values[col]
		if !ok {
			continue
		}
		out = append(out, views.FixField{Name: af.Name, Column: col, Value: v.Value.Text, Null: v.Value.Null, Named: named[strings.ToLower(af.Name)]})
	}
	slices.SortStableFunc(out, func(a, b views.FixField) int {
		switch {
		case a.Named && !b.Named:
			return -1
		case b.Named && !a.Named:
			return 1
		}
		return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
	})
	return out
}
