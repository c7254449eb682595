package sforg

import (
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"pgforce/sync/salesforce/soql"
)

// cursor is a query's result set, paged through nextRecordsUrl locators.
type cursor struct {
	id       string
	t        *table
	rows     []*row
	agg      []soql.AggRow // an aggregate query's rows (rows is empty then)
	tree     *colNode
	cols     []*soql.Column
	count    bool
	total    int
	pageSize int
	touched  time.Time
	// children holds each parent-to-child subquery's records by parent id, sorted and limited.
	children map[*soql.Output]map[string][]*row
	subTrees map[*soql.Output]*colNode
}

// locatorTTL is how long an idle query locator stays valid (Salesforce: about 15 minutes).
const locatorTTL = 15 * time.Minute

// parseQuery parses and binds a query against the objects the integration user can see.
func (o *Org) parseQuery(q string) (*soql.Bound, *apiError) {
	if strings.TrimSpace(q) == "" {
		return nil, &apiError{Status: 400, Code: "MALFORMED_QUERY", Message: "A query string has to be specified"}
	}
	parsed, err := soql.Parse(q, o.opts.Now())
	if err != nil {
		return nil, soqlError(err)
	}
	b, err := soql.Bind(parsed, schemaOf{o})
	if err != nil {
		return nil, soqlError(err)
	}
	return b, nil
}

// runQuery parses, binds and executes a query, returning its full result set.
func (o *Org) runQuery(q string, all bool) (*cursor, *apiError) {
	o.mu.RLock()
	defer o.mu.RUnlock()
	b, err := o.parseQuery(q)
	if err != nil {
		return nil, err
	}
	t := o.table(b.Object.Name())
	c := &cursor{t: t, cols: b.Columns, count: b.Count}
	rows := o.scan(t, b, all)
	if b.Aggregated {
		recs := make([]soql.Record, len(rows))
		for i, r := range rows {
			recs[i] = rowRecord{o, t, r}
		}
		c.agg = b.Aggregate(recs)
		c.total = len(c.agg)
		if c.count {
			c.agg = nil
		}
		return c, nil
	}
	c.rows = o.order(t, b, rows)
	c.total = len(c.rows)
	if c.count {
		c.rows = nil
	}
	c.tree = colTree(b.Outputs)
	c.children, c.subTrees = map[*soql.Output]map[string][]*row{}, map[*soql.Output]*colNode{}
	o.childIndexes(b, all, c.children)
	return c, nil
}

// scan returns the rows of t a bound query matches: live ones (all: deleted too), that the
// integration user sees, in its scope. Semi-joins are run first.
func (o *Org) scan(t *table, b *soql.Bound, all bool) []*row {
	for _, sj := range b.SemiJoins() {
		st := o.table(sj.Sub.Object.Name())
		var vals []any
		for _, r := range o.order(st, sj.Sub, o.scan(st, sj.Sub, false)) {
			vals = append(vals, rowRecord{o, st, r}.Value(sj.Sub.Columns[0]))
		}
		sj.Set(vals)
	}
	ownerIdx, hasOwner := -1, false
	if i, f := t.def.field("OwnerId"); f != nil {
		ownerIdx, hasOwner = i, true
	}
	mine := b.Scope == "mine" && hasOwner
	var out []*row
	for _, r := range o.candidates(t, b) {
		if (r.deleted && !all) || (mine && r.val(ownerIdx) != o.userID) || !o.sees(t, r) {
			continue
		}
		if b.Match(rowRecord{o, t, r}) {
			out = append(out, r)
		}
	}
	return out
}

// candidates returns the rows of t a query may match: those of the ids its WHERE requires, from
// the id index, in id (creation) order, as Salesforce answers "Id IN (300 ids)" from its index
// (scanning every record for each of a batch's by-id queries made the conflict pre-check of 2,000
// records against 100,000 cost the org more than its round trip); all of them otherwise.
func (o *Org) candidates(t *table, b *soql.Bound) []*row {
	ids, ok := b.IDs()
	if !ok {
		return t.rows
	}
	seen := make(map[string]bool, len(ids))
	rows := make([]*row, 0, len(ids))
	for _, id := range ids {
		key := normalizeID(id)
		if r := t.lookup(key); r != nil && !seen[key] {
			seen[key] = true
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(x, y *row) int { return strings.Compare(t.id(x), t.id(y)) })
	return rows
}

// order sorts matched rows by ORDER BY and applies OFFSET and LIMIT.
func (o *Org) order(t *table, b *soql.Bound, rows []*row) []*row {
	cmp := func(x, y *row) int { return b.Compare(rowRecord{o, t, x}, rowRecord{o, t, y}) }
	if k := max(b.Offset, 0) + b.Limit; b.Sorted() && b.Limit > 0 && k <= 1000 && k < len(rows) {
		rows = topK(rows, k, cmp) // "ORDER BY SystemModstamp DESC LIMIT 1" needs no full sort
	} else if b.Sorted() {
		slices.SortStableFunc(rows, cmp)
	}
	if b.Offset > 0 {
		rows = rows[min(b.Offset, len(rows)):]
	}
	if b.Limit >= 0 && b.Limit < len(rows) {
		rows = rows[:b.Limit]
	}
	return rows
}

// childIndexes runs a query's parent-to-child subqueries (nested ones too): each child object is
// read once and its matching records kept by parent id, sorted and limited per parent.
func (o *Org) childIndexes(b *soql.Bound, all bool, into map[*soql.Output]map[string][]*row) {
	for _, out := range b.Outputs {
		if out.Sub == nil {
			continue
		}
		ct := o.table(out.Sub.Object.Name())
		byParent := map[string][]*row{}
		for _, r := range o.scan(ct, out.Sub, all) {
			if id, _ := r.val(out.Link.Index).(string); id != "" {
				byParent[id] = append(byParent[id], r)
			}
		}
		for id, rows := range byParent {
			byParent[id] = o.order(ct, out.Sub, rows)
		}
		into[out] = byParent
		o.childIndexes(out.Sub, all, into)
	}
}

// topK returns the first k rows in cmp order, as a stable sort followed by [:k] would.
func topK(rows []*row, k int, cmp func(x, y *row) int) []*row {
	top := make([]*row, 0, k+1)
	for _, r := range rows {
		if len(top) == k && cmp(r, top[k-1]) >= 0 {
			continue
		}
		// After the rows equal to r: the earlier row stays first, as in a stable sort.
		i := sort.Search(len(top), func(i int) bool { return cmp(top[i], r) > 0 })
		top = slices.Insert(top, i, r)
		if len(top) > k {
			top = top[:k]
		}
	}
	return top
}

func soqlError(err error) *apiError {
	if e, ok := err.(*soql.Error); ok {
		return &apiError{Status: 400, Code: e.Code, Message: e.Message}
	}
	return &apiError{Status: 400, Code: "MALFORMED_QUERY", Message: err.Error()}
}

// batchSize reads Sforce-Query-Options: batchSize=N (200..2000, advisory).
func (o *Org) batchSize(r *http.Request) int {
	n := o.opts.QueryPageSize
	for _, part := range strings.Split(r.Header.Get("Sforce-Query-Options"), ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && strings.EqualFold(k, "batchSize") {
			if x, err := strconv.Atoi(v); err == nil {
				n = min(max(x, 200), 2000)
			}
		}
	}
	return n
}

// handleQuery serves /query and /queryAll.
func (o *Org) handleQuery(all bool) func(http.ResponseWriter, *http.Request, *session) {
	return func(w http.ResponseWriter, r *http.Request, _ *session) {
		version, _ := apiVersion(r.PathValue("version"))
		q := r.URL.Query().Get("q")
		c, err := o.runQuery(q, all)
		if err != nil {
			writeError(w, err)
			return
		}
		c.pageSize = o.batchSize(r)
		o.writePage(w, version, c, 0)
	}
}

// handleQueryMore serves /query/{locator} and /queryAll/{locator}.
func (o *Org) handleQueryMore(w http.ResponseWriter, r *http.Request, _ *session) {
	version, _ := apiVersion(r.PathValue("version"))
	loc := r.PathValue("locator")
	id, offStr, ok := strings.Cut(loc, "-")
	off, convErr := strconv.Atoi(offStr)
	o.mu.Lock()
	c := o.cursors[id]
	if c != nil && o.opts.Now().Sub(c.touched) > locatorTTL {
		delete(o.cursors, id)
		c = nil
	}
	if c != nil {
		c.touched = o.opts.Now()
	}
	o.mu.Unlock()
	if !ok || convErr != nil || c == nil || off < 0 || off > max(len(c.rows), len(c.agg)) {
		writeError(w, &apiError{Status: 400, Code: "INVALID_QUERY_LOCATOR", Message: "invalid query locator"})
		return
	}
	o.writePage(w, version, c, off)
}

// writePage writes one page of a cursor, keeping the cursor for the next page if any.
func (o *Org) writePage(w http.ResponseWriter, version string, c *cursor, off int) {
	n := len(c.rows)
	if c.agg != nil {
		n = len(c.agg)
	}
	end := min(off+c.pageSize, n)
	b := make([]byte, 0, 256*(end-off)+128)
	b = fmt.Appendf(b, `{"totalSize":%d,"done":%t`, c.total, end >= n)
	if end < n {
		o.keepCursor(c)
		b = fmt.Appendf(b, `,"nextRecordsUrl":"%s"`, o.path(fmt.Sprintf("/services/data/v%s/query/%s-%d", version, c.id, end)))
	} else if c.id != "" {
		o.mu.Lock()
		delete(o.cursors, c.id)
		o.mu.Unlock()
	}
	b = append(b, `,"records":[`...)
	o.mu.RLock()
	for i := off; i < end; i++ {
		if i > off {
			b = append(b, ',')
		}
		if c.agg != nil {
			b = aggregateJSON(b, c.agg[i])
			continue
		}
		b = o.recordJSON(b, version, c, c.t, c.rows[i], c.tree)
	}
	o.mu.RUnlock()
	b = append(b, "]}\n"...)
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	_, _ = w.Write(b)
}

// keepCursor registers a cursor under a query locator id ("01g" + 15 characters, like Salesforce's).
func (o *Org) keepCursor(c *cursor) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c.touched = o.opts.Now()
	if c.id == "" {
		o.pruneCursors()
		c.id = newID("01g", uint64(len(o.cursors))+uint64(o.opts.Now().UnixNano()))
		o.cursors[c.id] = c
	}
}

// pruneCursors drops expired locators (and the oldest beyond a cap, as Salesforce limits open ones).
func (o *Org) pruneCursors() {
	now := o.opts.Now()
	for id, c := range o.cursors {
		if now.Sub(c.touched) > locatorTTL {
			delete(o.cursors, id)
		}
	}
}
