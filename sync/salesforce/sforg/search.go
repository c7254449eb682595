package sforg

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"pgforce/sync/salesforce/soql"
)

// SOSL over REST: /search?q=FIND {…} and /parameterizedSearch, answered as {"searchRecords": […]}.
// Records match when the term matches their text fields in the search scope; they come per object
// in RETURNING order, most recently modified first unless ORDER BY says otherwise.

func (o *Org) handleSearch(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		writeError(w, &apiError{Status: 400, Code: "MALFORMED_SEARCH", Message: "No search term found. The search term must be enclosed in braces."})
		return
	}
	s, err := soql.ParseSearch(q, o.opts.Now())
	if err != nil {
		writeError(w, soqlError(err))
		return
	}
	o.writeSearch(w, version, s)
}

// handleParameterizedSearch serves GET /parameterizedSearch/?q=term&sobject=Account&Account.fields=Id,Name&Account.limit=5
// and POST with {"q": …, "in": "ALL", "sobjects": [{"name": …, "fields": […], "limit": n}], "overallLimit": n}.
func (o *Org) handleParameterizedSearch(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	type sobject struct {
		Name   string   `json:"name"`
		Fields []string `json:"fields"`
		Limit  int      `json:"limit"`
	}
	var req struct {
		Q            string    `json:"q"`
		In           string    `json:"in"`
		Fields       []string  `json:"fields"`
		SObjects     []sobject `json:"sobjects"`
		OverallLimit int       `json:"overallLimit"`
	}
	switch r.Method {
	case http.MethodPost:
		if err := readJSON(r, &req); err != nil {
			writeError(w, err)
			return
		}
	case http.MethodGet:
		v := r.URL.Query()
		req.Q, req.In = v.Get("q"), v.Get("in")
		if f := v.Get("fields"); f != "" {
			req.Fields = strings.Split(f, ",")
		}
		req.OverallLimit, _ = strconv.Atoi(v.Get("overallLimit"))
		for _, name := range v["sobject"] {
			so := sobject{Name: name}
			if f := v.Get(name + ".fields"); f != "" {
				so.Fields = strings.Split(f, ",")
			}
			so.Limit, _ = strconv.Atoi(v.Get(name + ".limit"))
			req.SObjects = append(req.SObjects, so)
		}
	default:
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are GET,POST"})
		return
	}
	if strings.TrimSpace(req.Q) == "" {
		writeError(w, &apiError{Status: 400, Code: "MISSING_ARGUMENT", Message: "q parameter is required"})
		return
	}
	sosl := "FIND {" + strings.NewReplacer(`\`, `\\`, "}", `\}`, "{", `\{`).Replace(req.Q) + "}"
	if req.In != "" {
		sosl += " IN " + req.In + " FIELDS"
	}
	var parts []string
	for _, so := range req.SObjects {
		fields := so.Fields
		if len(fields) == 0 {
			fields = req.Fields
		}
		part := so.Name
		if len(fields) > 0 || so.Limit > 0 {
			part += "(" + cmpOr(strings.Join(fields, ", "), "Id")
			if so.Limit > 0 {
				part += " LIMIT " + strconv.Itoa(so.Limit)
			}
			part += ")"
		}
		parts = append(parts, part)
	}
	if len(parts) > 0 {
		sosl += " RETURNING " + strings.Join(parts, ", ")
	}
	if req.OverallLimit > 0 {
		sosl += " LIMIT " + strconv.Itoa(req.OverallLimit)
	}
	s, err := soql.ParseSearch(sosl, o.opts.Now())
	if err != nil {
		writeError(w, soqlError(err))
		return
	}
	o.writeSearch(w, version, s)
}

// writeSearch runs a search and writes {"searchRecords": […]}.
func (o *Org) writeSearch(w http.ResponseWriter, version string, s *soql.Search) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	returning := s.Returning
	if len(returning) == 0 { // every searchable object, Ids only
		for _, name := range o.objectNames() {
			if t := o.readable(name); t != nil && !t.def.System && t.def.Name != "Attachment" {
				if q, err := soql.Parse("SELECT Id FROM "+t.def.Name, o.opts.Now()); err == nil {
					returning = append(returning, soql.Returning{Object: t.def.Name, Query: q})
				}
			}
		}
	}
	limit := s.Limit
	if limit < 0 || limit > 2000 {
		limit = 2000
	}
	b := []byte(`{"searchRecords":[`)
	n := 0
	for _, ret := range returning {
		bound, err := soql.Bind(ret.Query, schemaOf{o})
		if err != nil {
			writeError(w, soqlError(err))
			return
		}
		if bound.Aggregated || bound.Query.HasSubqueries() {
			writeError(w, &apiError{Status: 400, Code: "MALFORMED_SEARCH", Message: fmt.Sprintf("RETURNING %s cannot use aggregates or subqueries", ret.Object)})
			return
		}
		t := o.table(bound.Object.Name())
		fields := searchFields(t.def, s.Scope)
		var rows []*row
		for _, r := range o.scan(t, bound, false) {
			if s.Matches(searchText(r, fields)) {
				rows = append(rows, r)
			}
		}
		if !bound.Sorted() {
			stamp := idx(t, "SystemModstamp")
			slices.SortStableFunc(rows, func(x, y *row) int {
				a, _ := x.val(stamp).(time.Time)
				b, _ := y.val(stamp).(time.Time)
				return b.Compare(a)
			})
		}
		rows = o.order(t, bound, rows)
		c := &cursor{t: t, tree: colTree(bound.Outputs)}
		for _, r := range rows {
			if n == limit {
				break
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = o.recordJSON(b, version, c, t, r, c.tree)
			n++
		}
	}
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(b)
}

// searchFields are the ordinals of the fields a search scope looks at.
func searchFields(def *ObjectDef, scope string) []int {
	var out []int
	for i, f := range def.Fields {
		var in bool
		switch scope {
		case "NAME":
			in = f.Name == "Name" || f.Compound == "Name" || (f.Name == "Company" && def.Name == "Lead")
		case "EMAIL":
			in = f.Type == "email"
		case "PHONE":
			in = f.Type == "phone"
		default:
			in = slices.Contains([]string{"string", "textarea", "email", "phone", "url", "combobox"}, f.Type)
		}
		if in {
			out = append(out, i)
		}
	}
	return out
}

func searchText(r *row, fields []int) string {
	var parts []string
	for _, i := range fields {
		if s, ok := r.val(i).(string); ok {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}
