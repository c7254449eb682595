package sforg

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"pgforce/sync/salesforce/bayeux"
	"pgforce/sync/salesforce/pubsub"
	"pgforce/sync/salesforce/pubsub/eventbus"
)

// PubSubOptions configure the org's Pub/Sub API server.
type PubSubOptions struct {
	Addr string // host:port to listen on; "" = a free port on 127.0.0.1
	// Keepalive is how long an idle subscription waits before an empty FetchResponse carrying the
	// latest replay id (Salesforce: within 270 s). Tests shorten it.
	Keepalive time.Duration
}

// eventLog is what the Pub/Sub API serves: the org's CometD replay log, so both transports carry the
// same events with the same replay ids.
type eventLog interface {
	Events(channel string, after int64, max int) []bayeux.LoggedEvent
	Window() (oldest, newest int64)
	Published() <-chan struct{}
}

// PubSubServer is the org's Pub/Sub API (eventbus.v1.PubSub over gRPC and TLS, with a self-signed
// certificate made at Start): GetTopic, GetSchema and Subscribe for the org's Change Data Capture
// topics, from the same event log as its CometD endpoint.
type PubSubServer struct {
	eventbus.UnimplementedPubSubServer
	org     *Org
	log     eventLog
	opts    PubSubOptions
	schemas *schemaRegistry

	mu      sync.Mutex
	ln      net.Listener
	srv     *grpc.Server
	certPEM []byte
	served  chan struct{}
	drop    chan struct{} // closed to end every subscription (a dropped connection)
	stopped bool
	subs    map[string]int // open subscriptions by topic

	corrupt atomic.Int32 // the next n events go out with a payload their schema cannot read
}

// NewPubSubServer returns the org's Pub/Sub API server; Start listens.
func NewPubSubServer(org *Org, opts PubSubOptions) *PubSubServer {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Keepalive <= 0 {
		opts.Keepalive = 270 * time.Second
	}
	p := &PubSubServer{org: org, log: org.bus, opts: opts, schemas: newSchemaRegistry(), drop: make(chan struct{}), subs: map[string]int{}}
	org.pubsub.Store(p)
	return p
}

// pubsubControlRoutes let tests and demos in other processes find and steer the Pub/Sub API:
// its address and certificate, corrupt events, dropped subscriptions.
func (o *Org) pubsubControlRoutes(m *http.ServeMux) {
	serving := func(h func(p *PubSubServer, w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
		return o.control(func(w http.ResponseWriter, r *http.Request) error {
			p := o.pubsub.Load()
			if p == nil || p.Addr() == "" {
				return &apiError{Status: http.StatusNotFound, Code: "NOT_FOUND", Message: "this org serves no Pub/Sub API (pgforce sforg --pubsub-addr)"}
			}
			return h(p, w, r)
		})
	}
	m.HandleFunc("GET /_sforg/pubsub", serving(func(p *PubSubServer, w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, map[string]string{"address": p.Addr(), "certificate": string(p.CertificatePEM())})
		return nil
	}))
	m.HandleFunc("POST /_sforg/pubsub/corrupt", serving(func(p *PubSubServer, w http.ResponseWriter, r *http.Request) error {
		var body struct{ Count int }
		if err := decode(r, &body); err != nil {
			return err
		}
		p.CorruptNextEvents(max(body.Count, 1))
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	}))
	m.HandleFunc("POST /_sforg/pubsub/drop", serving(func(p *PubSubServer, w http.ResponseWriter, r *http.Request) error {
		p.DropSubscriptions()
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	}))
}

// Start makes the certificate, listens and serves in the background until Stop or ctx ends.
func (p *PubSubServer) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", p.opts.Addr)
	if err != nil {
		return fmt.Errorf("pub/sub API: listen on %s: %w", p.opts.Addr, err)
	}
	cert, certPEM, err := selfSignedCert(ln.Addr())
	if err != nil {
		ln.Close()
		return fmt.Errorf("pub/sub API: certificate: %w", err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})))
	eventbus.RegisterPubSubServer(srv, p)
	p.mu.Lock()
	p.ln, p.srv, p.certPEM, p.served = ln, srv, certPEM, make(chan struct{})
	p.mu.Unlock()
	go func() {
		defer close(p.served)
		_ = srv.Serve(ln)
	}()
	go func() {
		select {
		case <-ctx.Done():
			p.Stop()
		case <-p.served:
		}
	}()
	return nil
}

// Stop ends every call and closes the listener; it returns when the server is done and may be
// called more than once.
func (p *PubSubServer) Stop() {
	p.mu.Lock()
	srv, served, already := p.srv, p.served, p.stopped
	p.stopped = true
	p.mu.Unlock()
	if srv == nil || already {
		if served != nil {
			<-served
		}
		return
	}
	p.DropSubscriptions()
	srv.Stop()
	<-served
}

// Addr is the address the server listens on.
func (p *PubSubServer) Addr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln == nil {
		return ""
	}
	return p.ln.Addr().String()
}

// CertificatePEM is the server's self-signed certificate, for clients to trust.
func (p *PubSubServer) CertificatePEM() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.certPEM
}

// ClientTLS is a client configuration that trusts this server's certificate and nothing else.
func (p *PubSubServer) ClientTLS() *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(p.CertificatePEM())
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// CorruptNextEvents makes the next n delivered events carry a payload their schema cannot decode.
func (p *PubSubServer) CorruptNextEvents(n int) { p.corrupt.Store(int32(n)) }

// DropSubscriptions ends every open subscription with UNAVAILABLE, as a dropped connection does.
func (p *PubSubServer) DropSubscriptions() {
	p.mu.Lock()
	defer p.mu.Unlock()
	close(p.drop)
	p.drop = make(chan struct{})
}

func (p *PubSubServer) dropped() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.drop
}

// selfSignedCert makes a P-256 certificate for the listening address, localhost and the loopback
// addresses, valid for a year.
func selfSignedCert(addr net.Addr) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "pgforce simulated Pub/Sub API", Organization: []string{"pgforce"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	if ta, ok := addr.(*net.TCPAddr); ok && !ta.IP.IsUnspecified() && !ta.IP.IsLoopback() {
		tmpl.IPAddresses = append(tmpl.IPAddresses, ta.IP)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, err := tls.X509KeyPair(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}))
	return cert, certPEM, err
}

// rpcError is a failed call as Salesforce reports it: a gRPC status whose message ends with the
// call's rpcId, and the error code in the error-code trailer.
func rpcError(ctx context.Context, c codes.Code, code, format string, args ...any) error {
	id := newRPCID()
	_ = grpc.SetTrailer(ctx, metadata.Pairs("error-code", code, "rpc-id", id))
	return status.Errorf(c, "%s rpcId: %s", fmt.Sprintf(format, args...), id)
}

func newRPCID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return uuidString(b)
}

func uuidString(b []byte) string {
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// authenticate checks the session metadata Salesforce requires on every call.
func (p *PubSubServer) authenticate(ctx context.Context) error {
	md, _ := metadata.FromIncomingContext(ctx)
	first := func(k string) string {
		if v := md.Get(k); len(v) > 0 {
			return strings.TrimSpace(v[0])
		}
		return ""
	}
	tok, inst, tenant := first("accesstoken"), first("instanceurl"), first("tenantid")
	org := p.org.OrgID()
	switch {
	case tok == "" || inst == "" || tenant == "":
		return rpcError(ctx, codes.Unauthenticated, pubsub.CodeAuth, "An authentication exception occurred. Provide valid authentication via the accesstoken, instanceurl and tenantid metadata headers.")
	case tenant != org && tenant != org[:15]:
		return rpcError(ctx, codes.Unauthenticated, pubsub.CodeAuth, "An authentication exception occurred: tenantid %s is not this org.", tenant)
	case p.org.sessionByToken(tok) == nil:
		return rpcError(ctx, codes.Unauthenticated, pubsub.CodeAuth, "An authentication exception occurred: the session is invalid or expired.")
	}
	return nil
}

// objectOf returns the definition behind a per-object topic (/data/AccountChangeEvent), or nil.
func (p *PubSubServer) objectOf(topic string) *ObjectDef {
	o := p.org
	o.mu.RLock()
	defer o.mu.RUnlock()
	for _, t := range o.tables {
		if eventChannel(t.def.Name) == topic {
			return t.def
		}
	}
	return nil
}

// schemaFor is the current change event schema of an object.
func (p *PubSubServer) schemaFor(object string) (*eventSchema, error) {
	o := p.org
	o.mu.RLock()
	defer o.mu.RUnlock()
	t := o.table(object)
	if t == nil {
		return nil, fmt.Errorf("no object %s", object)
	}
	return p.schemas.current(t.def)
}

func (p *PubSubServer) checkTopic(ctx context.Context, topic string) error {
	switch {
	case topic == "":
		return rpcError(ctx, codes.InvalidArgument, pubsub.CodeTopicEmpty, "The topic name is blank.")
	case !p.org.channelExists(topic):
		return rpcError(ctx, codes.NotFound, pubsub.CodeTopicNotFound, "The topic %s does not exist or is not available to this user.", topic)
	}
	return nil
}

// GetTopic describes a change event topic.
func (p *PubSubServer) GetTopic(ctx context.Context, req *eventbus.TopicRequest) (*eventbus.TopicInfo, error) {
	if err := p.authenticate(ctx); err != nil {
		return nil, err
	}
	if err := p.checkTopic(ctx, req.GetTopicName()); err != nil {
		return nil, err
	}
	info := &eventbus.TopicInfo{TopicName: req.GetTopicName(), TenantGuid: p.org.OrgID(), CanSubscribe: true, RpcId: newRPCID()}
	if def := p.objectOf(req.GetTopicName()); def != nil {
		es, err := p.schemaFor(def.Name)
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		info.SchemaId = es.id
	}
	return info, nil
}

// GetSchema returns a schema the org has served, by id.
func (p *PubSubServer) GetSchema(ctx context.Context, req *eventbus.SchemaRequest) (*eventbus.SchemaInfo, error) {
	if err := p.authenticate(ctx); err != nil {
		return nil, err
	}
	es := p.schemas.get(req.GetSchemaId())
	if es == nil {
		return nil, rpcError(ctx, codes.InvalidArgument, pubsub.CodeSchemaNotFound, "The schema ID %q is not valid.", req.GetSchemaId())
	}
	return &eventbus.SchemaInfo{SchemaJson: es.json, SchemaId: es.id, RpcId: newRPCID()}, nil
}

// Publish is refused: change event topics are published by Salesforce itself, and the simulated
// org defines no platform events.
func (p *PubSubServer) Publish(ctx context.Context, req *eventbus.PublishRequest) (*eventbus.PublishResponse, error) {
	if err := p.authenticate(ctx); err != nil {
		return nil, err
	}
	return nil, rpcError(ctx, codes.PermissionDenied, pubsub.CodeNoPublish, "Publishing to %s is not allowed: change events are published by Salesforce, and this org has no platform events.", req.GetTopicName())
}

// maxFetch is Salesforce's cap on events asked for by one FetchRequest.
const maxFetch = 100

// Subscribe streams a topic's events, as many as the client asked for (num_requested, added up over
// its FetchRequests), from the replay position of its first request.
func (p *PubSubServer) Subscribe(stream eventbus.PubSub_SubscribeServer) error {
	ctx := stream.Context()
	if err := p.authenticate(ctx); err != nil {
		return err
	}
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	topic := first.GetTopicName()
	if err := p.checkTopic(ctx, topic); err != nil {
		return err
	}
	if first.GetNumRequested() <= 0 {
		return rpcError(ctx, codes.InvalidArgument, pubsub.CodeRequestedEvents, "The number of requested events must be greater than zero, got %d.", first.GetNumRequested())
	}
	pos, err := p.startAt(ctx, first)
	if err != nil {
		return err
	}
	p.track(topic, 1)
	defer p.track(topic, -1)
	var mu sync.Mutex
	pending := min(first.GetNumRequested(), maxFetch)
	more := make(chan struct{}, 1)
	recvErr := make(chan error, 1)
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if t := req.GetTopicName(); t != "" && t != topic {
				recvErr <- rpcError(ctx, codes.InvalidArgument, pubsub.CodeTopicMismatch, "The topic %s differs from the subscription's %s.", t, topic)
				return
			}
			mu.Lock()
			pending += max(0, min(req.GetNumRequested(), maxFetch))
			mu.Unlock()
			select {
			case more <- struct{}{}:
			default:
			}
		}
	}()
	keepalive := time.NewTimer(p.opts.Keepalive)
	defer keepalive.Stop()
	for {
		if err := p.authenticate(ctx); err != nil {
			return err
		}
		published, dropped := p.log.Published(), p.dropped()
		mu.Lock()
		want := pending
		mu.Unlock()
		if want > 0 {
			if evs := p.log.Events(topic, pos, int(want)); len(evs) > 0 {
				resp, err := p.response(evs)
				if err != nil {
					return status.Error(codes.Internal, err.Error())
				}
				mu.Lock()
				pending -= int32(len(evs))
				resp.PendingNumRequested = pending
				mu.Unlock()
				if err := stream.Send(resp); err != nil {
					return err
				}
				pos = evs[len(evs)-1].ReplayID
				keepalive.Reset(p.opts.Keepalive)
				continue
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-recvErr:
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		case <-dropped:
			return status.Error(codes.Unavailable, "the connection was dropped")
		case <-published:
		case <-more:
		case <-keepalive.C:
			mu.Lock()
			left := pending
			mu.Unlock()
			if err := stream.Send(&eventbus.FetchResponse{LatestReplayId: pubsub.ReplayIDOf(pos), PendingNumRequested: left, RpcId: newRPCID()}); err != nil {
				return err
			}
			keepalive.Reset(p.opts.Keepalive)
		}
	}
}

func (p *PubSubServer) track(topic string, d int) {
	p.mu.Lock()
	p.subs[topic] += d
	p.mu.Unlock()
}

// subscribers counts the open subscriptions of a topic.
// Subscribers is how many subscriptions of a topic the server is serving now (for tests: a
// subscription at LATEST gets only events published after it is served).
func (p *PubSubServer) Subscribers(topic string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subs[topic]
}

// startAt is the replay id a subscription delivers after.
func (p *PubSubServer) startAt(ctx context.Context, req *eventbus.FetchRequest) (int64, error) {
	oldest, newest := p.log.Window()
	switch req.GetReplayPreset() {
	case eventbus.ReplayPreset_EARLIEST:
		return oldest - 1, nil
	case eventbus.ReplayPreset_CUSTOM:
		if len(req.GetReplayId()) == 0 {
			return 0, rpcError(ctx, codes.InvalidArgument, pubsub.CodeReplayMissing, "The replay preset is CUSTOM and no replay ID was given.")
		}
		n, ok := pubsub.ReplayNumber(req.GetReplayId())
		if !ok || n < oldest-1 || n > newest {
			return 0, rpcError(ctx, codes.InvalidArgument, pubsub.CodeReplayCorrupted, "The Replay ID validation failed: %s is not a replay ID within the retention window.", hex.EncodeToString(req.GetReplayId()))
		}
		return n, nil
	}
	return newest, nil
}

// response encodes logged events with their objects' current schemas.
func (p *PubSubServer) response(evs []bayeux.LoggedEvent) (*eventbus.FetchResponse, error) {
	resp := &eventbus.FetchResponse{RpcId: newRPCID()}
	for _, e := range evs {
		object := entityOf(e.Payload)
		es, err := p.schemaFor(object)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", e.ReplayID, err)
		}
		payload, err := es.encode(e.Payload)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", e.ReplayID, err)
		}
		if p.corrupt.Load() > 0 && p.corrupt.Add(-1) >= 0 {
			payload = corrupted(payload)
		}
		id := pubsub.ReplayIDOf(e.ReplayID)
		resp.Events = append(resp.Events, &eventbus.ConsumerEvent{ReplayId: id,
			Event: &eventbus.ProducerEvent{Id: eventUUID(p.org.OrgID(), e.ReplayID), SchemaId: es.id, Payload: payload}})
		resp.LatestReplayId = id
	}
	return resp, nil
}

// corrupted cuts a payload short and ends it with bytes no Avro string length can explain.
func corrupted(payload []byte) []byte {
	return append(append([]byte{}, payload[:len(payload)/3]...), 0xFF, 0xFF, 0xFF, 0xFF, 0x0F)
}

// entityOf reads the entity name of a logged change event without decoding the rest.
func entityOf(payload []byte) string {
	var e struct {
		Header struct {
			EntityName string `json:"entityName"`
		} `json:"ChangeEventHeader"`
	}
	_ = json.Unmarshal(payload, &e)
	return e.Header.EntityName
}

// eventUUID is a stable UUID-shaped id for an event.
func eventUUID(org string, replay int64) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s/%d", org, replay))
	return uuidString(sum[:])
}
