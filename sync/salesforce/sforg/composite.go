package sforg

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

type saveResult struct {
	ID      string      `json:"id,omitempty"`
	Success bool        `json:"success"`
	Errors  []saveError `json:"errors"`
	Created *bool       `json:"created,omitempty"`
}

type saveError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

func failed(e *apiError) saveResult {
	fields := e.Fields
	if fields == nil {
		fields = []string{}
	}
	return saveResult{Success: false, Errors: []saveError{{StatusCode: e.Code, Message: e.Message, Fields: fields}}}
}

var rolledBack = saveError{StatusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK", Message: "Record rolled back because not all records were valid and the request was using AllOrNone header", Fields: []string{}}

type collectionBody struct {
	AllOrNone bool                         `json:"allOrNone"`
	Records   []map[string]json.RawMessage `json:"records"`
	IDs       []string                     `json:"ids"`
	Fields    []string                     `json:"fields"`
}

func readCollection(r *http.Request) (*collectionBody, *apiError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
	if err != nil {
		return nil, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "could not read the request body"}
	}
	var b collectionBody
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "Unexpected character or malformed JSON: " + err.Error()}
	}
	if len(b.Records) > 200 || len(b.IDs) > 200 {
		return nil, &apiError{Status: 400, Code: "EXCEEDED_ID_LIMIT", Message: "record limit reached. cannot submit more than 200 records into this call"}
	}
	return &b, nil
}

func recordType(rec map[string]json.RawMessage) string {
	var attrs struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(rec["attributes"], &attrs)
	return attrs.Type
}

// snapshot captures the org's records so an allOrNone request can be rolled back.
type snapshot map[*table]struct {
	rows    []*row
	vals    map[*row][]any
	deleted map[*row]bool
	uniq    map[int]map[string]*row
	auto    int
}

func (o *Org) takeSnapshot() snapshot {
	s := snapshot{}
	for _, t := range o.tables {
		e := s[t]
		e.rows = append([]*row(nil), t.rows...)
		e.vals, e.deleted, e.uniq, e.auto = map[*row][]any{}, map[*row]bool{}, map[int]map[string]*row{}, t.autoNum
		for _, r := range t.rows {
			if r.generated() && !r.deleted {
				continue // restored as generated: its values are its block's
			}
			e.vals[r] = append([]any(nil), r.stored...)
			e.deleted[r] = r.deleted
		}
		for i, m := range t.unique {
			cp := map[string]*row{}
			for k, v := range m {
				cp[k] = v
			}
			e.uniq[i] = cp
		}
		s[t] = e
	}
	return s
}

func (o *Org) restore(s snapshot) {
	for t, e := range s {
		t.rows, t.unique, t.autoNum = e.rows, e.uniq, e.auto
		t.byID = map[string]*row{}
		for _, r := range t.rows {
			r.stored, r.deleted = e.vals[r], e.deleted[r]
			if r.gen == nil {
				t.byID[t.id(r)] = r
			}
		}
	}
}

// handleCollections serves /composite/sobjects: create (POST), update (PATCH), delete (DELETE) and
// retrieve (GET/POST with ids), up to 200 records, results in request order, HTTP 200 even when
// every record fails.
func (o *Org) handleCollections(w http.ResponseWriter, r *http.Request, s *session) {
	version, _ := apiVersion(r.PathValue("version"))
	origin := apiOrigin(r, "rest")
	if r.Method == http.MethodDelete {
		ids := strings.Split(r.URL.Query().Get("ids"), ",")
		if r.URL.Query().Get("ids") == "" {
			writeError(w, &apiError{Status: 400, Code: "MISSING_ARGUMENT", Message: "ids parameter is required"})
			return
		}
		if len(ids) > 200 {
			writeError(w, &apiError{Status: 400, Code: "EXCEEDED_ID_LIMIT", Message: "record limit reached. cannot submit more than 200 records into this call"})
			return
		}
		allOrNone := r.URL.Query().Get("allOrNone") == "true"
		o.runCollection(w, allOrNone, len(ids), func(i int) (saveResult, []Change) {
			id := strings.TrimSpace(ids[i])
			t := o.tableOf(normalizeID(id))
			if t == nil || !o.access(t).Read {
				return failed(&apiError{Code: "MALFORMED_ID", Message: "malformed id " + id, Fields: []string{}}), nil
			}
			if err := o.canWrite(t, "delete"); err != nil {
				return failed(err), nil
			}
			rec, err := o.lookup(t, id)
			if err != nil {
				if err.Code == "NOT_FOUND" {
					err = &apiError{Code: "INVALID_CROSS_REFERENCE_KEY", Message: "invalid cross reference id", Fields: []string{}}
				}
				return failed(err), nil
			}
			o.remove(t, rec, o.userID)
			return saveResult{ID: t.id(rec), Success: true, Errors: []saveError{}}, []Change{o.changeOf(t, rec, "DELETE", nil, origin)}
		})
		return
	}
	body, err := readCollection(r)
	if err != nil {
		writeError(w, err)
		return
	}
	switch r.Method {
	case http.MethodPost:
		if len(body.IDs) > 0 {
			writeError(w, &apiError{Status: 400, Code: "INVALID_TYPE", Message: "retrieve needs the object in the URL: /composite/sobjects/{object}"})
			return
		}
		o.runCollection(w, body.AllOrNone, len(body.Records), func(i int) (saveResult, []Change) {
			rec := body.Records[i]
			t := o.readable(recordType(rec))
			if t == nil {
				return failed(&apiError{Code: "INVALID_TYPE", Message: fmt.Sprintf("sObject type '%s' is not supported.", recordType(rec)), Fields: []string{}}), nil
			}
			if err := o.canWrite(t, "create"); err != nil {
				return failed(err), nil
			}
			if _, hasID := rec["Id"]; hasID {
				return failed(&apiError{Code: "INVALID_FIELD", Message: "cannot specify Id in an insert call", Fields: []string{"Id"}}), nil
			}
			vals, aerr := o.parseInput(t, rec, true)
			if aerr != nil {
				return failed(aerr), nil
			}
			saved, _, aerr := o.save(t, nil, vals, o.userID)
			if aerr != nil {
				return failed(aerr), nil
			}
			return saveResult{ID: t.id(saved), Success: true, Errors: []saveError{}}, []Change{o.changeOf(t, saved, "CREATE", nonNull(t, saved, nil), origin)}
		})
	case http.MethodPatch:
		o.runCollection(w, body.AllOrNone, len(body.Records), func(i int) (saveResult, []Change) {
			rec := body.Records[i]
			var id string
			_ = json.Unmarshal(rec["Id"], &id)
			if id == "" {
				_ = json.Unmarshal(rec["id"], &id)
			}
			t := o.table(recordType(rec))
			if t == nil {
				t = o.tableOf(normalizeID(id))
			}
			if t == nil || !o.access(t).Read {
				return failed(&apiError{Code: "MALFORMED_ID", Message: "malformed id " + id, Fields: []string{}}), nil
			}
			if err := o.canWrite(t, "update"); err != nil {
				return failed(err), nil
			}
			existing, aerr := o.lookup(t, id)
			if aerr != nil {
				if aerr.Code == "NOT_FOUND" {
					aerr = &apiError{Code: "INVALID_CROSS_REFERENCE_KEY", Message: "invalid cross reference id", Fields: []string{}}
				}
				return failed(aerr), nil
			}
			vals, aerr := o.parseInput(t, rec, false)
			if aerr != nil {
				return failed(aerr), nil
			}
			_, changed, aerr := o.save(t, existing, vals, o.userID)
			if aerr != nil {
				return failed(aerr), nil
			}
			return saveResult{ID: t.id(existing), Success: true, Errors: []saveError{}}, []Change{o.changeOf(t, existing, "UPDATE", changed, origin)}
		})
	default:
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are POST,PATCH,DELETE"})
	}
	_ = version
}

// handleCollectionUpsert serves PATCH /composite/sobjects/{object}/{field}, and retrieve (GET/POST
// /composite/sobjects/{object}).
func (o *Org) handleCollectionObject(w http.ResponseWriter, r *http.Request, s *session) {
	version, _ := apiVersion(r.PathValue("version"))
	object, field := r.PathValue("object"), r.PathValue("field")
	if field == "" {
		var ids, fields []string
		if r.Method == http.MethodGet {
			ids = strings.Split(r.URL.Query().Get("ids"), ",")
			fields = strings.Split(r.URL.Query().Get("fields"), ",")
		} else {
			body, err := readCollection(r)
			if err != nil {
				writeError(w, err)
				return
			}
			ids, fields = body.IDs, body.Fields
		}
		o.mu.RLock()
		t := o.readable(object)
		if t == nil {
			o.mu.RUnlock()
			notFound(w)
			return
		}
		var parts [][]byte
		for _, id := range ids {
			rec := o.find(t, strings.TrimSpace(id), false)
			if rec == nil {
				parts = append(parts, []byte("null"))
				continue
			}
			parts = append(parts, o.fullRecordJSON(version, t, rec, fields))
		}
		o.mu.RUnlock()
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write([]byte("[" + string(joinBytes(parts)) + "]"))
		return
	}
	if r.Method != http.MethodPatch {
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are PATCH"})
		return
	}
	body, err := readCollection(r)
	if err != nil {
		writeError(w, err)
		return
	}
	o.mu.RLock()
	t := o.readable(object)
	o.mu.RUnlock()
	if t == nil {
		notFound(w)
		return
	}
	fi, f := t.def.field(field)
	if f == nil || !(f.ExternalID || f.IDLookup) {
		writeError(w, &apiError{Status: 400, Code: "INVALID_FIELD", Message: fmt.Sprintf("Provided external ID field does not exist or is not accessible: %s", field)})
		return
	}
	origin := apiOrigin(r, "rest")
	exts := make([]string, len(body.Records))
	seen := map[string]int{}
	for i, rec := range body.Records {
		for k, raw := range rec {
			if strings.EqualFold(k, f.Name) {
				_ = json.Unmarshal(raw, &exts[i])
			}
		}
		if exts[i] != "" {
			seen[strings.ToLower(exts[i])]++
		}
	}
	o.runCollection(w, body.AllOrNone, len(body.Records), func(i int) (saveResult, []Change) {
		rec, ext := body.Records[i], exts[i]
		if seen[strings.ToLower(ext)] > 1 {
			// Salesforce cannot tell which of the records an external id means: all of them fail.
			return failed(&apiError{Code: "DUPLICATE_VALUE", Message: "Duplicate external id specified: " + ext, Fields: []string{f.Name}}), nil
		}
		var existing *row
		if ext != "" {
			if f.Type == "id" {
				existing = o.find(t, ext, false)
			} else if e := t.unique[fi][strings.ToLower(ext)]; e != nil && !e.deleted {
				existing = e
			}
		} else if f.Type != "id" {
			return failed(&apiError{Code: "MISSING_ARGUMENT", Message: f.Name + " not specified", Fields: []string{f.Name}}), nil
		}
		if err := o.canWrite(t, map[bool]string{true: "create", false: "update"}[existing == nil]); err != nil {
			return failed(err), nil
		}
		vals, aerr := o.parseInput(t, rec, existing == nil)
		if aerr != nil {
			return failed(aerr), nil
		}
		saved, changed, aerr := o.save(t, existing, vals, o.userID)
		if aerr != nil {
			return failed(aerr), nil
		}
		created := existing == nil
		typ := "UPDATE"
		if created {
			typ, changed = "CREATE", nonNull(t, saved, nil)
		}
		return saveResult{ID: t.id(saved), Success: true, Errors: []saveError{}, Created: &created}, []Change{o.changeOf(t, saved, typ, changed, origin)}
	})
}

func joinBytes(parts [][]byte) []byte {
	var out []byte
	for i, p := range parts {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, p...)
	}
	return out
}

// runCollection applies n record operations under one lock, with allOrNone rollback, and answers with
// the SaveResults in order.
func (o *Org) runCollection(w http.ResponseWriter, allOrNone bool, n int, op func(i int) (saveResult, []Change)) {
	o.mu.Lock()
	end := o.transaction()
	var snap snapshot
	if allOrNone {
		snap = o.takeSnapshot()
	}
	results := make([]saveResult, n)
	var changes []Change
	anyFailed := false
	for i := 0; i < n; i++ {
		res, chs := op(i)
		results[i] = res
		changes = append(changes, chs...)
		anyFailed = anyFailed || !res.Success
	}
	if allOrNone && anyFailed {
		o.restore(snap)
		changes = nil
		for i := range results {
			if results[i].Success {
				results[i] = saveResult{Success: false, Errors: []saveError{rolledBack}, Created: nil}
			}
		}
	}
	end()
	o.mu.Unlock()
	o.notifyChanges(changes)
	writeJSON(w, 200, results)
}
