package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Record is a record as Salesforce returns it: raw JSON per field (parents nested), so callers can
// convert by describe type without rounding.
type Record map[string]json.RawMessage

// ID returns the record's Id.
func (r Record) ID() string {
	var s string
	_ = json.Unmarshal(r["Id"], &s)
	return s
}

type queryPage struct {
	TotalSize      int      `json:"totalSize"`
	Done           bool     `json:"done"`
	NextRecordsURL string   `json:"nextRecordsUrl"`
	Records        []Record `json:"records"`
}

// QueryOption tunes a query.
type QueryOption func(*http.Header)

// BatchSize asks for pages of n records (Sforce-Query-Options; advisory, 200..2000).
func BatchSize(n int) QueryOption {
	return func(h *http.Header) { h.Set("Sforce-Query-Options", "batchSize="+strconv.Itoa(n)) }
}

// Query runs SOQL and calls fn for each record, following nextRecordsUrl page by page (one page in
// memory at a time). It returns totalSize. all selects queryAll (deleted and archived records too).
func (c *Client) Query(ctx context.Context, soql string, all bool, fn func(Record) error, opts ...QueryOption) (int, error) {
	h := http.Header{}
	for _, o := range opts {
		o(&h)
	}
	resource := "query"
	if all {
		resource = "queryAll"
	}
	return c.query(ctx, resource, soql, h, fn)
}

// query runs SOQL on a query resource (query, queryAll, tooling/query), page by page. The next page
// is fetched while fn consumes the current one (at most two pages in memory): with an org 100-300 ms
// away, a poll of many pages then costs its calls' latency once rather than once per page.
func (c *Client) query(ctx context.Context, resource, soql string, h http.Header, fn func(Record) error) (int, error) {
	return c.readPages(ctx, resource+"?q="+url.QueryEscape(soql), "query", h, fn)
}

// readPages calls fn for each record of the pages from path on, following nextRecordsUrl, and
// returns totalSize; kind names the first call (query or queryMore) in the client's statistics.
func (c *Client) readPages(ctx context.Context, path, kind string, h http.Header, fn func(Record) error) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	pages := make(chan fetchedPage) // unbuffered: one page ahead of the caller, not two
	go c.fetchPages(ctx, path, kind, h, pages)
	defer func() {
		cancel()
		for range pages { // the fetcher stops at the cancel; wait for it
		}
	}()
	total := 0
	for p := range pages {
		if p.err != nil {
			return total, p.err
		}
		total = p.page.TotalSize
		for _, r := range p.page.Records {
			if err := fn(r); err != nil {
				return total, err
			}
		}
	}
	return total, nil
}

type fetchedPage struct {
	page queryPage
	err  error
}

// fetchPages sends a query's pages in order, then closes pages; it stops at the first error (sent)
// or when ctx ends.
func (c *Client) fetchPages(ctx context.Context, path, kind string, h http.Header, pages chan<- fetchedPage) {
	defer close(pages)
	for {
		var p fetchedPage
		resp, err := c.send(ctx, request{method: http.MethodGet, path: path, header: h, idempotent: true, kind: kind})
		if err == nil {
			if err = json.Unmarshal(resp.body, &p.page); err != nil {
				err = fmt.Errorf("salesforce: decode query page: %w", err)
			}
		}
		p.err = err
		select {
		case pages <- p:
		case <-ctx.Done():
			return
		}
		if err != nil || p.page.Done || p.page.NextRecordsURL == "" {
			return
		}
		path, kind = c.answered(p.page.NextRecordsURL), "queryMore"
	}
}

// Count runs a SELECT COUNT() query.
func (c *Client) Count(ctx context.Context, soql string) (int, error) {
	return c.Query(ctx, soql, false, func(Record) error { return nil })
}

// Search runs SOSL (FIND {…} …) and returns the records found, in Salesforce's order.
func (c *Client) Search(ctx context.Context, sosl string) ([]Record, error) {
	var out struct {
		SearchRecords []Record `json:"searchRecords"`
	}
	if err := c.getJSON(ctx, "search?q="+url.QueryEscape(sosl), "search", &out); err != nil {
		return nil, err
	}
	return out.SearchRecords, nil
}

// ToolingQuery runs SOQL against the Tooling API (metadata objects such as PlatformEventChannelMember).
// It follows nextRecordsUrl as Query does.
func (c *Client) ToolingQuery(ctx context.Context, soql string, fn func(Record) error) (int, error) {
	return c.query(ctx, "tooling/query", soql, http.Header{}, fn)
}

// FirstPage is one query of a QueryBatch: its first page of records, and where the rest is.
type FirstPage struct {
	Records []Record
	Total   int
	// Next is the nextRecordsUrl of the rest (QueryMore reads it); "" when the page is all.
	Next string
	Err  error // the query's own failure (a bad field, say); the others still answered
}

// QueryBatch runs up to MaxSubrequests queries in one API call (a /composite request of GET query
// subrequests, allOrNone false) and returns each one's first page, in order. A query with more
// records than a page says where the rest is: read it with QueryMore.
func (c *Client) QueryBatch(ctx context.Context, soqls []string, all []bool) ([]FirstPage, error) {
	subs := make([]Subrequest, len(soqls))
	for i, q := range soqls {
		resource := "query"
		if all[i] {
			resource = "queryAll"
		}
		subs[i] = Subrequest{Method: http.MethodGet, URL: resource + "?q=" + url.QueryEscape(q), ReferenceID: "q" + strconv.Itoa(i)}
	}
	answers, err := c.Composite(ctx, false, subs)
	if err != nil {
		return nil, err
	}
	if len(answers) != len(subs) {
		return nil, fmt.Errorf("salesforce: composite query batch: %d answers to %d queries", len(answers), len(subs))
	}
	out := make([]FirstPage, len(subs))
	for i, a := range answers {
		if a.HTTPStatusCode >= 300 {
			out[i].Err = parseError(a.HTTPStatusCode, a.Body)
			continue
		}
		var page queryPage
		if err := json.Unmarshal(a.Body, &page); err != nil {
			out[i].Err = fmt.Errorf("salesforce: decode query page: %w", err)
			continue
		}
		out[i] = FirstPage{Records: page.Records, Total: page.TotalSize}
		if !page.Done {
			out[i].Next = page.NextRecordsURL
		}
	}
	return out, nil
}

// QueryMore reads the pages of a query from a nextRecordsUrl on (QueryBatch's FirstPage.Next),
// calling fn for each record.
func (c *Client) QueryMore(ctx context.Context, next string, fn func(Record) error) error {
	_, err := c.readPages(ctx, c.answered(next), "queryMore", http.Header{}, fn)
	return err
}
