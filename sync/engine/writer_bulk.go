package engine

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/orgclient"
	"pgforce/sync/triggerlog"
)

// bulkWriteMin is the run length (same table and action, each record once) from which ordered writes
// go through one Bulk API 2.0 ingest job instead of collections of 200 when calls are scarce
// (bulkWanted): a large backlog then costs a handful of calls per job instead of one per 200 records.
const bulkWriteMin = 1000

// bulkWanted reports whether long runs go through Bulk API 2.0 jobs now. A job saves calls (a handful
// per run instead of one per 200 records) but waits its turn in Salesforce's queue for seconds, while
// the writer's collection calls in flight send a whole batch in one round trip: Bulk is for when
// calls are scarce, when the admin capped pgforce's daily calls or the org has used half its daily
// allowance (as Salesforce last reported it).
func bulkWanted(c connection.Connection, org orgclient.Org) bool {
	if c.MaxDailyAPICalls != nil {
		return true
	}
	used, max := org.Usage()
	return max > 0 && 2*used >= max
}

// nextBulkRun is nextRun without the collection limit.
func nextBulkRun(b []*change) []*change {
	seen := map[int64]bool{}
	n := 0
	for n < len(b) {
		ch := b[n]
		if ch.table != b[0].table || ch.action != b[0].action || seen[ch.recordID] {
			break
		}
		seen[ch.recordID] = true
		n++
	}
	return b[:n]
}

// bulkEligible: a job's results come back unordered and are matched to rows by a key, so updates and
// deletes (by Id) and inserts upserted by an external id can use Bulk; plain inserts cannot.
func bulkEligible(wt *writable, action triggerlog.Action) bool {
	if wt == nil {
		return false
	}
	return action == triggerlog.Update || action == triggerlog.Delete || (action == triggerlog.Insert && wt.m.Config.UpsertField != "")
}

// bulkWrite sends one run as an ingest job and returns each record's result in send order.
func bulkWrite(ctx context.Context, org orgclient.Org, m mapping.Mapping, action triggerlog.Action, recs []map[string]any, ids []string) ([]orgclient.SaveResult, error) {
	op, key := "", "Id"
	switch action {
	case triggerlog.Insert:
		op, key = "upsert", m.Config.UpsertField
	case triggerlog.Update:
		op = "update"
	case triggerlog.Delete:
		op = "delete"
		recs = make([]map[string]any, len(ids))
		for i, id := range ids {
			recs[i] = map[string]any{"Id": id}
		}
	}
	body, keys, err := bulkCSV(recs, key)
	if err != nil {
		return nil, err
	}
	res, err := org.BulkWrite(ctx, m.Object, op, map[bool]string{true: key}[op == "upsert"], body)
	if err != nil {
		return nil, err
	}
	col := slices.Index(res.Header, key)
	if col < 0 {
		return nil, fmt.Errorf("salesforce: the ingest results have no %s column", key)
	}
	byKey := map[string]orgclient.SaveResult{}
	for _, row := range res.Successful {
		if len(row) > col+2 {
			byKey[row[col+2]] = orgclient.SaveResult{ID: row[0], Success: true, Created: row[1] == "true"}
		}
	}
	for _, row := range res.Failed {
		if len(row) > col+2 {
			code, msg, _ := strings.Cut(row[1], ":")
			byKey[row[col+2]] = orgclient.SaveResult{ID: row[0], Errors: []orgclient.RecordError{{StatusCode: code, Message: strings.TrimSpace(msg)}}}
		}
	}
	out := make([]orgclient.SaveResult, len(keys))
	for i, k := range keys {
		r, ok := byKey[k]
		if !ok {
			r = orgclient.SaveResult{Errors: []orgclient.RecordError{{StatusCode: orgclient.BulkUnprocessed, Message: "The Bulk API job did not process this record; it is sent again."}}}
		}
		out[i] = r
	}
	return out, nil
}

// bulkCSV writes records as a Bulk API 2.0 CSV (nulls as #N/A, parent references as
// Relationship.Field columns) and returns each record's key value, which must be unique.
func bulkCSV(recs []map[string]any, key string) ([]byte, []string, error) {
	flat := make([]map[string]string, len(recs))
	cols := map[string]bool{}
	keys := make([]string, len(recs))
	seen := map[string]bool{}
	for i, rec := range recs {
		flat[i] = map[string]string{}
		for name, v := range rec {
			if ref, ok := v.(map[string]any); ok {
				for f, fv := range ref {
					flat[i][name+"."+f] = csvValue(fv)
					cols[name+"."+f] = true
				}
				continue
			}
			flat[i][name] = csvValue(v)
			cols[name] = true
		}
		k := flat[i][key]
		if k == "" || k == "#N/A" || seen[k] {
			return nil, nil, fmt.Errorf("bulk write: record %d has no unique %s", i, key)
		}
		seen[k], keys[i] = true, k
	}
	header := make([]string, 0, len(cols))
	for c := range cols {
		header = append(header, c)
	}
	slices.Sort(header)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(header)
	row := make([]string, len(header))
	for _, rec := range flat {
		for j, c := range header {
			v, ok := rec[c]
			if !ok {
				v = "" // not in this record: left unchanged
			}
			row[j] = v
		}
		_ = w.Write(row)
	}
	w.Flush()
	return buf.Bytes(), keys, w.Error()
}

func csvValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "#N/A" // Bulk API 2.0's null
	case bool:
		return strconv.FormatBool(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case json.Number:
		return x.String()
	case string:
		return x
	}
	return fmt.Sprint(v)
}
