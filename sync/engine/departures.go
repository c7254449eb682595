package engine

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/apply"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/orgclient"
)

// A read-write mapping's rows whose records left the table while application changes of them waited
// are kept back (apply/departures.go); its polls and gap refreshes remove them once nothing of them
// waits and Salesforce confirms the record is still out (out of the filter, or gone). The worker
// remembers whether its mapping has such rows, so that a poll that finds nothing still costs no
// query for them (unknown until its first poll looks).
type departing struct {
	known, any bool
}

// settleDepartures removes, in a poll's or a refresh's transaction (marked with AsSync), the kept-back
// rows of m that no longer hold a change waiting and whose records Salesforce does not return with
// the mapping's filter; it returns how many went, and whether rows remain kept back.
func (w *worker) settleDepartures(ctx context.Context, tx pgx.Tx, org orgclient.Org, m mapping.Mapping, tgt apply.Target) (gone int64, remain bool, err error) {
	if tgt.Waiting == nil || (w.departing.known && !w.departing.any) {
		return 0, false, nil
	}
	ds, err := apply.Departures(ctx, tx, tgt, m.ID)
	if err != nil {
		return 0, false, err
	}
	var settled []string
	for _, d := range ds {
		if !d.Waits {
			settled = append(settled, d.SFID)
		}
	}
	remain = len(ds) > len(settled)
	if len(settled) == 0 {
		return 0, remain, nil
	}
	back := []string{}
	for i := 0; i < len(settled); i += gapBatch {
		batch := settled[i:min(i+gapBatch, len(settled))]
		soql := "SELECT Id FROM " + m.Object + whereClause("Id IN ('"+strings.Join(batch, "','")+"')", m.Config.Filter())
		if _, err := org.Query(ctx, soql, false, func(rec map[string]json.RawMessage) error {
			var id string
			if err := json.Unmarshal(rec["Id"], &id); err != nil {
				return err
			}
			back = append(back, id)
			return nil
		}); err != nil {
			return 0, remain, err
		}
	}
	gone, err = apply.Depart(ctx, tx, tgt, m.ID, settled, back)
	return gone, remain, err
}
