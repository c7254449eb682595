package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"time"

	"pgforce/internal/account"
	"pgforce/internal/keyring"
	"pgforce/sync/admin"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// measureIdleCalls counts the API calls of a connection whose mappings poll and find nothing, with
// every other connection paused. Every other mapping is read/write: an idle writer must cost nothing.
func measureIdleCalls(ctx context.Context, e *env, r *Report) error {
	if err := e.pause(ctx); err != nil {
		return err
	}
	defer func() { _ = e.adm.Connections.Resume(context.WithoutCancel(ctx), actor, e.conn.ID) }()
	c, err := e.extraConnection(ctx, "idle")
	if err != nil {
		return err
	}
	n := e.opts.IdleMappings
	rw := n / 2
	e.progress("mapping %d objects in polling mode (%d read/write)", n, rw)
	var ids []int64
	for i := range n {
		name := fmt.Sprintf("Idle%02d__c", i)
		if err := e.org.addObject(ctx, name, []sforg.FieldDef{{Name: "Note__c", Type: "string", Length: 80, Nillable: true, Createable: true, Updateable: true}}); err != nil {
			return err
		}
		cfg := mapping.NewConfig("Name", "Note__c")
		if i%2 == 1 {
			cfg.Access = mapping.ReadWrite
		}
		m, err := e.adm.Mappings.Create(ctx, actor, c.ID, name, cfg)
		if err != nil {
			return err
		}
		ids = append(ids, m.ID)
	}
	if err := e.waitAllSynced(ctx, ids); err != nil {
		return err
	}
	// Each mapping compares its counts with Salesforce's after its first poll and then every 10
	// minutes: the window measures the steady state after those first checks.
	if err := until(ctx, "the first count checks", 2*time.Minute, func() (bool, error) {
		for _, id := range ids {
			if m, err := e.adm.Mappings.Get(ctx, id); err != nil || m.CountCheckedAt == nil {
				return false, err
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	interval := e.opts.PollInterval
	window := 6 * interval
	before, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	e.progress("counting API calls for %v", window)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(window): // the measurement window itself
	}
	after, err := e.org.calls(ctx)
	if err != nil {
		return err
	}
	byKind := diff(after, before)
	calls := total(byKind)
	perHour := float64(calls) * float64(time.Hour) / float64(window)
	ref := float64(n) * float64(time.Hour) / float64(interval)
	// The same ratio at Heroku Connect's default 10-minute interval.
	at10 := perHour * float64(interval) / float64(10*time.Minute)
	r.Figures = append(r.Figures, Figure{Name: fmt.Sprintf("SF API calls per hour, idle connection with %d polling mappings (%d read/write)", n, rw), Value: perHour, Unit: "calls/h",
		Measured:  fmt.Sprintf("%.0f calls/h at a %v interval (%d calls in %v: %v; %.0f calls/h at a 10-minute interval)", perHour, interval, calls, window, byKind, at10),
		Reference: fmt.Sprintf("Heroku Connect: one query per mapping per interval = %.0f calls/h", ref),
		Goal:      fmt.Sprintf("≤ 1/10 of the reference (%.0f calls/h)", ref/10), Met: perHour <= ref/10,
		Note: fmt.Sprintf("calls by kind %v: the mappings' polls share one /composite request of up to 25 queries per interval; "+
			"the window holds no periodic check: the schema check adds one describe global (If-Modified-Since) every 15 minutes, 4 calls/h, "+
			"and the count checks of every 10 minutes a few /composite calls per round (batched like the polls)", byKind)})
	return e.adm.Connections.Pause(ctx, actor, c.ID)
}

// extraConnection creates and authorizes another connection to the org, in the bench schema + "_" + suffix.
func (e *env) extraConnection(ctx context.Context, suffix string) (connection.Connection, error) {
	c, err := e.adm.Connections.Create(ctx, actor, admin.NewConnection{Name: "bench " + suffix, Schema: e.schema + "_" + suffix, OrgType: connection.Simulated, LoginURL: e.opts.OrgURL})
	if err != nil {
		return c, err
	}
	return e.adm.Connections.AuthorizeWithPassword(ctx, actor, c.ID, sforg.DemoUsername, sforg.DemoPassword)
}

// pause pauses the bench connection once it is IDLE: one still writing or catching up cannot be
// paused.
func (e *env) pause(ctx context.Context) error {
	if err := until(ctx, "the bench connection to settle", 5*time.Minute, func() (bool, error) {
		st := e.connState(ctx)
		return st == connection.Idle || st == connection.Paused, nil
	}); err != nil {
		return err
	}
	if e.connState(ctx) == connection.Paused {
		return nil
	}
	if err := e.adm.Connections.Pause(ctx, actor, e.conn.ID); err != nil {
		return err
	}
	return e.waitConn(ctx, connection.Paused)
}

// waitAllSynced waits for every listed mapping's initial load.
func (e *env) waitAllSynced(ctx context.Context, ids []int64) error {
	for _, id := range ids {
		if _, err := e.waitMapping(ctx, id, mapping.DataSynced, 2*time.Minute, nil); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) connState(ctx context.Context) connection.State {
	c, _ := e.adm.Connections.Get(ctx, e.conn.ID)
	return c.State
}

// measurePage times the dashboard's Mappings page of a connection with many mappings, signed in as
// an admin, while they all poll. The page is measured on a connection of its own with the bench
// connection paused: the earlier figures' mappings (tables of 100,000 rows) polling beside it are
// load of other figures, not of the page (the other figures' connections are paused after them).
func measurePage(ctx context.Context, e *env, r *Report) error {
	if e.opts.Dashboard == nil {
		return fmt.Errorf("no dashboard to measure in this run")
	}
	if err := e.pause(ctx); err != nil {
		return err
	}
	defer func() { _ = e.adm.Connections.Resume(context.WithoutCancel(ctx), actor, e.conn.ID) }()
	c, err := e.extraConnection(ctx, "page")
	if err != nil {
		return err
	}
	defer func() { _ = e.adm.Connections.Pause(context.WithoutCancel(ctx), actor, c.ID) }()
	n := e.opts.PageMappings
	e.progress("mapping %d objects", n)
	var ids []int64
	for i := range n {
		name := fmt.Sprintf("Page%03d__c", i)
		var fields []sforg.FieldDef
		for f := range 20 {
			fields = append(fields, sforg.FieldDef{Name: fmt.Sprintf("F%02d__c", f), Type: "string", Length: 80, Nillable: true, Createable: true, Updateable: true})
		}
		if err := e.org.addObject(ctx, name, fields); err != nil {
			return err
		}
		m, err := e.adm.Mappings.Create(ctx, actor, c.ID, name, mapping.NewConfig("Name", "F00__c", "F01__c"))
		if err != nil {
			return err
		}
		ids = append(ids, m.ID)
	}
	if err := e.waitAllSynced(ctx, ids); err != nil {
		return err
	}
	h, err := e.opts.Dashboard(e.adm)
	if err != nil {
		return err
	}
	dashURL, closeDash, err := serveLocal(h)
	if err != nil {
		return err
	}
	defer closeDash()
	// A user of this run only: an earlier run that was interrupted may have left its own.
	email, password := "bench-"+strings.ToLower(keyring.RandomToken(6))+"@pgforce.test", keyring.RandomToken(18)
	accounts := account.New(e.pool)
	if _, err := accounts.Create(ctx, actor, email, password, account.Admin); err != nil {
		return err
	}
	defer accounts.Remove(context.WithoutCancel(ctx), actor, email)
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: time.Minute}
	login, err := http.NewRequestWithContext(ctx, http.MethodPost, dashURL+"/login", strings.NewReader(url.Values{"email": {email}, "password": {password}}.Encode()))
	if err != nil {
		return err
	}
	// As a browser says, the form comes from the dashboard's own page (the dashboard refuses
	// state changes that do not say where they come from).
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	login.Header.Set("Origin", dashURL)
	res, err := hc.Do(login)
	if err != nil {
		return err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("sign in to the dashboard: %d", res.StatusCode)
	}
	page := fmt.Sprintf("%s/mappings?conn=%d", dashURL, c.ID)
	get := func() (time.Duration, error) {
		start := time.Now()
		res, err := hc.Get(page)
		if err != nil {
			return 0, err
		}
		raw, err := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		if rows := strings.Count(string(raw), `data-testid="mapping-row"`); err == nil && (res.StatusCode != http.StatusOK || rows < n) {
			err = fmt.Errorf("GET /mappings: %d with %d mapping rows", res.StatusCode, rows)
		}
		return took, err
	}
	for range 10 { // warm up
		if _, err := get(); err != nil {
			return err
		}
	}
	var lat latencies
	for range max(200, e.opts.Samples/5) {
		d, err := get()
		if err != nil {
			return err
		}
		lat = append(lat, d)
	}
	p50, p95 := lat.pct(0.5), lat.pct(0.95)
	r.Figures = append(r.Figures, Figure{Name: fmt.Sprintf("dashboard Mappings page with %d mappings", n), Value: ms(p95), Unit: "ms p95",
		Measured: fmt.Sprintf("p50 %.1f ms, p95 %.1f ms (%d requests while its %d mappings poll; the other connections paused)", ms(p50), ms(p95), len(lat), n),
		Goal:     "p95 < 50 ms", Met: p95 < 50*time.Millisecond})
	return nil
}
