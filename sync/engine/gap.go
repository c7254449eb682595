package engine

import (
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/orgclient"
	"pgforce/sync/store"
)

// gapQueue holds the records gap events named, for the worker to read by id: a change Salesforce
// made in its database (an archive or cleanup job) keeps SystemModstamp, so no poll finds it.
type gapQueue struct {
	mu     sync.Mutex
	ids    map[string]bool // record id → named by a GAP_DELETE (its row goes if Salesforce has no record)
	replay int64
}

// sfID matches a record id; anything else in a gap event is ignored rather than put in SOQL.
var sfID = regexp.MustCompile(`^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$`)

func (q *gapQueue) add(changeType string, ids []string, replay int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ids == nil {
		q.ids = map[string]bool{}
	}
	for _, id := range ids {
		if sfID.MatchString(id) {
			q.ids[id] = q.ids[id] || changeType == "GAP_DELETE"
		}
	}
	q.replay = max(q.replay, replay)
}

func (q *gapQueue) pending() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.ids) > 0
}

// take empties the queue; put gives back what could not be fetched.
func (q *gapQueue) take() (map[string]bool, int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	ids, replay := q.ids, q.replay
	q.ids, q.replay = nil, 0
	return ids, replay
}

func (q *gapQueue) put(ids map[string]bool, replay int64) {
	for id, deleted := range ids {
		typ := ""
		if deleted {
			typ = "GAP_DELETE"
		}
		q.add(typ, []string{id}, replay)
	}
}

// gapBatch is how many records one query reads by id (the SOQL stays far below its length limit).
const gapBatch = 200

// refreshGaps reads the records gap events named, by id, and writes them whatever their
// SystemModstamp; a record named by GAP_DELETE that Salesforce no longer has at all loses its row.
// The replay id of the gap event is stored with the rows.
func (w *worker) refreshGaps(ctx context.Context, org orgclient.Org, c connection.Connection, m mapping.Mapping) error {
	ids, replay := w.gaps.take()
	err := w.refresh(ctx, org, c, m, ids, replay)
	if err != nil {
		w.gaps.put(ids, replay)
	}
	return err
}

func (w *worker) refresh(ctx context.Context, org orgclient.Org, c connection.Connection, m mapping.Mapping, ids map[string]bool, replay int64) error {
	e := w.s.e
	tgt := target(c, m)
	tgt.Waiting = pollWaiting(c, m) // rows with changes not yet written keep what the policy keeps
	all := hasField(m, "IsDeleted")
	sorted := slices.Sorted(maps.Keys(ids))
	unlock := w.s.tables.lock(m.Table)
	defer unlock()
	var upserted, deleted, deferred int64
	after := w.departing
	for len(sorted) > 0 {
		batch := sorted[:min(gapBatch, len(sorted))]
		sorted = sorted[len(batch):]
		// The rows of records the read does not return go: deleted ones (gone for good), and with a
		// record filter any named record that no longer matches it.
		var gone []string
		for _, id := range batch {
			if ids[id] || m.Config.Filter() != "" {
				gone = append(gone, id)
			}
		}
		soql := "SELECT " + tgt.SelectList() + " FROM " + m.Object + whereClause("Id IN ('"+strings.Join(batch, "','")+"')", m.Config.Filter())
		err := store.Tx(ctx, e.opts.Pool, func(tx pgx.Tx) error {
			if err := apply.AsSync(ctx, tx); err != nil {
				return err
			}
			if err := e.leases.Check(ctx, tx, c.ID); err != nil {
				return err
			}
			var res apply.Result
			if _, err := queryInto(tgt, records(ctx, org, soql, all, nil), func(rows io.Reader) (err error) {
				res, err = apply.Refresh(ctx, tx, tgt, rows, gone)
				return err
			}); err != nil {
				return err
			}
			upserted, deleted, deferred = upserted+res.Upserted, deleted+res.Deleted, deferred+res.Deferred
			if res.Deferred > 0 {
				w.departing.any = true // so that settleDepartures looks
			}
			gone, remain, err := w.settleDepartures(ctx, tx, org, m, tgt)
			if err != nil {
				return err
			}
			if tgt.Waiting != nil {
				after = departing{known: true, any: remain}
			}
			deleted += gone
			ok, err := mapping.SaveRefresh(ctx, tx, m.ID, replay)
			if err != nil {
				return err
			}
			if !ok {
				return errAborted // reloaded or edited meanwhile
			}
			return addStats(ctx, tx, c.ID, m.ID, "sf_to_pg", res.Upserted+res.Deleted, 0, e.opts.Now())
		})
		if err != nil {
			return err
		}
		w.departing = after // committed: what the database holds now
	}
	msg := fmt.Sprintf("Salesforce reported %d %s records changed outside its change events (gap event): read them by id, %d updated and %d deleted",
		len(ids), m.Object, upserted, deleted)
	if deferred > 0 {
		msg += fmt.Sprintf("; %d rows whose records are gone or no longer match the record filter stay while application changes of them wait to be written (they leave once written or set aside)", deferred)
	}
	w.event(ctx, m, "info", "gap", msg)
	return nil
}
