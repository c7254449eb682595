package sforg

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Change is one record change, as Change Data Capture reports it.
type Change struct {
	Object        string
	IDs           []string
	Type          string // CREATE, UPDATE, DELETE, UNDELETE
	ChangedFields []string
	Fields        map[string]any // new values of the changed fields (all non-null fields on CREATE)
	CommitTime    time.Time
	TransactionID string
	Sequence      int
	User          string
	Origin        string
}

// OnChange registers a function called (outside the org's lock) for every record change.
func (o *Org) OnChange(fn func(Change)) {
	o.mu.Lock()
	o.hooks = append(o.hooks, fn)
	o.mu.Unlock()
}

// notifyChanges calls the change hooks; call without holding the lock.
func (o *Org) notifyChanges(chs []Change) {
	o.mu.Lock()
	if o.held != nil {
		*o.held = append(*o.held, chs...)
		o.mu.Unlock()
		return
	}
	hooks := slices.Clone(o.hooks)
	o.mu.Unlock()
	for _, ch := range chs {
		for _, h := range hooks {
			h(ch)
		}
	}
	o.publishTransaction(chs)
}

func (o *Org) changeOf(t *table, r *row, typ string, changed []string, origin string) Change {
	fields := map[string]any{}
	if typ != "DELETE" {
		for _, name := range changed {
			if i, f := t.def.field(name); f != nil {
				fields[f.Name] = r.val(i)
			}
		}
	}
	if _, f := t.def.field("LastModifiedDate"); typ == "UPDATE" && f != nil && !slices.Contains(changed, f.Name) {
		changed = append(slices.Clip(changed), f.Name) // every update moves it, and its event says so
		fields[f.Name] = t.get(r, f.Name)
	}
	stamp, _ := t.get(r, "SystemModstamp").(time.Time)
	return Change{Object: t.def.Name, IDs: []string{t.id(r)}, Type: typ, ChangedFields: changed, Fields: fields,
		CommitTime: stamp, TransactionID: token("", 12), Sequence: 1, User: o.userID, Origin: origin}
}

// ---- discovery ----

func (o *Org) handleVersions(w http.ResponseWriter, r *http.Request) {
	o.mu.RLock()
	max := o.settings.maxVersion
	o.mu.RUnlock()
	var out []map[string]string
	for v := minVersionNumber; v <= max; v++ {
		out = append(out, map[string]string{"label": releaseName(v), "url": o.path(fmt.Sprintf("/services/data/v%d.0", v)), "version": fmt.Sprintf("%d.0", v)})
	}
	writeJSON(w, 200, out)
}

func releaseName(v int) string {
	// v31.0 was Summer '14; releases go Summer, Winter, Spring, three a year.
	n := v - 31
	season := []string{"Summer", "Winter", "Spring"}[n%3]
	return fmt.Sprintf("%s '%02d", season, (14+(n+2)/3)%100)
}

func (o *Org) handleResources(w http.ResponseWriter, r *http.Request, _ *session) {
	version, ok := apiVersion(r.PathValue("version"))
	if !ok {
		writeError(w, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"})
		return
	}
	p := func(s string) string { return o.path("/services/data/v" + version + "/" + s) }
	writeJSON(w, 200, map[string]string{
		"sobjects": p("sobjects"), "query": p("query"), "queryAll": p("queryAll"), "search": p("search"), "composite": p("composite"),
		"limits": p("limits"), "recent": p("recent"), "tooling": p("tooling"), "jobs": p("jobs"),
		"identity": o.baseURL(r) + "/id/" + o.orgID + "/" + o.userID,
	})
}

func (o *Org) handleLimits(w http.ResponseWriter, r *http.Request, _ *session) {
	o.mu.RLock()
	used, max := o.apiUsed, o.opts.DailyAPILimit
	o.mu.RUnlock()
	lim := func(m, rem int) map[string]int { return map[string]int{"Max": m, "Remaining": rem} }
	writeJSON(w, 200, map[string]any{
		"DailyApiRequests": lim(max, max-used), "DailyBulkApiBatches": lim(15000, 15000), "DailyBulkV2QueryJobs": lim(10000, 10000),
		"DailyBulkV2QueryFileStorageMB": lim(976562, 976562), "DailyStreamingApiEvents": lim(1000000, 1000000),
		"DailyDurableStreamingApiEvents": lim(1000000, 1000000), "DurableStreamingApiConcurrentClients": lim(2000, 2000),
		"DataStorageMB": lim(1024, 1000), "FileStorageMB": lim(1024, 1024), "ConcurrentAsyncGetReportInstances": lim(200, 200),
	})
}

// ---- describe ----

// objectFlags are an object's describe flags, as the integration user's permissions make them.
func (o *Org) objectFlags(t *table, version string) map[string]any {
	d := t.def
	a := o.access(t)
	base := o.path("/services/data/v" + version + "/sobjects/" + d.Name)
	data := !d.System
	return map[string]any{
		"name": d.Name, "label": d.Label, "labelPlural": d.LabelPlural, "keyPrefix": d.KeyPrefix, "custom": d.Custom, "customSetting": false,
		"activateable": false, "createable": a.Create, "updateable": a.Edit, "deletable": a.Delete, "undeletable": a.Delete,
		"queryable": a.Read, "retrieveable": a.Read && data, "replicateable": data, "searchable": data && d.Name != "Attachment", "triggerable": data,
		"mergeable": d.Name == "Account" || d.Name == "Contact" || d.Name == "Lead", "layoutable": data, "mruEnabled": data, "feedEnabled": false,
		"hasSubtypes": false, "isSubtype": false, "deprecatedAndHidden": false,
		"urls": map[string]string{"sobject": base, "describe": base + "/describe", "rowTemplate": base + "/{ID}"},
	}
}

func (o *Org) handleDescribeGlobal(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	o.mu.RLock()
	var objs []map[string]any
	modified := o.schemaModified
	for _, name := range o.objectNames() {
		if t := o.readable(name); t != nil { // objects without Read are invisible
			objs = append(objs, o.objectFlags(t, version))
			if t.def.Modified.After(modified) {
				modified = t.def.Modified
			}
		}
	}
	o.mu.RUnlock()
	// If-Modified-Since: 304 when no visible object's metadata (nor the org's) changed since.
	modified = modified.UTC().Truncate(time.Second)
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if since, err := http.ParseTime(ims); err == nil && !modified.After(since) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
	writeJSON(w, 200, map[string]any{"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": objs})
}

func (o *Org) objectNames() []string {
	var names []string
	for _, t := range o.tables {
		names = append(names, t.def.Name)
	}
	slices.Sort(names)
	return names
}

func fieldDescribe(f *FieldDef) map[string]any {
	soapType := map[string]string{"id": "tns:ID", "reference": "tns:ID", "boolean": "xsd:boolean", "int": "xsd:int", "double": "xsd:double",
		"currency": "xsd:double", "percent": "xsd:double", "date": "xsd:date", "datetime": "xsd:dateTime", "time": "xsd:time",
		"address": "urn:address", "location": "urn:location", "long": "xsd:long", "base64": "xsd:base64Binary"}[f.Type]
	if soapType == "" {
		soapType = "xsd:string"
	}
	var picklist []map[string]any
	for _, v := range f.Picklist {
		picklist = append(picklist, map[string]any{"active": true, "defaultValue": v == f.Default, "label": f.label(v), "validFor": nil, "value": v})
	}
	if picklist == nil {
		picklist = []map[string]any{}
	}
	refTo := f.ReferenceTo
	if refTo == nil {
		refTo = []string{}
	}
	var rel any
	if f.RelationshipName != "" {
		rel = f.RelationshipName
	}
	var def any
	if f.Type == "boolean" && f.DefaultedOnCreate {
		def = f.Default == "true"
	}
	byteLength := f.Length * 3
	switch f.Type {
	case "id", "reference":
		byteLength = 18
	case "base64":
		byteLength = 0
	}
	length := f.Length
	if f.Type == "base64" {
		length = 25165824 // base64 fields hold up to 25 MB (as 32 MB of base64)
	}
	filterable, sortable := f.filterable(), f.sortable()
	groupable := sortable && !slices.Contains([]string{"double", "currency", "percent", "datetime", "time"}, f.Type)
	var mask, maskType any
	if f.Type == "encryptedstring" {
		mask, maskType = "X", "lastFour"
	}
	return map[string]any{
		"aggregatable": filterable && f.Type != "multipicklist", "aiPredictionField": false, "autoNumber": f.AutoNumber, "byteLength": byteLength,
		"calculated": f.Calculated, "calculatedFormula": nil, "cascadeDelete": false, "caseSensitive": false, "compoundFieldName": nilIfEmpty(f.Compound),
		"controllerName": nil, "createable": f.Createable, "custom": f.Custom, "dataTranslationEnabled": nil, "defaultValue": def, "defaultValueFormula": nil,
		"defaultedOnCreate": f.DefaultedOnCreate, "dependentPicklist": false, "deprecatedAndHidden": false, "digits": f.Digits,
		"displayLocationInDecimal": f.Type == "location", "encrypted": f.Type == "encryptedstring", "externalId": f.ExternalID, "extraTypeInfo": extraType(f),
		"filterable": filterable, "filteredLookupInfo": nil, "formulaTreatNullNumberAsZero": false, "groupable": groupable, "highScaleNumber": false,
		"htmlFormatted": false, "idLookup": f.IDLookup, "inlineHelpText": nil, "label": f.Label, "length": length, "mask": mask, "maskType": maskType,
		"name": f.Name, "nameField": f.Name == "Name", "namePointing": len(f.ReferenceTo) > 1, "nillable": f.Nillable, "permissionable": f.Nillable && f.Custom,
		"picklistValues": picklist, "polymorphicForeignKey": len(f.ReferenceTo) > 1, "precision": f.Precision, "queryByDistance": f.Type == "location",
		"referenceTargetField": nil, "referenceTo": refTo, "relationshipName": rel, "relationshipOrder": nil, "restrictedDelete": false,
		"restrictedPicklist": f.Restricted, "scale": f.Scale, "searchPrefilterable": false, "soapType": soapType, "sortable": sortable,
		"type": f.Type, "unique": f.Unique, "updateable": f.Updateable, "writeRequiresMasterRead": false,
	}
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func extraType(f *FieldDef) any {
	if f.longText() {
		return "plaintextarea"
	}
	return nil
}

func (o *Org) handleDescribe(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.readable(r.PathValue("object"))
	if t == nil {
		writeError(w, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"})
		return
	}
	modified := t.def.Modified.UTC().Truncate(time.Second)
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if since, err := http.ParseTime(ims); err == nil && !modified.After(since) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	d := o.objectFlags(t, version)
	var fields []map[string]any
	for _, f := range t.def.Fields {
		fields = append(fields, fieldDescribe(f))
	}
	d["fields"] = fields
	var children []map[string]any
	for _, other := range o.objectNames() {
		ot := o.table(other)
		for _, f := range ot.def.Fields {
			if f.ChildRelationship != "" && slices.Contains(f.ReferenceTo, t.def.Name) {
				children = append(children, map[string]any{"childSObject": ot.def.Name, "field": f.Name, "relationshipName": f.ChildRelationship,
					"cascadeDelete": false, "restrictedDelete": false, "deprecatedAndHidden": false, "junctionIdListNames": []string{}, "junctionReferenceTo": []string{}})
			}
		}
	}
	if children == nil {
		children = []map[string]any{}
	}
	d["childRelationships"] = children
	d["recordTypeInfos"] = []map[string]any{{"name": "Master", "developerName": "Master", "recordTypeId": "012000000000000AAA", "active": true,
		"available": true, "defaultRecordTypeMapping": true, "master": true, "urls": map[string]string{}}}
	d["supportedScopes"] = []map[string]string{{"label": "All " + t.def.LabelPlural, "name": "everything"}}
	if t.def.has("OwnerId") {
		d["supportedScopes"] = append(d["supportedScopes"].([]map[string]string), map[string]string{"label": "My " + t.def.LabelPlural, "name": "mine"})
	}
	d["actionOverrides"], d["namedLayoutInfos"] = []any{}, []any{}
	d["compactLayoutable"], d["searchLayoutable"], d["deepCloneable"], d["isInterface"] = true, true, false, false
	w.Header().Set("Last-Modified", modified.Format(http.TimeFormat))
	writeJSON(w, 200, d)
}

// ---- records ----

func notFound(w http.ResponseWriter) {
	writeError(w, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"})
}

func readBody(r *http.Request) (map[string]json.RawMessage, *apiError) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 50<<20))
	if err != nil {
		return nil, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "could not read the request body"}
	}
	var body map[string]json.RawMessage
	if err := json.Unmarshal(raw, &body); err != nil {
		return nil, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "Unexpected character or malformed JSON: " + err.Error()}
	}
	if body == nil {
		return nil, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: "The request body must be a JSON object"}
	}
	return body, nil
}

func (o *Org) handleSObject(w http.ResponseWriter, r *http.Request, s *session) {
	version, _ := apiVersion(r.PathValue("version"))
	o.mu.RLock()
	t := o.readable(r.PathValue("object"))
	o.mu.RUnlock()
	if t == nil {
		writeError(w, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"})
		return
	}
	switch r.Method {
	case http.MethodGet:
		o.mu.RLock()
		writeJSON(w, 200, map[string]any{"objectDescribe": o.objectFlags(t, version), "recentItems": []any{}})
		o.mu.RUnlock()
	case http.MethodPost:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := o.allowed(t, "create"); err != nil {
			writeError(w, err)
			return
		}
		id, aerr := o.Create(t.def.Name, body, apiOrigin(r, "rest"))
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		w.Header().Set("Location", o.path("/services/data/v"+version+"/sobjects/"+t.def.Name+"/"+id))
		writeJSON(w, 201, map[string]any{"id": id, "success": true, "errors": []any{}})
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are HEAD,GET,POST"})
	}
}

// Create inserts a record as the org's user would through the API and returns its id.
func (o *Org) Create(object string, body map[string]json.RawMessage, origin string) (string, *apiError) {
	o.mu.Lock()
	t := o.table(object)
	if t == nil {
		o.mu.Unlock()
		return "", &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
	}
	vals, err := o.parseInput(t, body, true)
	if err == nil {
		var r *row
		var changed []string
		r, changed, err = o.save(t, nil, vals, o.userID)
		if err == nil {
			ch := o.changeOf(t, r, "CREATE", nonNull(t, r, changed), origin)
			id := t.id(r)
			o.mu.Unlock()
			o.notifyChanges([]Change{ch})
			return id, nil
		}
	}
	o.mu.Unlock()
	return "", err
}

func nonNull(t *table, r *row, _ []string) []string {
	var out []string
	for i, f := range t.def.Fields {
		if r.val(i) != nil {
			out = append(out, f.Name)
		}
	}
	return out
}

// Update changes a record by id.
func (o *Org) Update(object, id string, body map[string]json.RawMessage, origin string) *apiError {
	return o.updateIf(object, id, body, origin, precondition{}, nil)
}

// updateIf changes a record by id when its conditional headers hold (412 otherwise, nothing changed),
// checked and saved under one lock; saved is called with the saved record, the lock still held.
func (o *Org) updateIf(object, id string, body map[string]json.RawMessage, origin string, pre precondition, saved func(*table, *row)) *apiError {
	o.mu.Lock()
	t := o.table(object)
	if t == nil {
		o.mu.Unlock()
		return &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
	}
	r, err := o.lookup(t, id)
	if err == nil && !pre.empty() {
		_, err = pre.check(t, r, false)
	}
	if err == nil {
		var vals map[int]any
		vals, err = o.parseInput(t, body, false)
		if err == nil {
			var changed []string
			_, changed, err = o.save(t, r, vals, o.userID)
			if err == nil {
				if saved != nil {
					saved(t, r)
				}
				ch := o.changeOf(t, r, "UPDATE", changed, origin)
				o.mu.Unlock()
				o.notifyChanges([]Change{ch})
				return nil
			}
		}
	}
	o.mu.Unlock()
	return err
}

// lookup finds a record for update/delete with Salesforce's errors for bad, unknown and deleted ids.
func (o *Org) lookup(t *table, id string) (*row, *apiError) {
	norm := normalizeID(id)
	if norm == "" || norm[:3] != t.def.KeyPrefix {
		return nil, &apiError{Status: 400, Code: "MALFORMED_ID", Message: fmt.Sprintf("%s ID: id value of incorrect type: %s", t.def.Label, id), Fields: []string{"Id"}}
	}
	r := t.lookup(norm)
	if r == nil {
		return nil, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
	}
	if r.deleted {
		return nil, &apiError{Status: 404, Code: "ENTITY_IS_DELETED", Message: "entity is deleted", Fields: []string{}}
	}
	return r, nil
}

// Delete moves a record to the recycle bin.
func (o *Org) Delete(object, id, origin string) *apiError {
	o.mu.Lock()
	t := o.table(object)
	if t == nil {
		t = o.tableOf(normalizeID(id))
	}
	if t == nil {
		o.mu.Unlock()
		return &apiError{Status: 400, Code: "MALFORMED_ID", Message: "malformed id " + id}
	}
	r, err := o.lookup(t, id)
	if err != nil {
		o.mu.Unlock()
		return err
	}
	o.remove(t, r, o.userID)
	ch := o.changeOf(t, r, "DELETE", nil, origin)
	o.mu.Unlock()
	o.notifyChanges([]Change{ch})
	return nil
}

// Upsert creates or updates a record by an external id field. status is 201 (created), 200/204
// (updated) or 300 (several matches).
func (o *Org) Upsert(object, extField, extValue string, body map[string]json.RawMessage, origin string) (id string, created bool, err *apiError) {
	o.mu.Lock()
	t := o.table(object)
	if t == nil {
		o.mu.Unlock()
		return "", false, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
	}
	i, f := t.def.field(extField)
	if f == nil || (!f.ExternalID && !f.IDLookup) {
		o.mu.Unlock()
		return "", false, &apiError{Status: 400, Code: "NOT_FOUND", Message: fmt.Sprintf("Provided external ID field does not exist or is not accessible: %s", extField)}
	}
	var r *row
	if f.Type == "id" {
		if extValue != "" {
			r = o.find(t, extValue, false)
			if r == nil {
				o.mu.Unlock()
				return "", false, &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
			}
		}
	} else {
		if v, ok := body[f.Name]; ok {
			var s string
			if json.Unmarshal(v, &s) == nil && !strings.EqualFold(s, extValue) {
				o.mu.Unlock()
				return "", false, &apiError{Status: 400, Code: "INVALID_FIELD", Message: fmt.Sprintf("The value of the external ID field in the URL (%s) doesn't match the value in the body (%s)", extValue, s)}
			}
		}
		r = t.unique[i][strings.ToLower(extValue)]
		if r != nil && r.deleted {
			r = nil
		}
	}
	vals, err := o.parseInput(t, body, r == nil)
	if err == nil {
		if r == nil && f.Type != "id" {
			vals[i] = extValue
		}
		var saved *row
		var changed []string
		saved, changed, err = o.save(t, r, vals, o.userID)
		if err == nil {
			typ := "UPDATE"
			if r == nil {
				typ, changed = "CREATE", nonNull(t, saved, nil)
			}
			ch := o.changeOf(t, saved, typ, changed, origin)
			id = t.id(saved)
			o.mu.Unlock()
			o.notifyChanges([]Change{ch})
			return id, r == nil, nil
		}
	}
	o.mu.Unlock()
	return "", false, err
}

func (o *Org) handleRecord(w http.ResponseWriter, r *http.Request, s *session) {
	version, _ := apiVersion(r.PathValue("version"))
	object, id := r.PathValue("object"), r.PathValue("id")
	o.mu.RLock()
	t := o.readable(object)
	o.mu.RUnlock()
	if t == nil {
		notFound(w)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		pre, _ := parsePrecondition(r, false)
		o.mu.RLock()
		rec, err := o.lookup(t, id)
		var out []byte
		status := 0
		if err == nil {
			setValidators(w, t, rec)
			status, err = pre.check(t, rec, true)
		}
		if status == http.StatusNotModified {
			o.mu.RUnlock()
			w.WriteHeader(http.StatusNotModified)
			return
		}
		if err == nil {
			var fields []string
			if f := r.URL.Query().Get("fields"); f != "" {
				fields = strings.Split(f, ",")
				for _, name := range fields {
					if !t.def.has(strings.TrimSpace(name)) {
						o.mu.RUnlock()
						writeError(w, &apiError{Status: 400, Code: "INVALID_FIELD", Message: fmt.Sprintf("No such column '%s' on sobject of type %s", strings.TrimSpace(name), t.def.Name)})
						return
					}
				}
			}
			out = o.fullRecordJSON(version, t, rec, fields)
		}
		o.mu.RUnlock()
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(out)
	case http.MethodPatch:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		if err := o.allowed(t, "update"); err != nil {
			writeError(w, err)
			return
		}
		pre, perr := parsePrecondition(r, true)
		if perr != nil {
			writeError(w, perr)
			return
		}
		if err := o.updateIf(t.def.Name, id, body, apiOrigin(r, "rest"), pre, func(t *table, rec *row) { setValidators(w, t, rec) }); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	case http.MethodDelete:
		if err := o.allowed(t, "delete"); err != nil {
			writeError(w, err)
			return
		}
		if err := o.Delete(t.def.Name, id, apiOrigin(r, "rest")); err != nil {
			writeError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		w.Header().Set("Allow", "GET, HEAD, PATCH, DELETE")
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are HEAD,GET,PATCH,DELETE"})
	}
}

// handleByField serves /sobjects/{object}/{field}/{value}: read or upsert by external id.
func (o *Org) handleByField(w http.ResponseWriter, r *http.Request, s *session) {
	version, _ := apiVersion(r.PathValue("version"))
	object, field, value := r.PathValue("object"), r.PathValue("field"), r.PathValue("value")
	switch strings.ToLower(field) {
	case "describe", "updated", "deleted":
		notFound(w)
		return
	}
	if r.Method == http.MethodGet && o.serveBlob(w, object, field, value) {
		return
	}
	switch r.Method {
	case http.MethodGet:
		o.mu.RLock()
		t := o.readable(object)
		var out []byte
		var err *apiError
		if t == nil {
			err = &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
		} else if i, f := t.def.field(field); f == nil || (!f.ExternalID && !f.IDLookup) {
			err = &apiError{Status: 404, Code: "NOT_FOUND", Message: fmt.Sprintf("Provided external ID field does not exist or is not accessible: %s", field)}
		} else if rec := t.unique[i][strings.ToLower(value)]; rec == nil || rec.deleted {
			err = &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
		} else {
			out = o.fullRecordJSON(version, t, rec, nil)
		}
		o.mu.RUnlock()
		if err != nil {
			writeError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(out)
	case http.MethodPatch, http.MethodPost:
		body, err := readBody(r)
		if err != nil {
			writeError(w, err)
			return
		}
		o.mu.RLock()
		t := o.readable(object)
		exists := false
		if t != nil {
			if i, f := t.def.field(field); f != nil && t.unique[i] != nil {
				rec := t.unique[i][strings.ToLower(value)]
				exists = rec != nil && !rec.deleted
			}
		}
		var denied *apiError
		if t != nil {
			denied = o.canWrite(t, map[bool]string{true: "update", false: "create"}[exists])
		}
		o.mu.RUnlock()
		if t == nil || (!exists && r.URL.Query().Get("updateOnly") == "true") {
			notFound(w)
			return
		}
		if denied != nil {
			writeError(w, denied)
			return
		}
		id, created, aerr := o.Upsert(object, field, value, body, apiOrigin(r, "rest"))
		if aerr != nil {
			writeError(w, aerr)
			return
		}
		if created {
			w.Header().Set("Location", o.path("/services/data/v"+version+"/sobjects/"+object+"/"+id))
			writeJSON(w, 201, map[string]any{"id": id, "success": true, "errors": []any{}, "created": true})
			return
		}
		if v, _ := apiVersion(r.PathValue("version")); versionAtLeast(v, 46) {
			writeJSON(w, 200, map[string]any{"id": id, "success": true, "errors": []any{}, "created": false})
			return
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeError(w, &apiError{Status: 405, Code: "METHOD_NOT_ALLOWED", Message: "HTTP Method '" + r.Method + "' not allowed. Allowed are GET,PATCH"})
	}
}

// serveBlob answers GET /sobjects/{object}/{id}/{field} for a base64 field with its bytes, as
// Salesforce serves the blobs its records link to. It reports whether the request was one.
func (o *Org) serveBlob(w http.ResponseWriter, object, id, field string) bool {
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.readable(object)
	if t == nil || normalizeID(id) == "" {
		return false
	}
	i, f := t.def.field(field)
	if f == nil || f.Type != "base64" {
		return false
	}
	rec := o.find(t, id, false)
	if rec == nil {
		notFound(w)
		return true
	}
	data, _ := rec.val(i).([]byte)
	w.Header().Set("Content-Type", "application/octetstream")
	_, _ = w.Write(data)
	return true
}

func versionAtLeast(v string, n int) bool {
	var major int
	fmt.Sscanf(v, "%d", &major)
	return major >= n
}

// ---- getUpdated / getDeleted ----

func replicationWindow(r *http.Request) (time.Time, time.Time, *apiError) {
	parse := func(s string) (time.Time, error) { return parseTimeInput(strings.ReplaceAll(s, " ", "+")) }
	start, err1 := parse(r.URL.Query().Get("start"))
	end, err2 := parse(r.URL.Query().Get("end"))
	if err1 != nil || err2 != nil {
		return start, end, &apiError{Status: 400, Code: "INVALID_REPLICATION_DATE", Message: "start and end must be valid dateTime values"}
	}
	start, end = start.Truncate(time.Minute), end.Truncate(time.Minute)
	if !start.Before(end) {
		return start, end, &apiError{Status: 400, Code: "INVALID_REPLICATION_DATE", Message: "startDate must chronologically precede endDate by more than one minute"}
	}
	return start, end, nil
}

func (o *Org) handleUpdated(w http.ResponseWriter, r *http.Request, _ *session) {
	start, end, err := replicationWindow(r)
	if err != nil {
		writeError(w, err)
		return
	}
	now := o.opts.Now()
	if start.Before(now.AddDate(0, 0, -30)) {
		writeError(w, &apiError{Status: 400, Code: "INVALID_REPLICATION_DATE", Message: "startDate cannot be more than 30 days ago"})
		return
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.table(r.PathValue("object"))
	if t == nil {
		notFound(w)
		return
	}
	ids := []string{}
	for _, rec := range t.rows {
		stamp, _ := t.get(rec, "SystemModstamp").(time.Time)
		if !rec.deleted && !stamp.Before(start) && stamp.Before(end) {
			ids = append(ids, t.id(rec))
		}
	}
	if len(ids) > 600000 {
		writeError(w, &apiError{Status: 400, Code: "EXCEEDED_ID_LIMIT", Message: "too many ids; narrow the window"})
		return
	}
	writeJSON(w, 200, map[string]any{"ids": ids, "latestDateCovered": formatDateTime(minTime(end, now.Truncate(time.Minute)))})
}

func (o *Org) handleDeleted(w http.ResponseWriter, r *http.Request, _ *session) {
	start, end, err := replicationWindow(r)
	if err != nil {
		writeError(w, err)
		return
	}
	now := o.opts.Now()
	earliest := now.AddDate(0, 0, -15).Truncate(time.Minute)
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.table(r.PathValue("object"))
	if t == nil {
		notFound(w)
		return
	}
	recs := []map[string]string{}
	for _, rec := range t.rows {
		if rec.deleted && !rec.deletedAt.Before(start) && rec.deletedAt.Before(end) {
			recs = append(recs, map[string]string{"id": t.id(rec), "deletedDate": formatDateTime(rec.deletedAt)})
		}
	}
	writeJSON(w, 200, map[string]any{"deletedRecords": recs, "earliestDateAvailable": formatDateTime(earliest),
		"latestDateCovered": formatDateTime(minTime(end, now.Truncate(time.Minute)))})
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
