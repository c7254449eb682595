package sforg

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"pgforce/sync/salesforce/bayeux"
)

// Options configure an org. Zero values take the documented defaults.
type Options struct {
	ClientID     string   // connected app consumer key; default DemoClientID
	ClientSecret string   // default DemoClientSecret
	Username     string   // the org's user; default DemoUsername
	Password     string   // default DemoPassword
	RedirectURIs []string // the connected app's callback URLs, exact; none: every authorize is refused
	// AccessTokenLifetime is how long an access token works (Salesforce's session timeout); default 2h.
	AccessTokenLifetime time.Duration
	RotateRefreshTokens bool  // a refresh returns a new refresh token and retires the old one
	DailyAPILimit       int   // default 100000
	Seed                int64 // > 0: demo records generated from this seed; 0: metadata only
	ControlToken        string
	// BasePath is where the org is mounted in a bigger server ("/sim" inside pgforce); URLs it
	// returns include it.
	BasePath string
	// QueryPageSize is the default REST query page (Salesforce: 2000).
	QueryPageSize int
	// BulkPageSize is the default Bulk API results page when maxRecords is not given.
	BulkPageSize int
	// LongPollTimeout bounds CometD long polls (tests shorten it).
	LongPollTimeout time.Duration
	// ChangeDataCapture lists the objects selected for Change Data Capture at creation (Setup →
	// Change Data Capture): only they publish change events. Empty: with demo data (Seed > 0) every
	// object the org starts with, the demo selecting its objects; without, none, as in a new org.
	ChangeDataCapture []string
	// OverflowThreshold is how many changes one transaction publishes before the rest become
	// overflow events (GAP_OVERFLOW); default 100,000 as in Salesforce.
	OverflowThreshold int
	Now               func() time.Time
}

// Org is a simulated Salesforce org.
type Org struct {
	opts Options
	mux  *http.ServeMux

	mu        sync.RWMutex
	orgID     string
	userID    string
	tables    map[string]*table
	seq       map[string]uint64
	lastStamp time.Time
	// pinnedStamp, when set, is the stamp of the next writes: all of one Generate call (a data load
	// commits as one transaction, and stamping it a millisecond per record would run the clock into
	// the future), or once, for CreateCommittedLate.
	pinnedStamp time.Time
	pinOnce     bool

	auth    authState
	cursors map[string]*cursor
	jobs    map[string]*bulkJob
	faults  []*Fault
	apiUsed int
	calls   map[string]int
	hooks   []func(Change)
	// held collects change events while an allOrNone /composite request runs: they are published
	// when it commits and dropped when it rolls back, as Salesforce emits none for a rolled-back transaction.
	held *[]Change
	muts atomic.Int64 // bumped by every change, for persistence
	bus  *bayeux.Server
	// cdc holds the objects selected for Change Data Capture (lower-case names).
	cdc        map[string]bool
	overflowAt int
	// pubsub is the org's Pub/Sub API server, when one serves it (pubsub.go).
	pubsub atomic.Pointer[PubSubServer]
}

// New returns an isolated in-memory org.
func New(opts Options) *Org {
	if opts.ClientID == "" {
		opts.ClientID = DemoClientID
	}
	if opts.ClientSecret == "" {
		opts.ClientSecret = DemoClientSecret
	}
	if opts.Username == "" {
		opts.Username = DemoUsername
	}
	if opts.Password == "" {
		opts.Password = DemoPassword
	}
	if opts.AccessTokenLifetime <= 0 {
		opts.AccessTokenLifetime = 2 * time.Hour
	}
	if opts.DailyAPILimit <= 0 {
		opts.DailyAPILimit = 100000
	}
	if opts.QueryPageSize <= 0 {
		opts.QueryPageSize = 2000
	}
	if opts.BulkPageSize <= 0 {
		opts.BulkPageSize = 50000
	}
	if opts.LongPollTimeout <= 0 {
		opts.LongPollTimeout = 110 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.BasePath = strings.TrimRight(opts.BasePath, "/")
	o := &Org{opts: opts, tables: map[string]*table{}, seq: map[string]uint64{}, cursors: map[string]*cursor{},
		jobs: map[string]*bulkJob{}, calls: map[string]int{}}
	o.reset()
	o.routes()
	return o
}

// reset returns the org to its initial state (metadata, the admin user, demo data).
func (o *Org) reset() {
	o.tables = map[string]*table{}
	o.seq = map[string]uint64{}
	o.orgID = newID("00D", 1)
	for _, def := range standardObjects(o.opts.Now().UTC()) {
		o.tables[strings.ToLower(def.Name)] = newTable(def)
	}
	o.auth = newAuthState()
	o.cursors, o.jobs, o.faults, o.calls, o.apiUsed = map[string]*cursor{}, map[string]*bulkJob{}, nil, map[string]int{}, 0
	users := o.table("User")
	u, _, err := o.save(users, nil, map[int]any{
		idx(users, "Username"): o.opts.Username, idx(users, "LastName"): "Admin", idx(users, "FirstName"): "Org",
		idx(users, "Email"): o.opts.Username, idx(users, "Alias"): "oadmin", idx(users, "IsActive"): true, idx(users, "Title"): "System Administrator",
	}, "")
	if err != nil {
		panic("sforg: seed admin user: " + err.Error())
	}
	o.userID = users.id(u)
	u.vals[idx(users, "CreatedById")] = o.userID
	u.vals[idx(users, "LastModifiedById")] = o.userID
	if o.opts.Seed > 0 {
		o.seedDemo(o.opts.Seed)
	}
	o.cdc, o.overflowAt = o.initialCDC(o.opts.Seed > 0), o.opts.OverflowThreshold
}

func idx(t *table, field string) int {
	i, f := t.def.field(field)
	if f == nil {
		panic("sforg: no field " + field + " on " + t.def.Name)
	}
	return i
}

// mutations counts changes so far (records, tokens).
func (o *Org) mutations() int64 { return o.muts.Load() }

func lower(s string) string { return strings.ToLower(s) }

// OrgID is the org's 18-character id.
func (o *Org) OrgID() string { return o.orgID }

// UserID is the org user's id.
func (o *Org) UserID() string { return o.userID }

// Handler serves the whole org: OAuth, REST, Bulk, streaming, the control API and the record browser.
func (o *Org) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Salesforce ignores a trailing slash on REST resources (".../sobjects/Lead/"), and clients
		// send one; the version's resource list itself is ".../v62.0/".
		if p := r.URL.Path; strings.HasSuffix(p, "/") && strings.Contains(p, "/services/data/v") && strings.Count(p[strings.Index(p, "/services/data/v"):], "/") > 4 {
			r2 := r.Clone(r.Context())
			r2.URL.Path = strings.TrimSuffix(p, "/")
			r2.URL.RawPath = ""
			r = r2
		}
		o.mux.ServeHTTP(w, r)
	})
}

// baseURL is the org's absolute URL as the client reached it.
func (o *Org) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + o.opts.BasePath
}

// path prefixes a site-relative path with the org's base path.
func (o *Org) path(p string) string { return o.opts.BasePath + p }

// ---- responses ----

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, []*apiError{e})
}

// versionRe matches an API version path segment: v62.0 (any version from 20.0) or "latest".
var versionRe = regexp.MustCompile(`^v(\d{2,3})\.0$`)

const latestVersion = "64.0"

func apiVersion(seg string) (string, bool) {
	if seg == "latest" {
		return latestVersion, true
	}
	m := versionRe.FindStringSubmatch(seg)
	if m == nil {
		return "", false
	}
	var n int
	fmt.Sscanf(m[1], "%d", &n)
	if n < 20 || n > 70 {
		return "", false
	}
	return m[1] + ".0", true
}

// ---- API middleware: faults, authentication, limits ----

type ctxSession struct{}

// api wraps a REST handler: injected faults, bearer authentication (401 INVALID_SESSION_ID), the daily
// API counter (403 REQUEST_LIMIT_EXCEEDED) and Sforce-Limit-Info on every response.
func (o *Org) api(kind string, h func(w http.ResponseWriter, r *http.Request, s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o.fault(w, r) {
			return
		}
		s := o.sessionFor(r)
		if s == nil {
			writeError(w, &apiError{Status: 401, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid"})
			return
		}
		if isSubrequest(r) {
			h(w, r, s) // part of a composite call, counted once
			return
		}
		o.mu.Lock()
		if o.apiUsed >= o.opts.DailyAPILimit {
			used, max := o.apiUsed, o.opts.DailyAPILimit
			o.mu.Unlock()
			w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, max))
			writeError(w, &apiError{Status: 403, Code: "REQUEST_LIMIT_EXCEEDED", Message: "TotalRequests Limit exceeded."})
			return
		}
		o.apiUsed++
		o.calls[kind]++
		used, max := o.apiUsed, o.opts.DailyAPILimit
		o.mu.Unlock()
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, max))
		h(w, r, s)
	}
}

// dropConnection closes the client's connection without a response (a network failure).
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
			return
		}
	}
	panic(http.ErrAbortHandler)
}
