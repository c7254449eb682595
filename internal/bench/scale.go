package bench

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/salesforce/sforg"
)

// measureManyMappings maps many objects on one connection (polling, as most mappings are) and
// measures how long they take to be synced, what they cost idle in API calls, and in memory.
func measureManyMappings(ctx context.Context, e *env, r *Report) error {
	n := e.opts.ScaleMappings
	// The org counts every connection's calls: the bench connection (the earlier figures' mappings)
	// is paused meanwhile, as for the idle figure.
	if err := e.pause(ctx); err != nil {
		return err
	}
	defer func() { _ = e.adm.Connections.Resume(context.WithoutCancel(ctx), actor, e.conn.ID) }()
	c, err := e.extraConnection(ctx, "scale")
	if err != nil {
		return err
	}
	defer func() { _ = e.adm.Connections.Pause(context.WithoutCancel(ctx), actor, c.ID) }()
	debug.FreeOSMemory()
	before := rssBytes()
	e.progress("mapping %d objects on one connection", n)
	start := time.Now()
	var ids []int64
	for i := range n {
		name := fmt.Sprintf("Scale%03d__c", i)
		if err := e.org.addObject(ctx, name, []sforg.FieldDef{{Name: "Note__c", Type: "string", Length: 80, Nillable: true, Createable: true, Updateable: true}}); err != nil {
			return err
		}
		m, err := e.adm.Mappings.Create(ctx, actor, c.ID, name, mapping.NewConfig("Name", "Note__c"))
		if err != nil {
			return err
		}
		ids = append(ids, m.ID)
	}
	if err := e.waitAllSynced(ctx, ids); err != nil {
		return err
	}
	synced := time.Since(start)
	interval := e.opts.PollInterval
	window := 4 * interval
	// Idle is the steady state: every mapping has polled twice since the last load ended, so the
	// polls that follow the loads (each due an interval after its own load, and its first count
	// check) are behind them and the connection's polls come due together on its grid.
	settled := time.Now().Add(interval)
	if err := until(ctx, "every mapping polling on the connection's grid", 5*interval+time.Minute, func() (bool, error) {
		ms, err := e.adm.Mappings.List(ctx, c.ID)
		if err != nil {
			return false, err
		}
		for _, m := range ms {
			if m.LastPollAt == nil || m.LastPollAt.Before(settled) {
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	callsBefore, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	e.progress("%d mappings synced in %v; counting API calls for %v", n, synced.Round(time.Millisecond), window)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window): // the measurement window itself
	}
	callsAfter, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	grew := float64(rssBytes()-before) / (1 << 20)
	calls := total(diff(callsAfter, callsBefore))
	perHour := float64(calls) * float64(time.Hour) / float64(window)
	ref := float64(n) * float64(time.Hour) / float64(interval)
	r.Figures = append(r.Figures, Figure{Name: fmt.Sprintf("%d mappings on one connection", n), Value: perHour, Unit: "calls/h",
		Measured: fmt.Sprintf("all mapped and loaded in %.1f s; idle %.0f calls/h at a %v interval (%d calls in %v); RSS %+.0f MiB",
			synced.Seconds(), perHour, interval, calls, window, grew),
		Reference: fmt.Sprintf("Heroku Connect: one query per mapping per interval = %.0f calls/h", ref),
		Goal:      fmt.Sprintf("≤ 1/10 of the reference (%.0f calls/h), RSS < 256 MiB more", ref/10), Met: perHour <= ref/10 && grew < 256})
	return nil
}

// measureWideObject maps every field of an object with many fields and loads it.
func measureWideObject(ctx context.Context, e *env, r *Report) error {
	fields, rows := e.opts.WideFields, e.opts.WideRows
	c, err := e.extraConnection(ctx, "wide")
	if err != nil {
		return err
	}
	defer func() { _ = e.adm.Connections.Pause(context.WithoutCancel(ctx), actor, c.ID) }()
	const object = "Wide__c"
	var defs []sforg.FieldDef
	names := []string{"Name"}
	for i := range fields - 1 { // with Name, the object's own fields
		f := sforg.FieldDef{Name: fmt.Sprintf("F%03d__c", i), Nillable: true, Createable: true, Updateable: true}
		switch i % 4 {
		case 0, 1:
			f.Type, f.Length = "string", 40
		case 2:
			f.Type, f.Precision, f.Scale = "double", 18, 2
		default:
			f.Type = "boolean"
		}
		defs = append(defs, f)
		names = append(names, f.Name)
	}
	if err := e.org.addObject(ctx, object, defs); err != nil {
		return err
	}
	e.progress("generating %d %s records of %d fields", rows, object, fields)
	if err := e.org.generate(ctx, object, rows); err != nil {
		return err
	}
	m, took, err := e.createMapping(ctx, c.ID, object, mapping.NewConfig(names...), 10*time.Minute)
	if err != nil {
		return err
	}
	var got, cols int
	schema := e.schema + "_wide"
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM `+table.Ident(schema, m.Table)).Scan(&got); err != nil {
		return err
	}
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`, schema, m.Table).Scan(&cols); err != nil {
		return err
	}
	rate := float64(rows) / took.Seconds()
	r.Figures = append(r.Figures, Figure{Name: fmt.Sprintf("object with %d fields, %d records", fields, rows), Value: rate, Unit: "rows/s",
		Measured: fmt.Sprintf("loaded in %.1f s (%.0f rows/s, %.0f fields/s); table of %d columns, %d rows", took.Seconds(), rate, rate*float64(fields), cols, got),
		Goal:     "every record and field in Postgres", Met: got == rows && cols >= fields})
	return nil
}
