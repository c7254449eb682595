package sforg

import (
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"pgforce/sync/salesforce/bayeux"
)

// Change Data Capture as Salesforce publishes it (Change Data Capture Developer Guide):
//   - only entities selected for Change Data Capture publish, on /data/ChangeEvents and their own
//     channel; subscribing to an unselected entity's channel is refused ("does not exist");
//   - the changes of one transaction (one API call) share a transactionKey and are numbered by
//     sequenceNumber; the same change to several records of an object (a multi-record delete, the
//     same field values written to several records within one second) is one event listing all
//     recordIds;
//   - CREATE carries every non-null field with empty changedFields; UPDATE carries the changed fields
//     and LastModifiedDate, listed in changedFields; DELETE carries none; IsDeleted, SystemModstamp
//     and formula fields never appear; compound field parts arrive nested (BillingAddress.City);
//   - changeOrigin is com/salesforce/api/<api>/<version>, with ;client=<id> when the call named a
//     client in its Sforce-Call-Options header;
//   - past OverflowThreshold changes in one transaction, the rest become one GAP_OVERFLOW event per
//     entity (record id 000000000000000AAA); changes made in the database itself (Gap) publish
//     GAP_CREATE/GAP_UPDATE/GAP_DELETE/GAP_UNDELETE events naming the records, without fields.

const (
	defaultOverflowThreshold = 100_000
	// mergeLimit caps the records of one merged event: Salesforce's transactions of API calls hold at
	// most 200 records (collections, Bulk API batches).
	mergeLimit = 200
	// emptyRecordID is the record id of overflow events.
	emptyRecordID = "000000000000000AAA"
)

// uiOrigin is the changeOrigin of edits made by a Salesforce user in Lightning Experience.
var uiOrigin = "com/salesforce/api/soap/" + latestVersion + ";client=SfdcInternalAPI/"

// streaming sets up the CometD endpoint; notifyChanges publishes each transaction's change events.
func (o *Org) streaming(m *http.ServeMux) {
	o.bus = bayeux.NewServer(bayeux.ServerOptions{
		Authenticate: func(r *http.Request) error {
			if o.sessionFor(r) == nil {
				return errInvalidSession
			}
			return nil
		},
		ChannelExists:   o.channelExists,
		LongPollTimeout: o.opts.LongPollTimeout,
		Now:             o.opts.Now,
	})
	handler := func(w http.ResponseWriter, r *http.Request) {
		if o.fault(w, r) {
			return
		}
		if _, ok := apiVersion("v" + r.PathValue("version")); !ok {
			http.NotFound(w, r)
			return
		}
		o.bus.ServeHTTP(w, r)
	}
	m.HandleFunc("/cometd/{version}", handler)
	m.HandleFunc("/cometd/{version}/{meta...}", handler)
	o.cdcControlRoutes(m)
}

// cdcControlRoutes serve the Change Data Capture part of the control API: the entity selection, the
// overflow threshold and gap changes.
func (o *Org) cdcControlRoutes(m *http.ServeMux) {
	settings := func(w http.ResponseWriter) error {
		o.mu.RLock()
		threshold := o.overflowAt
		o.mu.RUnlock()
		writeJSON(w, 200, map[string]any{"entities": o.CDCEntities(), "overflowThreshold": cmp.Or(threshold, defaultOverflowThreshold)})
		return nil
	}
	m.HandleFunc("GET /_sforg/cdc", o.control(func(w http.ResponseWriter, r *http.Request) error { return settings(w) }))
	m.HandleFunc("PUT /_sforg/cdc", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Entities          *[]string
			OverflowThreshold *int
		}
		if err := decode(r, &req); err != nil {
			return err
		}
		if req.OverflowThreshold != nil && *req.OverflowThreshold < 0 {
			return fmt.Errorf("overflowThreshold must be 0 (Salesforce's 100,000) or more, got %d", *req.OverflowThreshold)
		}
		if req.Entities != nil {
			if err := o.SetCDCEntities(*req.Entities...); err != nil {
				return err
			}
		}
		if req.OverflowThreshold != nil {
			o.SetOverflowThreshold(*req.OverflowThreshold)
		}
		return settings(w)
	}))
	m.HandleFunc("POST /_sforg/cdc/entities/{object}", o.control(func(w http.ResponseWriter, r *http.Request) error {
		if err := o.SelectForCDC(r.PathValue("object")); err != nil {
			return err
		}
		return settings(w)
	}))
	m.HandleFunc("DELETE /_sforg/cdc/entities/{object}", o.control(func(w http.ResponseWriter, r *http.Request) error {
		o.DeselectForCDC(r.PathValue("object"))
		return settings(w)
	}))
	m.HandleFunc("POST /_sforg/cdc/gap", o.control(func(w http.ResponseWriter, r *http.Request) error {
		var g GapChange
		if err := decode(r, &g); err != nil {
			return err
		}
		ids, err := o.Gap(g)
		if err != nil {
			return err
		}
		writeJSON(w, 200, map[string]any{"ids": ids})
		return nil
	}))
}

var errInvalidSession = &apiError{Status: 401, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid"}

// eventChannel is an object's CDC channel: Account → AccountChangeEvent, Invoice__c → Invoice__ChangeEvent.
func eventChannel(object string) string {
	if name, ok := strings.CutSuffix(object, "__c"); ok {
		return "/data/" + name + "__ChangeEvent"
	}
	return "/data/" + object + "ChangeEvent"
}

func (o *Org) channelExists(ch string) bool {
	if ch == "/data/ChangeEvents" {
		return true
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	for key, t := range o.tables {
		if eventChannel(t.def.Name) == ch {
			return o.cdc[key]
		}
	}
	return false
}

// ---- entity selection (Setup → Change Data Capture) ----

// initialCDC is the selection of a new org: the listed objects, or for a demo org every object it
// has (the demo selects its objects), or none, as in a new Salesforce org.
func (o *Org) initialCDC(demo bool) map[string]bool {
	sel := map[string]bool{}
	names := o.opts.ChangeDataCapture
	if len(names) == 0 && demo {
		names = o.objectNames()
	}
	for _, n := range names {
		if o.table(n) != nil {
			sel[lower(n)] = true
		}
	}
	return sel
}

// SetCDCEntities replaces the objects selected for Change Data Capture.
func (o *Org) SetCDCEntities(objects ...string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	sel := map[string]bool{}
	for _, n := range objects {
		if o.table(n) == nil {
			return fmt.Errorf("no object %s to select for Change Data Capture", n)
		}
		sel[lower(n)] = true
	}
	o.cdc = sel
	o.muts.Add(1)
	return nil
}

// SelectForCDC adds objects to the Change Data Capture selection.
func (o *Org) SelectForCDC(objects ...string) error {
	return o.SetCDCEntities(append(o.CDCEntities(), objects...)...)
}

// DeselectForCDC removes objects from the selection: they stop publishing change events and their
// channels stop existing.
func (o *Org) DeselectForCDC(objects ...string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, n := range objects {
		delete(o.cdc, lower(n))
	}
	o.muts.Add(1)
}

// CDCEntities lists the objects selected for Change Data Capture.
func (o *Org) CDCEntities() []string {
	o.mu.RLock()
	defer o.mu.RUnlock()
	return append([]string{}, o.cdcSelected()...)
}

// SetOverflowThreshold sets how many changes one transaction may publish before the rest become
// overflow events (Salesforce: 100,000; 0 restores that).
func (o *Org) SetOverflowThreshold(n int) {
	o.mu.Lock()
	o.overflowAt = n
	o.mu.Unlock()
}

// ---- changeOrigin ----

// apiOrigin is the changeOrigin of a change made through an API request: the API, the version of
// the request's URL, and the client it names in Sforce-Call-Options (client=...), if any.
func apiOrigin(r *http.Request, api string) string {
	version, _ := apiVersion("v" + strings.TrimPrefix(r.PathValue("version"), "v"))
	if version == "" {
		version = latestVersion
	}
	origin := "com/salesforce/api/" + api + "/" + version
	if client := callClient(r); client != "" {
		return origin + ";client=" + client
	}
	return origin
}

// callClient is the client a request names in Sforce-Call-Options (client=...), "" if none.
func callClient(r *http.Request) string {
	for opt := range strings.SplitSeq(r.Header.Get("Sforce-Call-Options"), ",") {
		if k, v, ok := strings.Cut(strings.TrimSpace(opt), "="); ok && k == "client" && v != "" {
			return v
		}
	}
	return ""
}

// ---- publishing ----

// cdcEvent is one change event about to be published.
type cdcEvent struct {
	object  string
	typ     string
	ids     []string
	changed []string       // changedFields of the header
	fields  map[string]any // payload fields by name (before nesting compound parts)
	origin  string
	commit  time.Time
	key     string // merge key: events with the same key are the same change
}

// publishTransaction publishes one transaction's changes as Change Data Capture events.
func (o *Org) publishTransaction(chs []Change) {
	if len(chs) == 0 || o.bus == nil {
		return
	}
	o.mu.RLock()
	threshold := o.overflowAt
	if threshold <= 0 {
		threshold = defaultOverflowThreshold
	}
	var evs []*cdcEvent
	open := map[string]*cdcEvent{} // merge key → the event still taking records of that change
	var overflow []Change          // the first change of each entity past the threshold
	budget := threshold
	for _, ch := range chs {
		t := o.table(ch.Object)
		if t == nil || !o.cdc[lower(t.def.Name)] {
			continue
		}
		// Creates, deletes and undeletes count one change each; an update counts each field it changes.
		cost := 1
		if ch.Type == "UPDATE" {
			cost = max(1, len(ch.ChangedFields)-1) // LastModifiedDate comes with every update
		}
		if budget -= cost; budget < 0 {
			if !slices.ContainsFunc(overflow, func(c Change) bool { return c.Object == ch.Object }) {
				overflow = append(overflow, ch)
			}
			continue
		}
		if ev := o.eventOf(t, ch); !merge(open, ev) {
			evs = append(evs, ev)
		}
	}
	for _, ch := range overflow {
		evs = append(evs, &cdcEvent{object: ch.Object, typ: "GAP_OVERFLOW", ids: []string{emptyRecordID}, origin: ch.Origin, commit: ch.CommitTime})
	}
	type out struct {
		channels []string
		schema   string
		payload  json.RawMessage
	}
	var publish []out
	txKey := transactionKey()
	schemas := map[*table]string{} // one per object and transaction: hashing the fields is not free
	for i, ev := range evs {
		t := o.table(ev.object)
		if schemas[t] == "" {
			schemas[t] = schemaID(t.def)
		}
		payload := o.payload(t, ev, txKey, i+1)
		publish = append(publish, out{[]string{"/data/ChangeEvents", eventChannel(t.def.Name)}, schemas[t], payload})
	}
	o.mu.RUnlock()
	for _, p := range publish {
		o.bus.Publish(p.channels, p.schema, p.payload)
	}
}

// eventOf turns a change into its event; call with o.mu held.
func (o *Org) eventOf(t *table, ch Change) *cdcEvent {
	ev := &cdcEvent{object: t.def.Name, typ: ch.Type, ids: slices.Clone(ch.IDs), origin: ch.Origin, commit: ch.CommitTime, fields: map[string]any{}}
	switch ch.Type {
	case "CREATE", "UNDELETE":
		for _, name := range ch.ChangedFields {
			if includedInEvents(t, name) && ch.Fields[name] != nil {
				ev.fields[name] = ch.Fields[name]
			}
		}
	case "UPDATE":
		// In the object's field order, LastModifiedDate last, as Salesforce lists them.
		changed := slices.Clone(ch.ChangedFields)
		slices.SortStableFunc(changed, func(a, b string) int { return cmp.Compare(fieldOrder(t, a), fieldOrder(t, b)) })
		for _, name := range changed {
			if includedInEvents(t, name) {
				ev.fields[name] = ch.Fields[name]
				ev.changed = append(ev.changed, changedName(t, name))
			}
		}
	}
	if ch.Type == "CREATE" || ch.Type == "UNDELETE" {
		return ev // a new record's values include its own name and dates: never merged
	}
	// The same change: same object and type, same values (LastModifiedDate to the second).
	var key strings.Builder
	fmt.Fprintf(&key, "%s|%s|%d|%s|", ev.object, ev.typ, ev.commit.Unix(), ev.origin)
	names := make([]string, 0, len(ev.fields))
	for n := range ev.fields {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if n != "LastModifiedDate" {
			v, _ := json.Marshal(ev.fields[n])
			fmt.Fprintf(&key, "%s=%s;", n, v)
		}
	}
	ev.key = key.String()
	return ev
}

// merge adds ev's records to the open event of the same change and reports whether it did; else ev
// becomes the open event of its change. Creates and undeletes are never the same change.
func merge(open map[string]*cdcEvent, ev *cdcEvent) bool {
	if ev.key == "" {
		return false
	}
	if e := open[ev.key]; e != nil && len(e.ids)+len(ev.ids) <= mergeLimit {
		e.ids = append(e.ids, ev.ids...)
		return true
	}
	open[ev.key] = ev
	return false
}

// fieldOrder is a changed field's place in changedFields: its ordinal, LastModifiedDate after all.
func fieldOrder(t *table, name string) int {
	if name == "LastModifiedDate" {
		return len(t.def.Fields)
	}
	i, _ := t.def.field(name)
	return i
}

// includedInEvents reports whether a field appears in change events: not IsDeleted, SystemModstamp
// or the Id (the header carries it), not formula fields, not a compound field itself (its parts do).
func includedInEvents(t *table, name string) bool {
	_, f := t.def.field(name)
	if f == nil || f.Calculated || f.Type == "address" || f.Type == "location" {
		return false
	}
	switch f.Name {
	case "Id", "IsDeleted", "SystemModstamp":
		return false
	}
	return true
}

// changedName is a field's name in changedFields: compound parts as Compound.Part.
func changedName(t *table, name string) string {
	_, f := t.def.field(name)
	if f != nil && f.Compound != "" {
		return f.Compound + "." + compoundPart(f)
	}
	return name
}

// compoundPart is a part's key inside its compound value: BillingCity in BillingAddress → City,
// FirstName in Name → FirstName.
func compoundPart(f *FieldDef) string {
	prefix := strings.TrimSuffix(strings.TrimSuffix(f.Compound, "Address"), "Location")
	if f.Compound == "Name" {
		prefix = ""
	}
	return strings.TrimPrefix(f.Name, prefix)
}

// payload is an event's JSON payload: header and fields, compound parts nested; call with o.mu held.
func (o *Org) payload(t *table, ev *cdcEvent, txKey string, seq int) json.RawMessage {
	changed := ev.changed
	if changed == nil {
		changed = []string{}
	}
	p := map[string]any{"ChangeEventHeader": map[string]any{
		"entityName": t.def.Name, "recordIds": ev.ids, "changeType": ev.typ, "changeOrigin": ev.origin,
		"transactionKey": txKey, "sequenceNumber": seq, "commitTimestamp": ev.commit.UnixMilli(),
		"commitNumber": ev.commit.UnixMicro() / 100, "commitUser": o.userID, "changedFields": changed,
	}}
	for name, v := range ev.fields {
		_, f := t.def.field(name)
		v = eventValue(f, v)
		if f.Compound == "" {
			p[f.Name] = v
			continue
		}
		parts, _ := p[f.Compound].(map[string]any)
		if parts == nil {
			parts = map[string]any{}
			p[f.Compound] = parts
		}
		parts[compoundPart(f)] = v
	}
	raw, _ := json.Marshal(p)
	return raw
}

// eventValue formats a stored value as change events carry it.
func eventValue(f *FieldDef, v any) any {
	if tm, ok := v.(time.Time); ok {
		if f.Type == "date" {
			return tm.UTC().Format("2006-01-02")
		}
		return tm.UTC().Format("2006-01-02T15:04:05.000Z")
	}
	return v
}

// schemaID names an event's schema as Salesforce does (22 URL-safe base64 characters), derived from
// the object's fields so it changes when they do.
func schemaID(def *ObjectDef) string {
	h := sha256.New()
	h.Write([]byte(def.Name))
	for _, f := range def.Fields {
		h.Write([]byte("|" + f.Name + ":" + f.Type))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))[:22]
}

// transactionKey is a transaction's unique key, shaped like Salesforce's (0005163c-8d04-d729-39bd-b917b035a66c).
func transactionKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// ---- gap events ----

// GapChange is a change made in the database itself, outside Salesforce's application servers (an
// archiving or data cleanup job): the records change without a change event and without a new
// SystemModstamp or LastModifiedDate, so polls by SystemModstamp do not see it, and Change Data
// Capture publishes a gap event naming the records instead.
type GapChange struct {
	Object string
	Type   string         // CREATE, UPDATE, DELETE or UNDELETE
	IDs    []string       // the records changed (UPDATE, DELETE, UNDELETE)
	Fields map[string]any // values set (UPDATE) or of the new record (CREATE)
}

// Gap applies a database-level change and publishes its gap event (when the object is selected).
// It returns the ids of the records changed (the new record's for CREATE).
func (o *Org) Gap(g GapChange) ([]string, error) {
	body, err := rawBody(g.Fields)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	t := o.table(g.Object)
	if t == nil {
		o.mu.Unlock()
		return nil, fmt.Errorf("no object %s", g.Object)
	}
	ids, aerr := o.applyGap(t, g, body)
	commit := o.opts.Now().UTC()
	o.muts.Add(1)
	o.mu.Unlock()
	if aerr != nil {
		return nil, aerr
	}
	o.publishGap(t.def.Name, "GAP_"+g.Type, ids, commit)
	return ids, nil
}

// applyGap writes the change; call with o.mu held.
func (o *Org) applyGap(t *table, g GapChange, body map[string]json.RawMessage) ([]string, *apiError) {
	if g.Type == "CREATE" {
		vals, err := o.parseInput(t, body, true)
		if err != nil {
			return nil, err
		}
		r, _, err := o.save(t, nil, vals, o.userID)
		if err != nil {
			return nil, err
		}
		return []string{t.id(r)}, nil
	}
	if len(g.IDs) == 0 {
		return nil, &apiError{Status: 400, Code: "MISSING_ARGUMENT", Message: "a gap change needs the ids of the records it changes"}
	}
	var rows []*row
	for _, id := range g.IDs {
		r := t.lookup(normalizeID(id))
		if r == nil {
			return nil, &apiError{Status: 404, Code: "NOT_FOUND", Message: "no " + t.def.Name + " record " + id}
		}
		rows = append(rows, r)
	}
	var vals map[int]any
	switch g.Type {
	case "UPDATE":
		var err *apiError
		if vals, err = o.parseInput(t, body, false); err != nil {
			return nil, err
		}
	case "DELETE", "UNDELETE":
	default:
		return nil, &apiError{Status: 400, Code: "INVALID_TYPE", Message: "a gap change is CREATE, UPDATE, DELETE or UNDELETE, not " + g.Type}
	}
	ids := make([]string, len(rows))
	for k, r := range rows {
		ids[k] = t.id(r)
		stored := r.own()
		for i, idx := range t.unique { // unindexed while changed, indexed again if live
			if s, ok := stored[i].(string); ok && idx[lower(s)] == r {
				delete(idx, lower(s))
			}
		}
		for i, v := range vals {
			stored[i] = v
		}
		switch g.Type {
		case "DELETE":
			r.deleted, r.deletedAt = true, o.opts.Now().UTC()
		case "UNDELETE":
			r.deleted, r.deletedAt = false, time.Time{}
		}
		if i, f := t.def.field("IsDeleted"); f != nil {
			stored[i] = r.deleted
		}
		o.derive(t.def, stored)
		if !r.deleted {
			for i, idx := range t.unique {
				if s, ok := stored[i].(string); ok && s != "" {
					idx[lower(s)] = r
				}
			}
		}
	}
	return ids, nil
}

// publishGap publishes gap events for records changed outside a transaction, merged by 200.
func (o *Org) publishGap(object, typ string, ids []string, commit time.Time) {
	o.mu.RLock()
	t := o.table(object)
	if t == nil || !o.cdc[lower(t.def.Name)] {
		o.mu.RUnlock()
		return
	}
	var payloads []json.RawMessage
	txKey := transactionKey()
	for i := 0; i < len(ids); i += mergeLimit {
		ev := &cdcEvent{object: t.def.Name, typ: typ, ids: ids[i:min(i+mergeLimit, len(ids))], commit: commit}
		payloads = append(payloads, o.payload(t, ev, txKey, len(payloads)+1))
	}
	channels, schema := []string{"/data/ChangeEvents", eventChannel(t.def.Name)}, schemaID(t.def)
	o.mu.RUnlock()
	for _, p := range payloads {
		o.bus.Publish(channels, schema, p)
	}
}

// DropStreamingClients makes every CometD client reconnect (403::Unknown client).
func (o *Org) DropStreamingClients() { o.bus.DropClients() }

// ForgetEventsBefore drops CDC events older than replayID from the replay window.
func (o *Org) ForgetEventsBefore(replayID int64) { o.bus.ForgetBefore(replayID) }

// NewestReplayID is the replay id of the latest change event (0 before the first).
func (o *Org) NewestReplayID() int64 { return o.bus.Newest() }
