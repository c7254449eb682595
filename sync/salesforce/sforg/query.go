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
	tree     *colNode
	cols     []*soql.Column
	count    bool
	total    int
	pageSize int
	touched  time.Time
}

// locatorTTL is how long an idle query locator stays valid (Salesforce: about 15 minutes).
const locatorTTL = 15 * time.Minute

// runQuery parses, binds and executes a query, returning its full result set.
func (o *Org) runQuery(q string, all bool) (*cursor, *apiError) {
	if strings.TrimSpace(q) == "" {
		return nil, &apiError{Status: 400, Code: "MALFORMED_QUERY", Message: "A query string has to be specified"}
	}
	parsed, err := soql.Parse(q, o.opts.Now())
	if err != nil {
		return nil, soqlError(err)
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	b, err := soql.Bind(parsed, schemaOf{o})
	if err != nil {
		return nil, soqlError(err)
	}
	t := o.table(b.Object.Name())
	c := &cursor{t: t, cols: b.Columns, tree: colTree(b.Columns), count: b.Count}
	for _, r := range t.rows {
		if r.deleted && !all {
			continue
		}
		if b.Match(rowRecord{o, t, r}) {
			c.rows = append(c.rows, r)
		}
	}
	cmp := func(x, y *row) int { return b.Compare(rowRecord{o, t, x}, rowRecord{o, t, y}) }
	if k := max(b.Offset, 0) + b.Limit; b.Sorted() && b.Limit > 0 && k <= 1000 && k < len(c.rows) {
		c.rows = topK(c.rows, k, cmp) // "ORDER BY SystemModstamp DESC LIMIT 1" needs no full sort
	} else if b.Sorted() {
		slices.SortStableFunc(c.rows, cmp)
	}
	if b.Offset > 0 {
		c.rows = c.rows[min(b.Offset, len(c.rows)):]
	}
	if b.Limit >= 0 && b.Limit < len(c.rows) {
		c.rows = c.rows[:b.Limit]
	}
	c.total = len(c.rows)
	if c.count {
		c.rows = nil
	}
	return c, nil
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
	if !ok || convErr != nil || c == nil || off < 0 || off > len(c.rows) {
		writeError(w, &apiError{Status: 400, Code: "INVALID_QUERY_LOCATOR", Message: "invalid query locator"})
		return
	}
	o.writePage(w, version, c, off)
}

// writePage writes one page of a cursor, keeping the cursor for the next page if any.
func (o *Org) writePage(w http.ResponseWriter, version string, c *cursor, off int) {
	end := min(off+c.pageSize, len(c.rows))
	b := make([]byte, 0, 256*(end-off)+128)
	b = fmt.Appendf(b, `{"totalSize":%d,"done":%t`, c.total, end >= len(c.rows))
	if end < len(c.rows) {
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
		b = o.recordJSON(b, version, c.t, c.rows[i], c.tree)
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
