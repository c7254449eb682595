package sforg

import (
	"net/http"
	"slices"
	"strings"

	"pgforce/sync/salesforce/soql"
)

// The Tooling API, for what `pgforce doctor` reads of an org's setup: PlatformEventChannelMember,
// the entities selected for Change Data Capture on the standard ChangeEvents channel.

// cdcSelected lists the objects selected for Change Data Capture, sorted; the caller holds o.mu.
func (o *Org) cdcSelected() []string {
	var out []string
	for key := range o.cdc {
		if t := o.tables[key]; t != nil {
			out = append(out, t.def.Name)
		}
	}
	slices.Sort(out)
	return out
}

// toolingObjects builds the tooling objects a query can read, as of now.
func (o *Org) toolingObjects() map[string]*table {
	def := object("PlatformEventChannelMember", "Platform Event Channel Member", "Platform Event Channel Members", idField(),
		readOnly(str("DeveloperName", "Developer Name", 80)), readOnly(str("EventChannel", "Event Channel", 255)),
		readOnly(str("SelectedEntity", "Selected Entity", 255)))
	def.KeyPrefix, def.System = "0v8", true
	t := newTable(def)
	for i, obj := range o.cdcSelected() {
		entity := strings.TrimPrefix(eventChannel(obj), "/data/")
		r := &row{stored: []any{newID(def.KeyPrefix, uint64(i+1)), "ChangeEvents_" + entity, "ChangeEvents", entity}}
		t.rows, t.byID[t.id(r)] = append(t.rows, r), r
	}
	return map[string]*table{"platformeventchannelmember": t}
}

// toolingSchema shows SOQL the tooling objects.
type toolingSchema struct {
	o       *Org
	objects map[string]*table
}

func (s toolingSchema) Object(name string) (soql.Object, bool) {
	t := s.objects[strings.ToLower(name)]
	if t == nil {
		return nil, false
	}
	return objectOf{s.o, t}, true
}

// handleToolingQuery serves /tooling/query?q=.
func (o *Org) handleToolingQuery(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	q := r.URL.Query().Get("q")
	parsed, err := soql.Parse(q, o.opts.Now())
	if err != nil {
		writeError(w, soqlError(err))
		return
	}
	o.mu.RLock()
	objects := o.toolingObjects()
	b, err := soql.Bind(parsed, toolingSchema{o, objects})
	if err != nil {
		o.mu.RUnlock()
		writeError(w, soqlError(err))
		return
	}
	t := objects[strings.ToLower(b.Object.Name())]
	c := &cursor{t: t, count: b.Count, tree: colTree(b.Outputs), pageSize: 2000}
	c.rows = o.order(t, b, o.scan(t, b, false))
	c.total = len(c.rows)
	if c.count {
		c.rows = nil
	}
	o.mu.RUnlock()
	o.writePage(w, version, c, 0)
}
