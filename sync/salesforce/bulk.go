package salesforce

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// JobInfo is a Bulk API 2.0 job's state.
type JobInfo struct {
	ID                     string  `json:"id"`
	Operation              string  `json:"operation"`
	Object                 string  `json:"object"`
	State                  string  `json:"state"`
	NumberRecordsProcessed int     `json:"numberRecordsProcessed"`
	NumberRecordsFailed    int     `json:"numberRecordsFailed"`
	ErrorMessage           string  `json:"errorMessage"`
	APIVersion             float64 `json:"apiVersion"`
}

// BulkQueryOptions tune a Bulk query.
type BulkQueryOptions struct {
	// MaxRecords per result page (0 = Salesforce's default).
	MaxRecords int
	// OnState is told when the job is created (waiting) and when results start downloading.
	OnState func(state string)
	// PollInterval is the first delay between job state checks (grows to 10 s); default 250 ms.
	PollInterval time.Duration
}

func (c *Client) postJSON(ctx context.Context, path, kind string, in, out any, idempotent bool) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	resp, err := c.send(ctx, request{method: http.MethodPost, path: path, body: raw, idempotent: idempotent, kind: kind})
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return fmt.Errorf("salesforce: decode %s: %w", path, err)
		}
	}
	return nil
}

// waitJob polls a job with growing delays until it is complete, failed or aborted.
func (c *Client) waitJob(ctx context.Context, kind, id string, first time.Duration) (JobInfo, error) {
	delay := first
	if delay <= 0 {
		delay = 250 * time.Millisecond
	}
	for {
		var info JobInfo
		if err := c.getJSON(ctx, "jobs/"+kind+"/"+id, "bulkPoll", &info); err != nil {
			return info, err
		}
		switch info.State {
		case "JobComplete":
			return info, nil
		case "Failed", "Aborted":
			return info, &Error{Code: "BULK_JOB_" + info.State, Message: fmt.Sprintf("Bulk job %s %s: %s", id, info.State, info.ErrorMessage), Kind: Permanent}
		}
		select {
		case <-ctx.Done():
			c.abortJob(context.WithoutCancel(ctx), kind, id)
			return info, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 10*time.Second)
	}
}

func (c *Client) abortJob(ctx context.Context, kind, id string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	raw, _ := json.Marshal(map[string]string{"state": "Aborted"})
	_, _ = c.send(ctx, request{method: http.MethodPatch, path: "jobs/" + kind + "/" + id, body: raw, idempotent: true, kind: "bulk"})
}

// BulkQuery runs a Bulk API 2.0 query job and hands each result page (CSV with its header line) to
// page as it downloads: one page is buffered at most. all selects queryAll.
func (c *Client) BulkQuery(ctx context.Context, soql string, all bool, opts BulkQueryOptions, page func(io.Reader) error) (JobInfo, error) {
	op := "query"
	if all {
		op = "queryAll"
	}
	var job JobInfo
	if err := c.postJSON(ctx, "jobs/query", "bulk", map[string]string{"operation": op, "query": soql, "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}, &job, false); err != nil {
		return job, err
	}
	if opts.OnState != nil {
		opts.OnState("waiting")
	}
	info, err := c.waitJob(ctx, "query", job.ID, opts.PollInterval)
	if err != nil {
		return info, err
	}
	if opts.OnState != nil {
		opts.OnState("loading")
	}
	locator := ""
	for {
		q := url.Values{}
		if locator != "" {
			q.Set("locator", locator)
		}
		if opts.MaxRecords > 0 {
			q.Set("maxRecords", strconv.Itoa(opts.MaxRecords))
		}
		path := "jobs/query/" + job.ID + "/results"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		resp, err := c.send(ctx, request{method: http.MethodGet, path: path, header: http.Header{"Accept": {"text/csv"}}, idempotent: true, kind: "bulkResults", stream: true})
		if err != nil {
			return info, err
		}
		err = page(resp.res.Body)
		resp.res.Body.Close()
		if err != nil {
			return info, err
		}
		locator = resp.header.Get("Sforce-Locator")
		if locator == "" || locator == "null" {
			return info, nil
		}
	}
}

// IngestJob describes a Bulk API 2.0 ingest job.
type IngestJob struct {
	Object              string
	Operation           string // insert, update, upsert, delete
	ExternalIDFieldName string
}

// IngestResult is an ingest job's outcome: per-record rows of the result files, parsed.
type IngestResult struct {
	Job         JobInfo
	Header      []string   // the uploaded columns
	Successful  [][]string // sf__Id, sf__Created, then the uploaded columns
	Failed      [][]string // sf__Id, sf__Error, then the uploaded columns
	Unprocessed [][]string
}

// BulkIngest uploads CSV (header line first) as one job, closes it, waits for it, and reads its results.
func (c *Client) BulkIngest(ctx context.Context, job IngestJob, body []byte) (*IngestResult, error) {
	spec := map[string]string{"object": job.Object, "operation": job.Operation, "contentType": "CSV", "columnDelimiter": "COMMA", "lineEnding": "LF"}
	if job.ExternalIDFieldName != "" {
		spec["externalIdFieldName"] = job.ExternalIDFieldName
	}
	var info JobInfo
	if err := c.postJSON(ctx, "jobs/ingest", "bulk", spec, &info, false); err != nil {
		return nil, err
	}
	if _, err := c.send(ctx, request{method: http.MethodPut, path: "jobs/ingest/" + info.ID + "/batches", body: body,
		header: http.Header{"Content-Type": {"text/csv"}}, idempotent: true, kind: "bulk"}); err != nil {
		c.abortJob(ctx, "ingest", info.ID)
		return nil, err
	}
	raw, _ := json.Marshal(map[string]string{"state": "UploadComplete"})
	if _, err := c.send(ctx, request{method: http.MethodPatch, path: "jobs/ingest/" + info.ID, body: raw, idempotent: true, kind: "bulk"}); err != nil {
		return nil, err
	}
	final, err := c.waitJob(ctx, "ingest", info.ID, 250*time.Millisecond)
	if err != nil {
		return nil, err
	}
	out := &IngestResult{Job: final}
	for _, part := range []struct {
		name string
		dst  *[][]string
	}{{"successfulResults", &out.Successful}, {"failedResults", &out.Failed}, {"unprocessedrecords", &out.Unprocessed}} {
		resp, err := c.send(ctx, request{method: http.MethodGet, path: "jobs/ingest/" + info.ID + "/" + part.name, header: http.Header{"Accept": {"text/csv"}}, idempotent: true, kind: "bulkResults"})
		if err != nil {
			return out, err
		}
		rows, err := csv.NewReader(bytes.NewReader(resp.body)).ReadAll()
		if err != nil && err != io.EOF {
			return out, fmt.Errorf("salesforce: parse %s: %w", part.name, err)
		}
		if len(rows) > 0 {
			if part.name == "unprocessedrecords" || out.Header == nil {
				if part.name == "unprocessedrecords" {
					out.Header = rows[0]
				} else if len(rows[0]) > 2 {
					out.Header = rows[0][2:]
				}
			}
			*part.dst = rows[1:]
		}
	}
	return out, nil
}
