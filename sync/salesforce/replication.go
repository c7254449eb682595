package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"
)

// Updated lists the ids of an object's records changed in [start, end) (getUpdated; a window of up
// to 30 days, whole minutes) and the last moment the answer covers.
func (c *Client) Updated(ctx context.Context, object string, start, end time.Time) (ids []string, latestCovered time.Time, err error) {
	var out struct {
		IDs               []string `json:"ids"`
		LatestDateCovered string   `json:"latestDateCovered"`
	}
	if err := c.replication(ctx, object, "updated", start, end, &out); err != nil {
		return nil, time.Time{}, err
	}
	latest, _ := ParseTime(out.LatestDateCovered)
	return out.IDs, latest, nil
}

// DeletedRecord is one record getDeleted reports.
type DeletedRecord struct {
	ID          string `json:"id"`
	DeletedDate string `json:"deletedDate"`
}

// Deleted lists an object's records deleted in [start, end) (getDeleted), with the earliest moment
// Salesforce still knows deletions for and the last moment the answer covers.
func (c *Client) Deleted(ctx context.Context, object string, start, end time.Time) (recs []DeletedRecord, earliestAvailable, latestCovered time.Time, err error) {
	var out struct {
		DeletedRecords        []DeletedRecord `json:"deletedRecords"`
		EarliestDateAvailable string          `json:"earliestDateAvailable"`
		LatestDateCovered     string          `json:"latestDateCovered"`
	}
	if err := c.replication(ctx, object, "deleted", start, end, &out); err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	earliest, _ := ParseTime(out.EarliestDateAvailable)
	latest, _ := ParseTime(out.LatestDateCovered)
	return out.DeletedRecords, earliest, latest, nil
}

func (c *Client) replication(ctx context.Context, object, which string, start, end time.Time, out any) error {
	q := url.Values{"start": {start.UTC().Format(time.RFC3339)}, "end": {end.UTC().Format(time.RFC3339)}}
	path := "sobjects/" + url.PathEscape(object) + "/" + which + "?" + q.Encode()
	resp, err := c.send(ctx, request{method: http.MethodGet, path: path, idempotent: true, kind: "replication"})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(resp.body, out); err != nil {
		return fmt.Errorf("salesforce: decode %s: %w", which, err)
	}
	return nil
}

// ParseTime reads Salesforce's dateTime formats ("2026-11-24T10:00:00.000+0000" and RFC 3339).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05.000-0700", "2006-01-02T15:04:05.000Z07:00", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised Salesforce datetime %q", s)
}
