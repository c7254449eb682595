package sforg

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Subrequests of /composite and /composite/batch run through the org's own handlers, as part of the
// one API call the client made: they are neither counted again nor subject to injected faults.
type subrequestKey struct{}

func isSubrequest(r *http.Request) bool { return r.Context().Value(subrequestKey{}) != nil }

const maxSubrequests = 25

var compositeMu sync.Mutex // one /composite transaction at a time, so a rollback restores only its own work

// subResult is one subrequest's answer.
type subResult struct {
	status int
	header http.Header
	body   any
}

// dispatch runs one subrequest (path relative to the org's root) with the caller's credentials.
func (o *Org) dispatch(parent *http.Request, method, path string, body any) subResult {
	var rd *bytes.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	} else {
		rd = bytes.NewReader(nil)
	}
	path = strings.TrimPrefix(path, o.opts.BasePath)
	req, err := http.NewRequestWithContext(context.WithValue(parent.Context(), subrequestKey{}, true), method, path, rd)
	if err != nil {
		return subResult{status: http.StatusBadRequest, header: http.Header{}, body: []apiError{{Message: fmt.Sprintf("The subrequest URL %q is not valid.", path), Code: "INVALID_URL"}}}
	}
	req.Host, req.RemoteAddr, req.RequestURI = parent.Host, parent.RemoteAddr, path
	req.Header.Set("Authorization", parent.Header.Get("Authorization"))
	req.Header.Set("Sforce-Call-Options", parent.Header.Get("Sforce-Call-Options"))
	req.Header.Set("Content-Type", "application/json")
	rec := &recorder{header: http.Header{}, code: http.StatusOK}
	o.Handler().ServeHTTP(rec, req)
	res := subResult{status: rec.code, header: http.Header{}}
	if loc := rec.Header().Get("Location"); loc != "" {
		res.header.Set("Location", loc)
	}
	if rec.body.Len() > 0 {
		// Numbers kept as written: a query subrequest's 18-digit currency must not round through a float.
		dec := json.NewDecoder(bytes.NewReader(rec.body.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&res.body); err != nil {
			res.body = rec.body.String()
		}
	}
	return res
}

// recorder keeps a subrequest's answer in memory (the shipped binary links no httptest).
type recorder struct {
	header http.Header
	code   int
	wrote  bool
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.code, r.wrote = code, true
	}
}

func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(p)
}

var referenceRe = regexp.MustCompile(`@\{([A-Za-z0-9_]+)\.([^}]+)\}`)

// resolve replaces @{ref.path} in s with values of earlier results.
func resolve(s string, results map[string]subResult) (string, error) {
	var bad error
	out := referenceRe.ReplaceAllStringFunc(s, func(m string) string {
		parts := referenceRe.FindStringSubmatch(m)
		res, ok := results[parts[1]]
		if !ok || res.status >= 300 {
			bad = fmt.Errorf("Invalid reference specified. No value for %s found in %s. Provided referenceId ('%s') must be a valid reference to a previous successful subrequest.", parts[2], parts[1], parts[1])
			return m
		}
		v, ok := lookupPath(res.body, parts[2])
		if !ok {
			bad = fmt.Errorf("Invalid reference specified. No value for %s found in %s.", parts[2], parts[1])
			return m
		}
		if str, isStr := v.(string); isStr {
			return str
		}
		raw, _ := json.Marshal(v)
		return string(raw)
	})
	return out, bad
}

// lookupPath follows "id", "records[0].Id" or "a.b" into a decoded JSON value.
func lookupPath(v any, path string) (any, bool) {
	for _, part := range strings.Split(path, ".") {
		name, idx := part, -1
		if i := strings.Index(part, "["); i >= 0 && strings.HasSuffix(part, "]") {
			n, err := strconv.Atoi(part[i+1 : len(part)-1])
			if err != nil {
				return nil, false
			}
			name, idx = part[:i], n
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[name]; !ok {
			return nil, false
		}
		if idx >= 0 {
			arr, ok := v.([]any)
			if !ok || idx >= len(arr) {
				return nil, false
			}
			v = arr[idx]
		}
	}
	return v, true
}

// resolveBody applies references inside a JSON body (in any string value).
func resolveBody(body json.RawMessage, results map[string]subResult) (any, error) {
	if len(body) == 0 || string(body) == "null" {
		return nil, nil
	}
	text, err := resolve(string(body), results)
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal([]byte(text), &v); err != nil {
		return nil, fmt.Errorf("the body of a subrequest is not valid JSON after references are resolved: %v", err)
	}
	return v, nil
}

var halted = []*apiError{{Code: "PROCESSING_HALTED", Message: "The transaction was rolled back since another operation in the same transaction failed."}}

// handleComposite serves POST /composite: up to 25 ordered subrequests whose later members may refer
// to earlier results; allOrNone makes them one transaction.
func (o *Org) handleComposite(w http.ResponseWriter, r *http.Request, _ *session) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are POST"})
		return
	}
	var req struct {
		AllOrNone        bool `json:"allOrNone"`
		CompositeRequest []struct {
			Method      string          `json:"method"`
			URL         string          `json:"url"`
			ReferenceID string          `json:"referenceId"`
			Body        json.RawMessage `json:"body"`
		} `json:"compositeRequest"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 10<<20)).Decode(&req); err != nil {
		writeError(w, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "Unexpected character in the request body: " + err.Error()})
		return
	}
	if n := len(req.CompositeRequest); n == 0 || n > maxSubrequests {
		writeError(w, &apiError{Status: 400, Code: "INVALID_INPUT", Message: fmt.Sprintf("A composite request must have between 1 and %d subrequests; this one has %d.", maxSubrequests, n)})
		return
	}
	seen := map[string]bool{}
	for _, sr := range req.CompositeRequest {
		if sr.ReferenceID == "" || seen[sr.ReferenceID] || !strings.HasPrefix(strings.TrimPrefix(sr.URL, o.opts.BasePath), "/services/data/") {
			writeError(w, &apiError{Status: 400, Code: "INVALID_INPUT", Message: fmt.Sprintf("Each subrequest needs a unique referenceId and a URL starting with /services/data/ (subrequest %q, url %q).", sr.ReferenceID, sr.URL)})
			return
		}
		seen[sr.ReferenceID] = true
	}
	compositeMu.Lock()
	defer compositeMu.Unlock()
	var snap snapshot
	var held []Change
	if req.AllOrNone {
		o.mu.Lock()
		snap = o.takeSnapshot()
		o.held = &held
		endTx := o.transaction() // one transaction: one SystemModstamp
		o.mu.Unlock()
		defer func() { // a subrequest that panicked must not leave events held forever
			o.mu.Lock()
			if o.held == &held {
				o.held = nil
			}
			endTx()
			o.mu.Unlock()
		}()
	}
	results := map[string]subResult{}
	out := make([]map[string]any, 0, len(req.CompositeRequest))
	failed := false
	for _, sr := range req.CompositeRequest {
		entry := map[string]any{"referenceId": sr.ReferenceID, "httpHeaders": map[string]string{}}
		if failed && req.AllOrNone {
			entry["httpStatusCode"], entry["body"] = 400, halted
			out = append(out, entry)
			continue
		}
		url, err := resolve(sr.URL, results)
		var body any
		if err == nil {
			body, err = resolveBody(sr.Body, results)
		}
		if err != nil {
			entry["httpStatusCode"], entry["body"] = 400, []*apiError{{Code: "PROCESSING_HALTED", Message: err.Error()}}
			results[sr.ReferenceID] = subResult{status: 400}
			failed = true
			out = append(out, entry)
			continue
		}
		res := o.dispatch(r, strings.ToUpper(sr.Method), url, body)
		results[sr.ReferenceID] = res
		entry["httpStatusCode"], entry["body"] = res.status, res.body
		if loc := res.header.Get("Location"); loc != "" {
			entry["httpHeaders"] = map[string]string{"Location": loc}
		}
		failed = failed || res.status >= 400
		out = append(out, entry)
	}
	if req.AllOrNone {
		o.mu.Lock()
		o.held = nil
		if failed {
			o.restore(snap)
			held = nil // rolled back: no change events
		}
		o.mu.Unlock()
		o.notifyChanges(held)
	}
	if req.AllOrNone && failed {
		for _, e := range out {
			if st, _ := e["httpStatusCode"].(int); st < 400 {
				e["httpStatusCode"], e["body"], e["httpHeaders"] = 400, halted, map[string]string{}
			}
		}
	}
	writeJSON(w, 200, map[string]any{"compositeResponse": out})
}

// handleCompositeBatch serves POST /composite/batch: up to 25 independent subrequests with URLs
// relative to /services/data; haltOnError stops at the first failure.
func (o *Org) handleCompositeBatch(w http.ResponseWriter, r *http.Request, _ *session) {
	if r.Method != http.MethodPost {
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are POST"})
		return
	}
	var req struct {
		HaltOnError   bool `json:"haltOnError"`
		BatchRequests []struct {
			Method    string `json:"method"`
			URL       string `json:"url"`
			RichInput any    `json:"richInput"`
		} `json:"batchRequests"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 10<<20)).Decode(&req); err != nil {
		writeError(w, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "Unexpected character in the request body: " + err.Error()})
		return
	}
	if n := len(req.BatchRequests); n == 0 || n > maxSubrequests {
		writeError(w, &apiError{Status: 400, Code: "INVALID_INPUT", Message: fmt.Sprintf("A batch must have between 1 and %d subrequests; this one has %d.", maxSubrequests, n)})
		return
	}
	results := make([]map[string]any, 0, len(req.BatchRequests))
	hasErrors, halt := false, false
	for _, br := range req.BatchRequests {
		if halt {
			results = append(results, map[string]any{"statusCode": 412, "result": []*apiError{{Code: "BATCH_PROCESSING_HALTED", Message: "Batch processing halted per request"}}})
			continue
		}
		res := o.dispatch(r, strings.ToUpper(br.Method), "/services/data/"+strings.TrimPrefix(br.URL, "/"), br.RichInput)
		results = append(results, map[string]any{"statusCode": res.status, "result": res.body})
		if res.status >= 400 {
			hasErrors = true
			halt = req.HaltOnError
		}
	}
	writeJSON(w, 200, map[string]any{"hasErrors": hasErrors, "results": results})
}
