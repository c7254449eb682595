package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/orgclient"
)

// pubSubEndpoint asks the simulated org where it serves the Pub/Sub API and trusts its certificate
// only; nil when it serves none.
func (o orgControl) pubSubEndpoint(ctx context.Context) (*orgclient.PubSubEndpoint, error) {
	var out struct{ Address, Certificate string }
	if err := o.do(ctx, http.MethodGet, "/pubsub", nil, &out); err != nil {
		return nil, fmt.Errorf("the simulated org's Pub/Sub API: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(out.Certificate)) {
		return nil, fmt.Errorf("the simulated org's Pub/Sub API certificate is not PEM")
	}
	return &orgclient.PubSubEndpoint{Addr: out.Address, TLS: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}, nil
}

// burst creates n records in one transaction (a data load), each with its change event.
func (o orgControl) burst(ctx context.Context, object string, n int) error {
	return o.do(ctx, http.MethodPost, "/generate?events=true", map[string]any{"Object": object, "Count": n, "Seed": 11}, nil)
}

// streamOver switches the bench connection's accelerated mappings to a transport and waits until m
// streams over it.
func (e *env) streamOver(ctx context.Context, m mapping.Mapping, transport connection.StreamTransport) error {
	if err := e.adm.Connections.SetStreamTransport(ctx, actor, e.conn.ID, string(transport)); err != nil {
		return err
	}
	return until(ctx, fmt.Sprintf("%s to stream over %s", m.Object, transport), time.Minute, func() (bool, error) {
		got, err := e.adm.Mappings.Get(ctx, m.ID)
		return got.StreamTransport == string(transport), err
	})
}

// measurePubSub measures Salesforce→Postgres latency over the Pub/Sub API (the same samples as the
// CometD figure) and how fast a burst of changes (a data load) is applied.
func measurePubSub(ctx context.Context, e *env, r *Report) error {
	lat, m, err := e.streamedLatency(ctx, "PubSub__c", "ps", connection.TransportPubSub)
	if err != nil {
		return err
	}
	p50, p99 := lat.pct(0.5), lat.pct(0.99)
	r.Figures = append(r.Figures, Figure{Name: "SF→PG latency, streaming over the Pub/Sub API", Value: ms(p99), Unit: "ms p99",
		Measured:  fmt.Sprintf("p50 %.0f ms, p99 %.0f ms (%d samples)", ms(p50), ms(p99), len(lat)),
		Reference: "the CometD and polling figures of this run",
		Goal:      "p99 < 250 ms", Met: p99 < 250*time.Millisecond,
		Note: "from the create call in Salesforce to the row committed in Postgres"})

	var before int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM `+e.tableIdent(m)).Scan(&before); err != nil {
		return err
	}
	n := e.opts.Burst
	e.progress("a burst of %d changes (one data load) streamed over the Pub/Sub API", n)
	start := time.Now()
	if err := e.org.burst(ctx, "PubSub__c", n); err != nil {
		return err
	}
	var got int
	err = until(ctx, fmt.Sprintf("the %d changes of the burst in Postgres", n), 5*time.Minute, func() (bool, error) {
		err := e.pool.QueryRow(ctx, `SELECT count(*) FROM `+e.tableIdent(m)).Scan(&got)
		return got-before >= n, err
	})
	if err != nil {
		return fmt.Errorf("%w (%d of %d arrived)", err, got-before, n)
	}
	took := time.Since(start)
	rate := float64(n) / took.Seconds()
	r.Figures = append(r.Figures, Figure{Name: fmt.Sprintf("SF→PG burst of %d changes over the Pub/Sub API", n), Value: rate, Unit: "events/s",
		Measured: fmt.Sprintf("%.0f events/s applied (%.1f s)", rate, took.Seconds()),
		Goal:     "≥ 5,000 events/s", Met: rate >= 5000,
		Note: "from the data load's commit in Salesforce to its last row committed in Postgres"})
	return nil
}

// mappingOf finds the bench connection's mapping of an object.
func (e *env) mappingOf(ctx context.Context, object string) (mapping.Mapping, error) {
	ms, err := e.adm.Mappings.List(ctx, e.conn.ID)
	if err != nil {
		return mapping.Mapping{}, err
	}
	for _, m := range ms {
		if m.Object == object {
			return m, nil
		}
	}
	return mapping.Mapping{}, fmt.Errorf("no mapping of %s", object)
}
