package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// RecordError is one reason Salesforce refused a record.
type RecordError struct {
	StatusCode string   `json:"statusCode"`
	Message    string   `json:"message"`
	Fields     []string `json:"fields"`
}

// SaveResult is one record's outcome in a collection call.
type SaveResult struct {
	ID      string        `json:"id"`
	Success bool          `json:"success"`
	Created bool          `json:"created"`
	Errors  []RecordError `json:"errors"`
}

// CollectionSize is how many records one sObject Collections call takes.
const CollectionSize = 200

// chunked runs call on consecutive chunks of n items and concatenates the results in order.
func chunked[T any](n int, items []T, call func([]T) ([]SaveResult, error)) ([]SaveResult, error) {
	out := make([]SaveResult, 0, len(items))
	for start := 0; start < len(items); start += n {
		res, err := call(items[start:min(start+n, len(items))])
		if err != nil {
			return out, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func (c *Client) collection(ctx context.Context, method, path string, body any, idempotent bool) ([]SaveResult, error) {
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("salesforce: encode records: %w", err)
		}
	}
	resp, err := c.send(ctx, request{method: method, path: path, body: raw, idempotent: idempotent, kind: "composite"})
	if err != nil {
		return nil, err
	}
	var res []SaveResult
	if err := json.Unmarshal(resp.body, &res); err != nil {
		return nil, fmt.Errorf("salesforce: decode save results: %w", err)
	}
	return res, nil
}

func withType(object string, recs []map[string]any) []map[string]any {
	out := make([]map[string]any, len(recs))
	for i, r := range recs {
		m := make(map[string]any, len(r)+1)
		for k, v := range r {
			m[k] = v
		}
		m["attributes"] = map[string]string{"type": object}
		out[i] = m
	}
	return out
}

// CreateMany inserts records, 200 per call; results follow the input order. A create is not resent
// after a network failure (it may have been applied): use UpsertMany with an external id for that.
func (c *Client) CreateMany(ctx context.Context, object string, recs []map[string]any, allOrNone bool) ([]SaveResult, error) {
	return chunked(CollectionSize, recs, func(part []map[string]any) ([]SaveResult, error) {
		return c.collection(ctx, http.MethodPost, "composite/sobjects", map[string]any{"allOrNone": allOrNone, "records": withType(object, part)}, false)
	})
}

// UpdateMany updates records (each has "Id"), 200 per call.
func (c *Client) UpdateMany(ctx context.Context, object string, recs []map[string]any, allOrNone bool) ([]SaveResult, error) {
	return chunked(CollectionSize, recs, func(part []map[string]any) ([]SaveResult, error) {
		return c.collection(ctx, http.MethodPatch, "composite/sobjects", map[string]any{"allOrNone": allOrNone, "records": withType(object, part)}, true)
	})
}

// UpsertMany creates or updates records by an external id field, 200 per call; safe to resend.
func (c *Client) UpsertMany(ctx context.Context, object, extIDField string, recs []map[string]any, allOrNone bool) ([]SaveResult, error) {
	return chunked(CollectionSize, recs, func(part []map[string]any) ([]SaveResult, error) {
		return c.collection(ctx, http.MethodPatch, "composite/sobjects/"+url.PathEscape(object)+"/"+url.PathEscape(extIDField),
			map[string]any{"allOrNone": allOrNone, "records": withType(object, part)}, true)
	})
}

// DeleteMany deletes records by id, 200 per call.
func (c *Client) DeleteMany(ctx context.Context, ids []string, allOrNone bool) ([]SaveResult, error) {
	return chunked(CollectionSize, ids, func(part []string) ([]SaveResult, error) {
		return c.collection(ctx, http.MethodDelete, fmt.Sprintf("composite/sobjects?ids=%s&allOrNone=%t", strings.Join(part, ","), allOrNone), nil, true)
	})
}

// Create inserts one record and returns its id.
func (c *Client) Create(ctx context.Context, object string, rec map[string]any) (string, error) {
	raw, _ := json.Marshal(rec)
	resp, err := c.send(ctx, request{method: http.MethodPost, path: "sobjects/" + url.PathEscape(object), body: raw, kind: "sobject"})
	if err != nil {
		return "", err
	}
	var out SaveResult
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return "", fmt.Errorf("salesforce: decode create result: %w", err)
	}
	return out.ID, nil
}

// Update changes one record.
func (c *Client) Update(ctx context.Context, object, id string, fields map[string]any) error {
	raw, _ := json.Marshal(fields)
	_, err := c.send(ctx, request{method: http.MethodPatch, path: "sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(id), body: raw, idempotent: true, kind: "sobject"})
	return err
}

// UpdateIfUnmodifiedSince changes one record unless it was modified after since (Salesforce's
// conditional request, If-Unmodified-Since): a record changed meanwhile is refused with 412
// ENTITY_FAILED_IFLASTMODIFIED_ON_UPDATE_CHECK and left as it is.
func (c *Client) UpdateIfUnmodifiedSince(ctx context.Context, object, id string, fields map[string]any, since time.Time) error {
	raw, _ := json.Marshal(fields)
	h := http.Header{}
	h.Set("If-Unmodified-Since", since.UTC().Format(http.TimeFormat))
	_, err := c.send(ctx, request{method: http.MethodPatch, path: "sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(id), body: raw, header: h, idempotent: true, kind: "sobject"})
	return err
}

// Delete deletes one record.
func (c *Client) Delete(ctx context.Context, object, id string) error {
	_, err := c.send(ctx, request{method: http.MethodDelete, path: "sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(id), idempotent: true, kind: "sobject"})
	return err
}

// Get reads one record (all fields, or the listed ones).
func (c *Client) Get(ctx context.Context, object, id string, fields ...string) (Record, error) {
	path := "sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(id)
	if len(fields) > 0 {
		path += "?fields=" + url.QueryEscape(strings.Join(fields, ","))
	}
	var rec Record
	err := c.getJSON(ctx, path, "sobject", &rec)
	return rec, err
}

// Upsert creates or updates one record by external id; created reports which.
func (c *Client) Upsert(ctx context.Context, object, extField, extValue string, fields map[string]any) (id string, created bool, err error) {
	raw, _ := json.Marshal(fields)
	resp, err := c.send(ctx, request{method: http.MethodPatch, path: "sobjects/" + url.PathEscape(object) + "/" + url.PathEscape(extField) + "/" + url.PathEscape(extValue),
		body: raw, idempotent: true, kind: "sobject"})
	if err != nil {
		return "", false, err
	}
	if resp.status == http.StatusNoContent {
		return "", false, nil
	}
	var out SaveResult
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return "", false, fmt.Errorf("salesforce: decode upsert result: %w", err)
	}
	return out.ID, resp.status == http.StatusCreated, nil
}

// Subrequest is one member of a /composite request. URL is relative to the API version
// ("sobjects/Contact"); it and Body may refer to earlier results as "@{referenceId.field}".
type Subrequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	ReferenceID string `json:"referenceId"`
	Body        any    `json:"body,omitempty"`
}

// SubResponse is a subrequest's answer.
type SubResponse struct {
	Body           json.RawMessage   `json:"body"`
	HTTPHeaders    map[string]string `json:"httpHeaders"`
	HTTPStatusCode int               `json:"httpStatusCode"`
	ReferenceID    string            `json:"referenceId"`
}

// MaxSubrequests is how many subrequests one /composite call may carry.
const MaxSubrequests = 25

// Composite runs up to 25 dependent subrequests in one API call (POST /composite): later ones use
// earlier results through references, and allOrNone makes them one transaction. A subrequest's
// failure is in its SubResponse, not the error.
func (c *Client) Composite(ctx context.Context, allOrNone bool, subs []Subrequest) ([]SubResponse, error) {
	if len(subs) == 0 || len(subs) > MaxSubrequests {
		return nil, fmt.Errorf("salesforce: a composite request carries 1 to %d subrequests, not %d", MaxSubrequests, len(subs))
	}
	prefix := "/services/data/v" + c.version + "/"
	req := struct {
		AllOrNone        bool         `json:"allOrNone"`
		CompositeRequest []Subrequest `json:"compositeRequest"`
	}{AllOrNone: allOrNone}
	for _, s := range subs {
		if !strings.HasPrefix(s.URL, "/services/data/") {
			s.URL = prefix + strings.TrimPrefix(s.URL, "/")
		}
		req.CompositeRequest = append(req.CompositeRequest, s)
	}
	var out struct {
		CompositeResponse []SubResponse `json:"compositeResponse"`
	}
	if err := c.postJSON(ctx, "composite", "composite", req, &out, false); err != nil {
		return nil, err
	}
	return out.CompositeResponse, nil
}
