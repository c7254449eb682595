package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
)

// sink timestamps the notifications a bench trigger sends when a marked row arrives in Postgres.
type sink struct {
	mu   sync.Mutex
	seen map[string]time.Time
	lost error // why the listener stopped hearing, if it did before stop
	stop func()
}

const sinkChannel = "pgforce_bench"

func (e *env) listen(ctx context.Context) (*sink, error) {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+sinkChannel); err != nil {
		conn.Release()
		return nil, err
	}
	s := &sink{seen: map[string]time.Time{}}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := conn.Conn().WaitForNotification(lctx)
			if err != nil {
				if lctx.Err() == nil {
					s.mu.Lock()
					s.lost = err
					s.mu.Unlock()
				}
				return
			}
			at := time.Now()
			s.mu.Lock()
			if _, dup := s.seen[n.Payload]; !dup {
				s.seen[n.Payload] = at
			}
			s.mu.Unlock()
		}
	}()
	s.stop = func() {
		cancel()
		<-done
		// The connection was interrupted mid-wait: do not give it back to the pool.
		_ = conn.Conn().Close(context.Background())
		conn.Release()
	}
	return s, nil
}

func (s *sink) at(key string) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.seen[key]
	return t, ok
}

// deaf says why the sink stopped listening (its session ended: a figure cannot be measured), or nil.
func (s *sink) deaf() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lost != nil {
		return fmt.Errorf("the bench stopped hearing rows arrive (its Postgres session ended: %w)", s.lost)
	}
	return nil
}

// notifyOn makes a mapped table announce each row's seq__c when when holds.
func (e *env) notifyOn(ctx context.Context, m mapping.Mapping, events, when string) error {
	fn := pgx.Identifier{e.schema, "bench_notify"}.Sanitize()
	_, err := e.pool.Exec(ctx, `CREATE OR REPLACE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN PERFORM pg_notify('`+sinkChannel+`', NEW.seq__c); RETURN NULL; END $$;
		DROP TRIGGER IF EXISTS bench_notify ON `+e.tableIdent(m)+`;
		CREATE TRIGGER bench_notify AFTER `+events+` ON `+e.tableIdent(m)+` FOR EACH ROW WHEN (`+when+`) EXECUTE FUNCTION `+fn+`()`)
	return err
}

// seqObject adds an object with a Seq__c marker field.
func (e *env) seqObject(ctx context.Context, name string) error {
	return e.org.addObject(ctx, name, []sforg.FieldDef{{Name: "Seq__c", Type: "string", Length: 40, Nillable: true, Createable: true, Updateable: true}})
}

// arrivals maps a Seq__c object and returns a sink that hears each of its rows arrive in Postgres.
func (e *env) arrivals(ctx context.Context, object string, cfg mapping.Config) (*sink, error) {
	if err := e.seqObject(ctx, object); err != nil {
		return nil, err
	}
	if cfg.Accelerated() {
		// Like a real org's admin, select the new object for Change Data Capture, or it publishes nothing.
		if err := e.org.selectForCDC(ctx, object); err != nil {
			return nil, err
		}
	}
	m, _, err := e.createMapping(ctx, e.conn.ID, object, cfg, time.Minute)
	if err != nil {
		return nil, err
	}
	if err := e.notifyOn(ctx, m, "INSERT OR UPDATE", "NEW.seq__c IS NOT NULL"); err != nil {
		return nil, err
	}
	return e.listen(ctx)
}

// createdInSalesforce sends one sample: a record created through the org's API.
func (e *env) createdInSalesforce(ctx context.Context, object string) func(key string) (time.Time, error) {
	return func(key string) (time.Time, error) {
		at := time.Now()
		return at, e.org.create(ctx, object, map[string]any{"Seq__c": key})
	}
}

// latencies are one figure's samples.
type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := slices.Clone(l)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// sendAndCollect sends samples at a steady pace and waits for each to arrive at the sink.
func sendAndCollect(ctx context.Context, s *sink, n int, spacing, wait time.Duration, prefix string, send func(key string) (time.Time, error)) (latencies, error) {
	sent := make([]time.Time, n)
	tick := time.NewTicker(spacing)
	defer tick.Stop()
	for i := range n {
		at, err := send(fmt.Sprintf("%s-%d", prefix, i))
		if err != nil {
			return nil, err
		}
		sent[i] = at
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	var out latencies
	err := until(ctx, fmt.Sprintf("%d %s samples to arrive", n, prefix), wait, func() (bool, error) {
		out = out[:0]
		for i := range n {
			got, ok := s.at(fmt.Sprintf("%s-%d", prefix, i))
			if !ok {
				return false, s.deaf()
			}
			out = append(out, got.Sub(sent[i]))
		}
		return true, nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w (%d of %d arrived)", err, len(out), n)
	}
	return out, nil
}

func measureStreamLatency(ctx context.Context, e *env, r *Report) error {
	ref, err := e.notifyRoundTrip(ctx, e.opts.Samples)
	if err != nil {
		return fmt.Errorf("NOTIFY reference: %w", err)
	}
	lat, _, err := e.streamedLatency(ctx, "Stream__c", "st", connection.TransportCometD)
	if err != nil {
		return err
	}
	p50, p99 := lat.pct(0.5), lat.pct(0.99)
	r.Figures = append(r.Figures, Figure{Name: "SF→PG latency, streaming over CometD", Value: ms(p99), Unit: "ms p99",
		Measured:  fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (%d samples)", ms(p50), ms(p99), len(lat)),
		Reference: fmt.Sprintf("NOTIFY round trip: p50 %.2f ms, p99 %.2f ms", ms(ref.pct(0.5)), ms(ref.pct(0.99))),
		Goal:      "p99 < 1 s", Met: p99 < time.Second,
		Note: "from the create call in Salesforce to the row committed in Postgres"})
	return nil
}

// streamedLatency maps an accelerated object streamed over transport and measures each change's way
// from its create call in Salesforce to its row committed in Postgres.
func (e *env) streamedLatency(ctx context.Context, object, prefix string, transport connection.StreamTransport) (latencies, mapping.Mapping, error) {
	cfg := mapping.NewConfig("Seq__c")
	cfg.SFNotifyEnabled = true
	s, err := e.arrivals(ctx, object, cfg)
	if err != nil {
		return nil, mapping.Mapping{}, err
	}
	defer s.stop()
	m, err := e.mappingOf(ctx, object)
	if err != nil {
		return nil, m, err
	}
	if err := e.streamOver(ctx, m, transport); err != nil {
		return nil, m, err
	}
	e.progress("%d records created in Salesforce, 20 ms apart, streamed over %s", e.opts.Samples, transport)
	lat, err := sendAndCollect(ctx, s, e.opts.Samples, 20*time.Millisecond, 30*time.Second, prefix, e.createdInSalesforce(ctx, object))
	return lat, m, err
}

// notifyRoundTrip is the floor for any change arriving in Postgres: NOTIFY from one session to another.
func (e *env) notifyRoundTrip(ctx context.Context, n int) (latencies, error) {
	s, err := e.listen(ctx)
	if err != nil {
		return nil, err
	}
	defer s.stop()
	var out latencies
	for i := range n {
		key := fmt.Sprintf("ref-%d", i)
		start := time.Now()
		if _, err := e.pool.Exec(ctx, `SELECT pg_notify($1, $2)`, sinkChannel, key); err != nil {
			return nil, err
		}
		if err := until(ctx, "a notification", 5*time.Second, func() (bool, error) { _, ok := s.at(key); return ok, nil }); err != nil {
			return nil, err
		}
		at, _ := s.at(key)
		out = append(out, at.Sub(start))
	}
	return out, nil
}

func measurePollLatency(ctx context.Context, e *env, r *Report) error {
	s, err := e.arrivals(ctx, "Polled__c", mapping.NewConfig("Seq__c"))
	if err != nil {
		return err
	}
	defer s.stop()
	interval := e.opts.PollInterval
	// Spread over three polling intervals, so samples land at every point of the cycle.
	spacing := 3 * interval / time.Duration(e.opts.Samples)
	e.progress("%d records created in Salesforce over %v, polled every %v", e.opts.Samples, 3*interval, interval)
	lat, err := sendAndCollect(ctx, s, e.opts.Samples, spacing, 2*interval+30*time.Second, "po", e.createdInSalesforce(ctx, "Polled__c"))
	if err != nil {
		return err
	}
	p50, p99 := lat.pct(0.5), lat.pct(0.99)
	r.Figures = append(r.Figures, Figure{Name: "SF→PG latency, polling", Value: ms(p99), Unit: "ms p99",
		Measured:  fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (%d samples)", ms(p50), ms(p99), len(lat)),
		Reference: fmt.Sprintf("the polling interval: %v", interval),
		Goal:      "p99 ≤ interval + 1 s", Met: p99 <= interval+time.Second})
	return nil
}

func measureWriteLatency(ctx context.Context, e *env, r *Report) error {
	m, err := e.writeMapping(ctx)
	if err != nil {
		return err
	}
	if err := e.notifyOn(ctx, m, "UPDATE", "NEW._hc_lastop IN ('INSERTED', 'UPDATED') AND OLD._hc_lastop IS DISTINCT FROM NEW._hc_lastop"); err != nil {
		return err
	}
	defer e.pool.Exec(context.WithoutCancel(ctx), `DROP TRIGGER IF EXISTS bench_notify ON `+e.tableIdent(m))
	s, err := e.listen(ctx)
	if err != nil {
		return err
	}
	defer s.stop()
	e.progress("%d rows inserted in Postgres, 20 ms apart", e.opts.Samples)
	lat, err := sendAndCollect(ctx, s, e.opts.Samples, 20*time.Millisecond, 30*time.Second, "wr", func(key string) (time.Time, error) {
		_, err := e.pool.Exec(ctx, `INSERT INTO `+e.tableIdent(m)+` (seq__c) VALUES ($1)`, key)
		return time.Now(), err // after the commit
	})
	if err != nil {
		return err
	}
	p50, p99 := lat.pct(0.5), lat.pct(0.99)
	r.Figures = append(r.Figures, Figure{Name: "PG→SF latency at light load (50 rows/s)", Value: ms(p99), Unit: "ms p99",
		Measured: fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (%d samples)", ms(p50), ms(p99), len(lat)),
		Goal:     "p99 < 500 ms", Met: p99 < 500*time.Millisecond,
		Note: "from the commit to the org's answer recorded on the row (_hc_lastop = INSERTED), an upper bound of commit → ack"})
	return nil
}

// writeMapping is the read-write mapping the write figures share.
func (e *env) writeMapping(ctx context.Context) (mapping.Mapping, error) {
	ms, err := e.adm.Mappings.List(ctx, e.conn.ID)
	if err != nil {
		return mapping.Mapping{}, err
	}
	for _, m := range ms {
		if m.Object == "Written__c" {
			return m, nil
		}
	}
	if err := e.seqObject(ctx, "Written__c"); err != nil {
		return mapping.Mapping{}, err
	}
	cfg := mapping.NewConfig("Seq__c")
	cfg.Access = mapping.ReadWrite
	m, _, err := e.createMapping(ctx, e.conn.ID, "Written__c", cfg, time.Minute)
	return m, err
}
