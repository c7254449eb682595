package sforg

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// bulkJob is a Bulk API 2.0 query or ingest job.
type bulkJob struct {
	ID, Kind, Operation, Object, State string // Kind: query or ingest
	Query                              string
	ExternalID                         string
	Delimiter                          rune
	LineEnding                         string
	Version                            string
	Origin                             string // changeOrigin of the records it writes
	Created, Modified                  time.Time
	ErrorMessage                       string

	// query
	cur *cursor
	// ingest
	data        bytes.Buffer
	header      []string
	success     [][]string
	failures    [][]string
	unprocessed [][]string
	processed   int
	failed      int
}

var delimiters = map[string]rune{"COMMA": ',', "TAB": '\t', "PIPE": '|', "SEMICOLON": ';', "CARET": '^', "BACKQUOTE": '`'}

func (o *Org) jobInfo(j *bulkJob, detail bool) map[string]any {
	delim := "COMMA"
	for k, v := range delimiters {
		if v == j.Delimiter {
			delim = k
		}
	}
	var apiVersion float64
	fmt.Sscanf(j.Version, "%g", &apiVersion)
	info := map[string]any{
		"id": j.ID, "operation": j.Operation, "object": j.Object, "createdById": o.userID, "createdDate": formatDateTime(j.Created),
		"systemModstamp": formatDateTime(j.Modified), "state": j.State, "concurrencyMode": "Parallel", "contentType": "CSV",
		"apiVersion": apiVersion, "lineEnding": j.LineEnding, "columnDelimiter": delim,
	}
	if j.Kind == "ingest" {
		info["contentUrl"] = strings.TrimPrefix(o.path("/services/data/v"+j.Version+"/jobs/ingest/"+j.ID+"/batches"), "/")
		if j.ExternalID != "" {
			info["externalIdFieldName"] = j.ExternalID
		}
	}
	if detail {
		info["retries"], info["totalProcessingTime"] = 0, 10
		if j.Kind == "query" {
			info["jobType"], info["isPkChunkingSupported"] = "V2Query", true
			n := 0
			if j.cur != nil {
				n = len(j.cur.rows)
			}
			info["numberRecordsProcessed"] = n
		} else {
			info["jobType"], info["numberRecordsProcessed"], info["numberRecordsFailed"] = "V2Ingest", j.processed, j.failed
			info["apiActiveProcessingTime"], info["apexProcessingTime"] = 5, 0
		}
		if j.ErrorMessage != "" {
			info["errorMessage"] = j.ErrorMessage
		}
	}
	return info
}

func readJSON(r *http.Request, v any) *apiError {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil {
		err = json.Unmarshal(raw, v)
	}
	if err != nil {
		return &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "Unexpected character or malformed JSON"}
	}
	return nil
}

func (o *Org) newJob(kind, version string) *bulkJob {
	now := o.opts.Now()
	j := &bulkJob{ID: o.nextID("750"), Kind: kind, Version: version, Created: now, Modified: now, Delimiter: ',', LineEnding: "LF"}
	o.jobs[j.ID] = j
	return j
}

// handleQueryJobs serves POST /jobs/query (create) and GET /jobs/query (list).
func (o *Org) handleQueryJobs(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	if r.Method == http.MethodGet {
		o.listJobs(w, "query")
		return
	}
	var req struct {
		Operation, Query, ContentType, ColumnDelimiter, LineEnding string
	}
	if err := readJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	if req.Operation != "query" && req.Operation != "queryAll" {
		writeError(w, &apiError{Status: 400, Code: "INVALIDJOB", Message: "InvalidJob : Invalid operation: " + req.Operation})
		return
	}
	if err := o.bulkQueryable(req.Query); err != nil {
		writeError(w, err)
		return
	}
	delim, ok := delimiters[strings.ToUpper(cmpOr(req.ColumnDelimiter, "COMMA"))]
	if !ok {
		writeError(w, &apiError{Status: 400, Code: "INVALIDJOB", Message: "InvalidJob : Invalid column delimiter"})
		return
	}
	cur, aerr := o.runQuery(req.Query, req.Operation == "queryAll")
	if aerr != nil {
		writeError(w, aerr)
		return
	}
	o.mu.Lock()
	j := o.newJob("query", version)
	j.Operation, j.Object, j.Query, j.cur, j.Delimiter, j.LineEnding = req.Operation, cur.t.def.Name, req.Query, cur, delim, cmpOr(req.LineEnding, "LF")
	j.State = "UploadComplete"
	info := o.jobInfo(j, false)
	// Salesforce prepares results asynchronously: the next read says the job is in progress until
	// its time has passed (Options.BulkJobTime; at once without), then complete.
	if d := o.bulkDuration(len(cur.rows)); d > 0 {
		j.State = "InProgress"
		time.AfterFunc(d, func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if j.State == "InProgress" {
				j.State, j.Modified = "JobComplete", o.opts.Now()
			}
		})
	} else {
		j.State = "JobComplete"
	}
	o.mu.Unlock()
	writeJSON(w, 200, info)
}

// bulkQueryable refuses what Bulk API 2.0 queries do not support, with Salesforce's errors:
// aggregates, GROUP BY, OFFSET, TYPEOF, FIELDS(), parent-to-child subqueries, compound and binary fields.
func (o *Org) bulkQueryable(q string) *apiError {
	o.mu.RLock()
	b, err := o.parseQuery(q)
	o.mu.RUnlock()
	if err != nil {
		return err
	}
	p := b.Query
	notEnabled := func(msg string) *apiError {
		return &apiError{Status: 400, Code: "FUNCTIONALITY_NOT_ENABLED", Message: msg}
	}
	switch {
	case p.Count || b.Aggregated:
		return notEnabled("Aggregate queries (COUNT(), GROUP BY and aggregate functions) are not supported in Bulk Query")
	case p.HasSubqueries():
		return notEnabled("Aggregate Relationships not supported in Bulk Query")
	case p.HasTypeOf():
		return notEnabled("TYPEOF is not supported in Bulk Query")
	case p.Offset >= 0:
		return &apiError{Status: 400, Code: "API_ERROR", Message: "OFFSET is not supported in Bulk Query"}
	case p.HasFields():
		return &apiError{Status: 400, Code: "API_ERROR", Message: "FIELDS() is not supported in Bulk Query"}
	}
	for _, out := range b.Outputs {
		switch typ := out.Column.Last().Type; {
		case typ == "address" || typ == "location":
			return notEnabled("Selecting compound data not supported in Bulk Query")
		case typ == "base64":
			return notEnabled("Selecting binary (base64) data not supported in Bulk Query")
		case out.Label || out.Format:
			return notEnabled("toLabel() and FORMAT() are not supported in Bulk Query")
		}
	}
	return nil
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (o *Org) listJobs(w http.ResponseWriter, kind string) {
	o.mu.RLock()
	var recs []map[string]any
	for _, j := range o.jobs {
		if j.Kind == kind {
			recs = append(recs, o.jobInfo(j, false))
		}
	}
	o.mu.RUnlock()
	if recs == nil {
		recs = []map[string]any{}
	}
	writeJSON(w, 200, map[string]any{"done": true, "records": recs, "nextRecordsUrl": nil})
}

func (o *Org) job(w http.ResponseWriter, r *http.Request, kind string) *bulkJob {
	o.mu.RLock()
	j := o.jobs[r.PathValue("job")]
	o.mu.RUnlock()
	if j == nil || j.Kind != kind {
		writeError(w, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"})
		return nil
	}
	return j
}

// handleQueryJob serves GET (state), PATCH (abort) and DELETE of one query job.
func (o *Org) handleQueryJob(w http.ResponseWriter, r *http.Request, _ *session) {
	j := o.job(w, r, "query")
	if j == nil {
		return
	}
	o.jobControl(w, r, j)
}

func (o *Org) jobControl(w http.ResponseWriter, r *http.Request, j *bulkJob) {
	switch r.Method {
	case http.MethodGet:
		o.mu.RLock()
		info := o.jobInfo(j, true)
		o.mu.RUnlock()
		writeJSON(w, 200, info)
	case http.MethodDelete:
		o.mu.Lock()
		delete(o.jobs, j.ID)
		o.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPatch:
		var req struct{ State string }
		if err := readJSON(r, &req); err != nil {
			writeError(w, err)
			return
		}
		o.mu.Lock()
		switch {
		case req.State == "Aborted" && (j.State == "Open" || j.State == "UploadComplete" || j.State == "InProgress"):
			j.State = "Aborted"
			if j.Kind == "ingest" {
				j.keepUnprocessed() // uploaded rows never processed are the job's unprocessed records
			}
		case req.State == "UploadComplete" && j.Kind == "ingest" && j.State == "Open":
			j.State = "UploadComplete"
			if d := o.bulkDuration(bytes.Count(j.data.Bytes(), []byte{'\n'})); d > 0 {
				// Queued, then processed once its time has passed, as Salesforce runs it asynchronously.
				time.AfterFunc(d, func() { o.processIngest(j) })
				break
			}
			o.mu.Unlock()
			o.processIngest(j)
			o.mu.Lock()
		default:
			st := j.State
			o.mu.Unlock()
			writeError(w, &apiError{Status: 400, Code: "INVALIDJOBSTATE", Message: fmt.Sprintf("InvalidJobState : Job in state %s cannot be changed to %s", st, req.State)})
			return
		}
		j.Modified = o.opts.Now()
		info := o.jobInfo(j, false)
		o.mu.Unlock()
		writeJSON(w, 200, info)
	default:
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed"})
	}
}

// handleQueryResults streams a page of a query job's results as CSV, with Sforce-Locator (the next
// page, or the literal "null") and Sforce-NumberOfRecords.
func (o *Org) handleQueryResults(w http.ResponseWriter, r *http.Request, _ *session) {
	j := o.job(w, r, "query")
	if j == nil {
		return
	}
	if v, _ := apiVersion(r.PathValue("version")); v != j.Version {
		writeError(w, &apiError{Status: 409, Code: "API_VERSION_MISMATCH", Message: "The job was created with API version " + j.Version})
		return
	}
	if j.State != "JobComplete" {
		writeError(w, &apiError{Status: 400, Code: "JOB_NOT_COMPLETE", Message: "Job is not complete: " + j.State})
		return
	}
	start := 0
	if loc := r.URL.Query().Get("locator"); loc != "" && loc != "null" {
		b, err := base64.RawURLEncoding.DecodeString(loc)
		n, err2 := strconv.Atoi(string(b))
		if err != nil || err2 != nil || n < 0 || n > len(j.cur.rows) {
			writeError(w, &apiError{Status: 400, Code: "INVALID_LOCATOR", Message: "invalid locator"})
			return
		}
		start = n
	}
	page := o.opts.BulkPageSize
	if m := r.URL.Query().Get("maxRecords"); m != "" {
		if n, err := strconv.Atoi(m); err == nil && n > 0 {
			page = n
		}
	}
	end := min(start+page, len(j.cur.rows))
	next := "null"
	if end < len(j.cur.rows) {
		next = base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
	}
	w.Header().Set("Content-Type", "text/csv")
	w.Header().Set("Sforce-Locator", next)
	w.Header().Set("Sforce-NumberOfRecords", strconv.Itoa(end-start))
	bw := bufio.NewWriterSize(w, 256<<10)
	nl := "\n"
	if j.LineEnding == "CRLF" {
		nl = "\r\n"
	}
	buf := make([]byte, 0, 4096)
	for i, c := range j.cur.cols {
		if i > 0 {
			buf = append(buf, string(j.Delimiter)...)
		}
		buf = appendCSVField(buf, c.Name)
	}
	buf = append(buf, nl...)
	// A column's dates repeat from record to record (every record of a transaction or of a
	// generated block has its SystemModstamp): each is formatted once in a row.
	type formatted struct {
		v time.Time
		s string
	}
	last := make([]formatted, len(j.cur.cols))
	o.mu.RLock()
	for _, rec := range j.cur.rows[start:end] {
		rr := rowRecord{o, j.cur.t, rec}
		for i, c := range j.cur.cols {
			if i > 0 {
				buf = append(buf, string(j.Delimiter)...)
			}
			v := rr.Value(c)
			if tv, ok := v.(time.Time); ok {
				if tv != last[i].v || last[i].s == "" {
					last[i] = formatted{tv, csvValue(c.Last().Type, tv)}
				}
				buf = appendCSVField(buf, last[i].s)
				continue
			}
			buf = appendCSVField(buf, csvValue(c.Last().Type, v))
		}
		buf = append(buf, nl...)
		if len(buf) > 128<<10 {
			_, _ = bw.Write(buf)
			buf = buf[:0]
		}
	}
	o.mu.RUnlock()
	_, _ = bw.Write(buf)
	_ = bw.Flush()
}

// ---- ingest ----

func (o *Org) handleIngestJobs(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	if r.Method == http.MethodGet {
		o.listJobs(w, "ingest")
		return
	}
	var req struct {
		Object, Operation, ExternalIdFieldName, ContentType, ColumnDelimiter, LineEnding string
	}
	if err := readJSON(r, &req); err != nil {
		writeError(w, err)
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.readable(req.Object)
	switch {
	case t == nil:
		writeError(w, &apiError{Status: 400, Code: "INVALIDJOB", Message: "InvalidJob : Unable to find object: " + req.Object})
		return
	case !strings.Contains("|insert|update|upsert|delete|hardDelete|", "|"+req.Operation+"|"):
		writeError(w, &apiError{Status: 400, Code: "INVALIDJOB", Message: "InvalidJob : Invalid operation: " + req.Operation})
		return
	case req.Operation == "upsert" && !t.def.has(req.ExternalIdFieldName):
		writeError(w, &apiError{Status: 400, Code: "INVALIDJOB", Message: "InvalidJob : External ID was blank for " + req.Object + ". An External ID must be specified for upsert."})
		return
	}
	delim, ok := delimiters[strings.ToUpper(cmpOr(req.ColumnDelimiter, "COMMA"))]
	if !ok {
		writeError(w, &apiError{Status: 400, Code: "INVALIDJOB", Message: "InvalidJob : Invalid column delimiter"})
		return
	}
	j := o.newJob("ingest", version)
	j.Origin = apiOrigin(r, "bulkapi")
	j.Operation, j.Object, j.ExternalID, j.Delimiter, j.LineEnding, j.State = req.Operation, t.def.Name, req.ExternalIdFieldName, delim, cmpOr(req.LineEnding, "LF"), "Open"
	writeJSON(w, 200, o.jobInfo(j, false))
}

func (o *Org) handleIngestJob(w http.ResponseWriter, r *http.Request, _ *session) {
	j := o.job(w, r, "ingest")
	if j == nil {
		return
	}
	o.jobControl(w, r, j)
}

func (o *Org) handleIngestUpload(w http.ResponseWriter, r *http.Request, _ *session) {
	j := o.job(w, r, "ingest")
	if j == nil {
		return
	}
	if r.Method != http.MethodPut {
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are PUT"})
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if j.State != "Open" {
		writeError(w, &apiError{Status: 400, Code: "INVALIDJOBSTATE", Message: "InvalidJobState : Job is not open for uploads"})
		return
	}
	if _, err := io.Copy(&j.data, io.LimitReader(r.Body, 150<<20)); err != nil {
		writeError(w, &apiError{Status: 400, Code: "INVALIDBATCH", Message: "could not read the upload"})
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// keepUnprocessed moves an aborted ingest job's uploaded rows, none of them applied, into its
// unprocessed records.
func (j *bulkJob) keepUnprocessed() {
	rd := csv.NewReader(bytes.NewReader(j.data.Bytes()))
	rd.Comma = j.Delimiter
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	if err != nil || len(rows) == 0 {
		return
	}
	j.header, j.unprocessed = rows[0], rows[1:]
	j.data.Reset()
}

// processIngest applies an ingest job's CSV row by row (like Salesforce's parallel batches, each row
// succeeds or fails on its own) and fills the result sets.
func (o *Org) processIngest(j *bulkJob) {
	rd := csv.NewReader(bytes.NewReader(j.data.Bytes()))
	rd.Comma = j.Delimiter
	rd.FieldsPerRecord = -1
	rows, err := rd.ReadAll()
	o.mu.Lock()
	var changes []Change
	defer func() {
		o.mu.Unlock()
		// Salesforce commits a Bulk API job's records 200 to a transaction.
		for len(changes) > 0 {
			n := min(mergeLimit, len(changes))
			o.notifyChanges(changes[:n])
			changes = changes[n:]
		}
	}()
	if j.State != "UploadComplete" { // aborted while it waited its turn
		return
	}
	j.State = "InProgress"
	if err != nil || len(rows) == 0 {
		j.State, j.ErrorMessage = "Failed", "InvalidBatch : Failed to parse CSV: "+fmt.Sprint(err)
		return
	}
	j.header = rows[0]
	t := o.table(j.Object)
	endTx := func() {}
	for n, rec := range rows[1:] {
		if n%200 == 0 { // Salesforce applies ingest data in transactions of 200 records
			endTx()
			endTx = o.transaction()
		}
		j.processed++
		id, created, ch, aerr := o.ingestRow(t, j, rec)
		if aerr != nil {
			j.failed++
			fields := strings.Join(aerr.Fields, ",")
			j.failures = append(j.failures, append([]string{id, aerr.Code + ":" + aerr.Message + ":" + fields + " --"}, rec...))
			continue
		}
		changes = append(changes, ch)
		j.success = append(j.success, append([]string{id, strconv.FormatBool(created)}, rec...))
	}
	endTx()
	j.State = "JobComplete"
	j.Modified = o.opts.Now()
}

// ingestRow applies one CSV row: "" leaves a field unchanged, "#N/A" sets it to null, and a column
// "Rel__r.Ext__c" sets a lookup through the parent's external id.
func (o *Org) ingestRow(t *table, j *bulkJob, rec []string) (string, bool, Change, *apiError) {
	body := map[string]json.RawMessage{}
	var id string
	for i, col := range j.header {
		if i >= len(rec) {
			break
		}
		v := rec[i]
		if strings.EqualFold(col, "Id") {
			id = v
			continue
		}
		if v == "" {
			continue
		}
		if rel, ext, ok := strings.Cut(col, "."); ok {
			b, _ := json.Marshal(map[string]string{ext: v})
			body[rel] = b
			continue
		}
		_, f := t.def.field(col)
		switch {
		case v == "#N/A":
			body[col] = json.RawMessage("null")
		case f != nil && f.Type == "boolean":
			body[col] = json.RawMessage(strconv.FormatBool(strings.EqualFold(v, "true") || v == "1"))
		case f != nil && (f.Type == "int" || f.Type == "double" || f.Type == "currency" || f.Type == "percent"):
			if _, err := strconv.ParseFloat(v, 64); err != nil {
				return id, false, Change{}, &apiError{Code: "INVALID_TYPE_ON_FIELD_IN_RECORD", Message: fmt.Sprintf("%s: value not of required type: %s", f.Label, v), Fields: []string{f.Name}}
			}
			body[col] = json.RawMessage(v)
		default:
			b, _ := json.Marshal(v)
			body[col] = b
		}
	}
	var saved *row
	var changed []string
	var aerr *apiError
	typ := "UPDATE"
	created := false
	if op, ok := map[string]string{"insert": "create", "update": "update", "delete": "delete", "hardDelete": "delete"}[j.Operation]; ok {
		if err := o.canWrite(t, op); err != nil {
			return id, false, Change{}, err
		}
	}
	switch j.Operation {
	case "insert":
		var vals map[int]any
		if vals, aerr = o.parseInput(t, body, true); aerr == nil {
			saved, changed, aerr = o.save(t, nil, vals, o.userID)
			typ, created = "CREATE", true
		}
	case "update":
		var existing *row
		if existing, aerr = o.lookup(t, id); aerr == nil {
			var vals map[int]any
			if vals, aerr = o.parseInput(t, body, false); aerr == nil {
				saved, changed, aerr = o.save(t, existing, vals, o.userID)
			}
		}
	case "upsert":
		fi, f := t.def.field(j.ExternalID)
		var key string
		for i, col := range j.header {
			if strings.EqualFold(col, f.Name) && i < len(rec) {
				key = rec[i]
			}
		}
		var existing *row
		if f.Type == "id" {
			key = id
			existing = o.find(t, id, false)
		} else if e := t.unique[fi][strings.ToLower(key)]; e != nil && !e.deleted {
			existing = e
		}
		if aerr = o.canWrite(t, map[bool]string{true: "create", false: "update"}[existing == nil]); aerr != nil {
			return id, false, Change{}, aerr
		}
		var vals map[int]any
		if vals, aerr = o.parseInput(t, body, existing == nil); aerr == nil {
			saved, changed, aerr = o.save(t, existing, vals, o.userID)
			if existing == nil {
				typ, created = "CREATE", true
			}
		}
	case "delete", "hardDelete":
		var existing *row
		if existing, aerr = o.lookup(t, id); aerr == nil {
			o.remove(t, existing, o.userID)
			return t.id(existing), false, o.changeOf(t, existing, "DELETE", nil, j.Origin), nil
		}
	}
	if aerr != nil {
		return id, false, Change{}, aerr
	}
	if created {
		changed = nonNull(t, saved, nil)
	}
	return t.id(saved), created, o.changeOf(t, saved, typ, changed, j.Origin), nil
}

func (o *Org) handleIngestResults(kind string) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, _ *session) {
		j := o.job(w, r, "ingest")
		if j == nil {
			return
		}
		o.mu.RLock()
		defer o.mu.RUnlock()
		var header []string
		var rows [][]string
		switch kind {
		case "successfulResults":
			header, rows = append([]string{"sf__Id", "sf__Created"}, j.header...), j.success
		case "failedResults":
			header, rows = append([]string{"sf__Id", "sf__Error"}, j.header...), j.failures
		default:
			header, rows = j.header, j.unprocessed
		}
		w.Header().Set("Content-Type", "text/csv")
		var buf []byte
		for i, h := range header {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendCSVField(buf, h)
		}
		buf = append(buf, '\n')
		for _, row := range rows {
			for i, v := range row {
				if i > 0 {
					buf = append(buf, ',')
				}
				buf = appendCSVField(buf, v)
			}
			buf = append(buf, '\n')
		}
		_, _ = w.Write(buf)
	}
}
