package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/triggerlog"
)

// CountCheck is the cheap check of every poll cycle: Salesforce's record count (filter applied)
// against the table's rows that have an sfid, plus deletes waiting to be written (their rows are gone,
// their records not yet). Records Salesforce changed after the high-water mark explain a difference up
// to their number; Drift is what they cannot explain (0 when the counts agree).
type CountCheck struct {
	SFRecords int64 // records in Salesforce now
	PGRows    int64 // rows with an sfid
	Waiting   int64 // deletes waiting to be written to Salesforce
	Changed   int64 // records (deleted ones included) changed after the mark
	Drift     int64
	At        time.Time
}

// Count runs the count check of a table as its mapping m stands (see CaughtUp). It costs two API calls.
func Count(ctx context.Context, env Env, tbl Table, m mapping.Mapping) (CountCheck, error) {
	cc := CountCheck{At: env.now()}
	count := func(soql string, all bool) (int64, error) {
		n, err := env.SF.Query(ctx, soql, all, func(map[string]json.RawMessage) error { return nil })
		return int64(n), err
	}
	var err error
	if cc.SFRecords, err = count("SELECT COUNT() FROM "+tbl.Target.Object+tbl.where(), false); err != nil {
		return cc, fmt.Errorf("count %s records: %w", tbl.Target.Object, err)
	}
	loaded := m.TableLoaded()
	if loaded {
		since := CaughtUp(m, env.now()).Add(-env.Margin)
		if cc.Changed, err = count("SELECT COUNT() FROM "+tbl.Target.Object+" WHERE SystemModstamp > "+soqlTime(since), tbl.HasDeleted); err != nil {
			return cc, fmt.Errorf("count %s records changed since %s: %w", tbl.Target.Object, soqlTime(since), err)
		}
	}
	if err = env.Pool.QueryRow(ctx, `SELECT count(*) FROM `+table.Ident(tbl.Target.Schema, tbl.name())+` WHERE sfid IS NOT NULL`).Scan(&cc.PGRows); err != nil {
		return cc, fmt.Errorf("count rows of %s: %w", tbl.name(), err)
	}
	if cc.Waiting, err = triggerlog.CountWaitingDeletes(ctx, env.Pool, tbl.Target.Schema, tbl.name()); err != nil {
		return cc, err
	}
	diff := cc.SFRecords - (cc.PGRows + cc.Waiting)
	if !loaded {
		cc.Drift = diff // never loaded: nothing explains a difference
	} else if abs(diff) > cc.Changed {
		cc.Drift = diff
	}
	return cc, nil
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
