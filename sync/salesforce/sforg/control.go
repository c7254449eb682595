package sforg

import (
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"
)

// ExpireTokens makes every access token invalid at once (refresh tokens keep working).
func (o *Org) ExpireTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, s := range o.auth.sessions {
		s.expires = time.Time{}
	}
}

// RevokeRefreshTokens revokes every authorization: clients must re-authorize.
func (o *Org) RevokeRefreshTokens() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, g := range o.auth.grants {
		g.revoked = true
		delete(o.auth.grants, k)
	}
}

// APICalls returns the API calls made so far, by kind (query, queryMore, describe, sobject,
// composite, bulk, bulkPoll, bulkResults, ...).
func (o *Org) APICalls() map[string]int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := map[string]int{}
	for k, v := range o.calls {
		out[k] = v
	}
	return out
}

// APICallsByClient returns the API calls made so far by the client each named in its
// Sforce-Call-Options header ("" for none), by kind: as Salesforce's API usage by client.
func (o *Org) APICallsByClient() map[string]map[string]int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	out := map[string]map[string]int{}
	for client, kinds := range o.byClient {
		out[client] = maps.Clone(kinds)
	}
	return out
}

// APIUsage returns the daily API counter and its limit.
func (o *Org) APIUsage() (used, max int) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return o.apiUsed, o.opts.DailyAPILimit
}

// SetAPIUsage sets the daily API counter (to test limits).
func (o *Org) SetAPIUsage(used int) {
	o.mu.Lock()
	o.apiUsed = used
	o.mu.Unlock()
}

// Reset returns the org to its initial state.
func (o *Org) Reset() {
	o.mu.Lock()
	o.reset()
	o.mu.Unlock()
}

// Count returns the number of live records of an object.
func (o *Org) Count(object string) int {
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.table(object)
	if t == nil {
		return 0
	}
	n := 0
	for _, r := range t.rows {
		if !r.deleted {
			n++
		}
	}
	return n
}

// Record returns a record's values by field name (nil when missing or deleted).
func (o *Org) Record(object, id string) map[string]any {
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.table(object)
	if t == nil {
		return nil
	}
	r := o.find(t, id, false)
	if r == nil {
		return nil
	}
	out := map[string]any{}
	for i, f := range t.def.Fields {
		out[f.Name] = r.val(i)
	}
	return out
}

// Records returns every live record of an object by id, values by field name.
func (o *Org) Records(object string) map[string]map[string]any {
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.table(object)
	out := map[string]map[string]any{}
	if t == nil {
		return out
	}
	for _, r := range t.rows {
		if r.deleted {
			continue
		}
		m := map[string]any{}
		vals := r.values()
		for i, f := range t.def.Fields {
			m[f.Name] = vals[i]
		}
		out[t.id(r)] = m
	}
	return out
}

func rawBody(fields map[string]any) (map[string]json.RawMessage, error) {
	body := map[string]json.RawMessage{}
	for k, v := range fields {
		if t, ok := v.(time.Time); ok {
			v = t.UTC().Format(time.RFC3339Nano)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		body[k] = b
	}
	return body, nil
}

// CreateAsUser creates a record as a Salesforce user would (validation, CDC and all).
func (o *Org) CreateAsUser(object string, fields map[string]any) (string, error) {
	body, err := rawBody(fields)
	if err != nil {
		return "", err
	}
	id, aerr := o.Create(object, body, uiOrigin)
	if aerr != nil {
		return "", aerr
	}
	return id, nil
}

// CreateCommittedLate creates a record the way a transaction that began at stampedAt and commits
// only now does: its SystemModstamp is older than changes already visible (Salesforce stamps a
// transaction when it starts). Pollers must still find it.
func (o *Org) CreateCommittedLate(object string, fields map[string]any, stampedAt time.Time) (string, error) {
	o.pin(stampedAt)
	return o.CreateAsUser(object, fields)
}

// UpdateCommittedLate and DeleteCommittedLate change a record the way a transaction that began at
// stampedAt and commits only now does (see CreateCommittedLate). With stampedAt before a poll's
// overlap window, pollers never see the change: only a verification finds it.
func (o *Org) UpdateCommittedLate(object, id string, fields map[string]any, stampedAt time.Time) error {
	o.pin(stampedAt)
	return o.UpdateAsUser(object, id, fields)
}

// DeleteCommittedLate: see UpdateCommittedLate.
func (o *Org) DeleteCommittedLate(object, id string, stampedAt time.Time) error {
	o.pin(stampedAt)
	return o.DeleteAsUser(object, id)
}

func (o *Org) pin(stampedAt time.Time) {
	o.mu.Lock()
	o.pinnedStamp, o.pinOnce = stampedAt.UTC().Truncate(time.Second), true
	o.mu.Unlock()
}

// UpdateAsUser edits a record as a Salesforce user would.
func (o *Org) UpdateAsUser(object, id string, fields map[string]any) error {
	body, err := rawBody(fields)
	if err != nil {
		return err
	}
	if aerr := o.Update(object, id, body, uiOrigin); aerr != nil {
		return aerr
	}
	return nil
}

// CreateManyAsUser creates records in one transaction, as a user's mass action would: their change
// events share a transaction.
func (o *Org) CreateManyAsUser(object string, records []map[string]any) ([]string, error) {
	var ids []string
	err := o.asOneTransaction(object, len(records), func(t *table, i int) (Change, *apiError) {
		body, err := rawBody(records[i])
		if err != nil {
			return Change{}, &apiError{Status: 400, Code: "JSON_PARSER_ERROR", Message: err.Error()}
		}
		vals, aerr := o.parseInput(t, body, true)
		if aerr != nil {
			return Change{}, aerr
		}
		r, _, aerr := o.save(t, nil, vals, o.userID)
		if aerr != nil {
			return Change{}, aerr
		}
		ids = append(ids, t.id(r))
		return o.changeOf(t, r, "CREATE", nonNull(t, r, nil), uiOrigin), nil
	})
	return ids, err
}

// UpdateManyAsUser sets the same fields on records in one transaction (a mass update).
func (o *Org) UpdateManyAsUser(object string, ids []string, fields map[string]any) error {
	body, err := rawBody(fields)
	if err != nil {
		return err
	}
	return o.asOneTransaction(object, len(ids), func(t *table, i int) (Change, *apiError) {
		r, aerr := o.lookup(t, ids[i])
		if aerr != nil {
			return Change{}, aerr
		}
		vals, aerr := o.parseInput(t, body, false)
		if aerr != nil {
			return Change{}, aerr
		}
		_, changed, aerr := o.save(t, r, vals, o.userID)
		if aerr != nil {
			return Change{}, aerr
		}
		return o.changeOf(t, r, "UPDATE", changed, uiOrigin), nil
	})
}

// DeleteManyAsUser deletes records in one transaction (a mass delete).
func (o *Org) DeleteManyAsUser(object string, ids []string) error {
	return o.asOneTransaction(object, len(ids), func(t *table, i int) (Change, *apiError) {
		r, aerr := o.lookup(t, ids[i])
		if aerr != nil {
			return Change{}, aerr
		}
		o.remove(t, r, o.userID)
		return o.changeOf(t, r, "DELETE", nil, uiOrigin), nil
	})
}

// asOneTransaction runs n record operations under one lock and publishes their changes together.
// It stops at the first error; what was done before stays (as with allOrNone false).
func (o *Org) asOneTransaction(object string, n int, op func(t *table, i int) (Change, *apiError)) error {
	o.mu.Lock()
	t := o.table(object)
	if t == nil {
		o.mu.Unlock()
		return fmt.Errorf("no object %s", object)
	}
	var changes []Change
	var err error
	for i := range n {
		ch, aerr := op(t, i)
		if aerr != nil {
			err = aerr
			break
		}
		changes = append(changes, ch)
	}
	o.mu.Unlock()
	o.notifyChanges(changes)
	return err
}

// DeleteAsUser deletes a record as a Salesforce user would.
func (o *Org) DeleteAsUser(object, id string) error {
	if aerr := o.Delete(object, id, uiOrigin); aerr != nil {
		return aerr
	}
	return nil
}

// AddObject adds a custom object (name must end in __c) with the system fields and the given fields.
func (o *Org) AddObject(name, label string, fields ...FieldDef) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.table(name) != nil {
		return fmt.Errorf("object %s exists", name)
	}
	fs := systemFields(true, true)
	nameField := readOnly(str("Name", label+" Name", 80))
	nameField.AutoNumber, nameField.Nillable, nameField.Default = true, false, "N-{0000}"
	fs = append(fs, nameField)
	for _, f := range fields {
		f := f
		if f.Label == "" {
			f.Label = f.Name
		}
		f.Custom = true
		fs = append(fs, &f)
	}
	def := &ObjectDef{Name: name, Label: label, LabelPlural: label + "s", Custom: true, KeyPrefix: o.freeCustomPrefix(), Fields: fs, Modified: o.opts.Now().UTC()}
	def.reindex()
	o.tables[strings.ToLower(name)] = newTable(def)
	return nil
}

// freeCustomPrefix is a custom object key prefix no object has yet.
func (o *Org) freeCustomPrefix() string {
	used := map[string]bool{}
	for _, t := range o.tables {
		used[t.def.KeyPrefix] = true
	}
	for n := 1; ; n++ {
		if p := customPrefix(n); !used[p] || n > 52 {
			return p
		}
	}
}

// RemoveObject deletes an object and its records (mappings of it become orphans).
func (o *Org) RemoveObject(name string) {
	o.mu.Lock()
	delete(o.tables, strings.ToLower(name))
	delete(o.cdc, strings.ToLower(name))
	o.schemaModified = o.opts.Now().UTC().Add(time.Second)
	o.mu.Unlock()
}

// AddField adds a field to an object.
func (o *Org) AddField(object string, f FieldDef) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.table(object)
	if t == nil {
		return fmt.Errorf("no object %s", object)
	}
	if t.def.has(f.Name) {
		return fmt.Errorf("field %s exists on %s", f.Name, object)
	}
	if f.Label == "" {
		f.Label = f.Name
	}
	t.def.Fields = append(t.def.Fields, &f)
	t.def.reindex()
	t.def.Modified = o.opts.Now().UTC().Add(time.Second)
	for _, r := range t.rows {
		if !r.generated() {
			r.stored = append(r.stored, nil)
		}
	}
	for _, b := range t.blocks {
		b.addField()
	}
	if f.Unique || f.ExternalID {
		t.unique[len(t.def.Fields)-1] = map[string]*row{}
	}
	return nil
}

// ChangeField changes a field's definition (type, length, ...) as an admin would in Setup.
func (o *Org) ChangeField(object, field string, change func(*FieldDef)) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.table(object)
	if t == nil {
		return fmt.Errorf("no object %s", object)
	}
	_, f := t.def.field(field)
	if f == nil {
		return fmt.Errorf("no field %s on %s", field, object)
	}
	change(f)
	t.def.reindex()
	t.def.Modified = o.opts.Now().UTC().Add(time.Second)
	return nil
}

// RemoveField deletes a field from an object.
func (o *Org) RemoveField(object, field string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.table(object)
	if t == nil {
		return fmt.Errorf("no object %s", object)
	}
	i, f := t.def.field(field)
	if f == nil {
		return fmt.Errorf("no field %s on %s", field, object)
	}
	t.def.Fields = append(t.def.Fields[:i:i], t.def.Fields[i+1:]...)
	for _, r := range t.rows {
		if !r.generated() {
			r.stored = append(r.stored[:i:i], r.stored[i+1:]...)
		}
	}
	for _, b := range t.blocks {
		b.removeField(i)
	}
	uniq := map[int]map[string]*row{}
	for k, m := range t.unique {
		switch {
		case k < i:
			uniq[k] = m
		case k > i:
			uniq[k-1] = m
		}
	}
	t.unique = uniq
	t.def.reindex()
	t.def.Modified = o.opts.Now().UTC().Add(time.Second)
	return nil
}

// SetRules replaces an object's validation rules.
func (o *Org) SetRules(object string, rules ...Rule) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	t := o.table(object)
	if t == nil {
		return fmt.Errorf("no object %s", object)
	}
	t.def.Rules = rules
	return nil
}

// ---- HTTP control API (/_sforg/...), for demos and tests in other processes ----

func (o *Org) control(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		want := o.opts.ControlToken
		got := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if want == "" || subtle.ConstantTimeCompare([]byte(got), []byte(want)) != 1 {
			writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "control API: missing or wrong bearer token"})
			return
		}
		if err := h(w, r); err != nil {
			status := http.StatusBadRequest
			if ae, ok := err.(*apiError); ok && ae.Status != 0 {
				status = ae.Status
			}
			writeJSON(w, status, map[string]string{"error": err.Error()})
		}
	}
}

func decode(r *http.Request, v any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 10<<20)).Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	return nil
}

func (o *Org) controlRoutes(m *http.ServeMux) {
	ok := func(w http.ResponseWriter) error { writeJSON(w, 200, map[string]bool{"ok": true}); return nil }
	m.HandleFunc("POST /_sforg/faults", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var f Fault
		if err := decode(r, &f); err != nil {
			return err
		}
		if err := o.InjectFault(f); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("DELETE /_sforg/faults", o.control(func(w http.ResponseWriter, r *http.Request) error { o.ClearFaults(); return ok(w) }))
	m.HandleFunc("POST /_sforg/tokens/expire", o.control(func(w http.ResponseWriter, r *http.Request) error { o.ExpireTokens(); return ok(w) }))
	m.HandleFunc("POST /_sforg/tokens/revoke", o.control(func(w http.ResponseWriter, r *http.Request) error { o.RevokeRefreshTokens(); return ok(w) }))
	m.HandleFunc("POST /_sforg/streaming/drop", o.control(func(w http.ResponseWriter, r *http.Request) error { o.DropStreamingClients(); return ok(w) }))
	m.HandleFunc("POST /_sforg/streaming/forget", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var req struct{ Before int64 }
		if err := decode(r, &req); err != nil {
			return err
		}
		o.ForgetEventsBefore(req.Before)
		return ok(w)
	}))
	m.HandleFunc("POST /_sforg/reset", o.control(func(w http.ResponseWriter, r *http.Request) error { o.Reset(); return ok(w) }))
	m.HandleFunc("GET /_sforg/calls", o.control(func(w http.ResponseWriter, r *http.Request) error {
		used, max := o.APIUsage()
		writeJSON(w, 200, map[string]any{"calls": o.APICalls(), "by_client": o.APICallsByClient(), "used": used, "max": max})
		return nil
	}))
	m.HandleFunc("POST /_sforg/usage", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var req struct{ Used int }
		if err := decode(r, &req); err != nil {
			return err
		}
		o.SetAPIUsage(req.Used)
		return ok(w)
	}))
	m.HandleFunc("POST /_sforg/generate", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Object     string
			Count      int
			Seed       int64
			StampedAgo int // seconds: records created that long ago (no poll reads them again)
		}
		if err := decode(r, &req); err != nil {
			return err
		}
		if req.Count <= 0 || req.Count > 5_000_000 {
			return fmt.Errorf("count must be between 1 and 5000000")
		}
		generate := o.Generate
		if req.StampedAgo > 0 {
			at := time.Now().Add(-time.Duration(req.StampedAgo) * time.Second)
			generate = func(object string, n int, seed int64) error { return o.GenerateStamped(object, n, seed, at) }
		}
		if r.URL.Query().Get("events") == "true" {
			generate = o.Burst // a data load: one change event per record
		}
		if err := generate(req.Object, req.Count, req.Seed); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("POST /_sforg/records/{object}", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var fields map[string]any
		if err := decode(r, &fields); err != nil {
			return err
		}
		id, err := o.CreateAsUser(r.PathValue("object"), fields)
		if err != nil {
			return err
		}
		writeJSON(w, 201, map[string]string{"id": id})
		return nil
	}))
	m.HandleFunc("PATCH /_sforg/records/{object}/{id}", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var fields map[string]any
		if err := decode(r, &fields); err != nil {
			return err
		}
		if err := o.UpdateAsUser(r.PathValue("object"), r.PathValue("id"), fields); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("DELETE /_sforg/records/{object}/{id}", o.control(func(w http.ResponseWriter, r *http.Request) error {
		if err := o.DeleteAsUser(r.PathValue("object"), r.PathValue("id")); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("PATCH /_sforg/settings", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var s Settings
		if err := decode(r, &s); err != nil {
			return err
		}
		if err := o.Configure(s); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("PUT /_sforg/objects/{name}/access", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var a ObjectAccess
		if err := decode(r, &a); err != nil {
			return err
		}
		if err := o.SetObjectAccess(r.PathValue("name"), a); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("POST /_sforg/objects", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Name, Label string
			Fields      []FieldDef
		}
		if err := decode(r, &req); err != nil {
			return err
		}
		if err := o.AddObject(req.Name, req.Label, req.Fields...); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("DELETE /_sforg/objects/{name}", o.control(func(w http.ResponseWriter, r *http.Request) error {
		o.RemoveObject(r.PathValue("name"))
		return ok(w)
	}))
	m.HandleFunc("POST /_sforg/objects/{name}/fields", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var f FieldDef
		if err := decode(r, &f); err != nil {
			return err
		}
		if err := o.AddField(r.PathValue("name"), f); err != nil {
			return err
		}
		return ok(w)
	}))
	m.HandleFunc("PATCH /_sforg/objects/{name}/fields/{field}", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Type   *string
			Length *int
		}
		if err := decode(r, &req); err != nil {
			return err
		}
		if err := o.ChangeField(r.PathValue("name"), r.PathValue("field"), func(f *FieldDef) {
			if req.Type != nil {
				f.Type = *req.Type
			}
			if req.Length != nil {
				f.Length = *req.Length
			}
		}); err != nil {
			return err
		}
		return ok(w)
	}))
}
