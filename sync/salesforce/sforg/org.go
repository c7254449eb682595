package sforg

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
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
	// AllowPasswordFlow turns on "Allow OAuth Username-Password Flows" (off, as in orgs created since
	// Summer '23); the embedded demo and `pgforce sforg` turn it on.
	AllowPasswordFlow bool
	// AllowSOAPLogin enables SOAP API login() up to API 64.0 (off, as in new orgs).
	AllowSOAPLogin bool
	// PKCEOptional lets the built-in connected app's web-server flow run without PKCE (it requires it).
	PKCEOptional bool
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
	// Latency is added to every API call (REST, composite, Bulk; not the control API, OAuth or
	// streaming) before it is answered, as a real org's round trip of 100–300 ms; 0: none.
	Latency time.Duration
	// BulkJobTime is how long a Bulk API 2.0 job takes to complete once it has its query or data,
	// before its rows count: Salesforce runs jobs asynchronously. Default: 10 × Latency (none
	// without latency, the job being complete at once).
	BulkJobTime time.Duration
	// BulkRowsPerSecond is how fast a Bulk job processes its rows on top of BulkJobTime; default
	// 100,000 with a latency, unlimited without.
	BulkRowsPerSecond int
	Now               func() time.Time
}

// Org is a simulated Salesforce org.
type Org struct {
	opts Options
	mux  *http.ServeMux

	mu        sync.RWMutex
	locked    map[string]int // record id → writes refused with UNABLE_TO_LOCK_ROW (LockRecord)
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
	// saveGenerated makes generate save every record one by one, as it does for objects a compact
	// block cannot hold: tests compare the two.
	saveGenerated bool

	auth     authState
	settings orgSettings
	cursors  map[string]*cursor
	jobs     map[string]*bulkJob
	faults   []*Fault
	apiUsed  int
	calls    map[string]int
	byClient map[string]map[string]int // client named in Sforce-Call-Options → kind → calls
	hooks    []func(Change)
	// held collects change events while an allOrNone /composite request runs: they are published
	// when it commits and dropped when it rolls back, as Salesforce emits none for a rolled-back transaction.
	held *[]Change
	muts atomic.Int64 // bumped by every change, for persistence
	bus  *bayeux.Server
	// cdc holds the objects selected for Change Data Capture (lower-case names).
	cdc        map[string]bool
	overflowAt int
	// schemaModified is when the org's metadata last changed beyond one object's describe (an object
	// removed, the user's permissions changed, the org restored): describe global's Last-Modified is
	// the latest of it and every visible object's.
	schemaModified time.Time
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
	if opts.Latency > 0 && opts.BulkJobTime == 0 {
		opts.BulkJobTime = 10 * opts.Latency
	}
	if opts.Latency > 0 && opts.BulkRowsPerSecond == 0 {
		opts.BulkRowsPerSecond = 100_000
	}
	opts.BasePath = strings.TrimRight(opts.BasePath, "/")
	o := &Org{opts: opts, tables: map[string]*table{}, seq: map[string]uint64{}, cursors: map[string]*cursor{},
		jobs: map[string]*bulkJob{}, calls: map[string]int{}, byClient: map[string]map[string]int{}}
	o.reset()
	o.routes()
	return o
}

// reset returns the org to its initial state (metadata, the admin user, demo data).
func (o *Org) reset() {
	o.schemaModified = o.opts.Now().UTC()
	o.tables = map[string]*table{}
	o.seq = map[string]uint64{}
	o.orgID = newID("00D", 1)
	o.settings = o.defaultSettings()
	for _, def := range standardObjects(o.opts.Now().UTC()) {
		o.tables[strings.ToLower(def.Name)] = newTable(def)
	}
	o.auth = newAuthState()
	o.cursors, o.jobs, o.faults, o.calls, o.apiUsed = map[string]*cursor{}, map[string]*bulkJob{}, nil, map[string]int{}, 0
	profiles := o.table("Profile")
	admin := o.mustSave(profiles, map[string]any{"Name": "System Administrator", "UserType": "Standard"})
	standard := o.mustSave(profiles, map[string]any{"Name": "Standard User", "UserType": "Standard"})
	users := o.table("User")
	user := func(username, first, last, alias, title string, profile *row) *row {
		return o.mustSave(users, map[string]any{
			"Username": username, "LastName": last, "FirstName": first, "Email": username, "Alias": alias, "IsActive": true, "Title": title,
			"TimeZoneSidKey": "GMT", "LocaleSidKey": "en_US", "EmailEncodingKey": "UTF-8", "LanguageLocaleKey": "en_US",
			"ProfileId": profiles.id(profile), "UserType": "Standard",
		})
	}
	// The org's user (the integration user pgforce signs in as) and a sales rep who owns records of
	// their own: without View All Data those are not visible to the integration user.
	o.userID = users.id(user(o.opts.Username, "Org", "Admin", "oadmin", "System Administrator", admin))
	user("sales@pgforce.test", "Sam", "Seller", "sseller", "Account Executive", standard)
	for _, t := range o.tables {
		for _, r := range t.rows { // the first records predate the user who created them
			for _, f := range []string{"CreatedById", "LastModifiedById", "OwnerId"} {
				if i, fd := t.def.field(f); fd != nil && r.val(i) == nil {
					r.own()[i] = o.userID
				}
			}
		}
	}
	o.syncPermissionRow()
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

// loginPath is where the org's generic login host is mounted: the role of login.salesforce.com,
// which signs users in and hands out tokens whose instance_url is the org's My Domain (the org's
// root). Data (REST, Bulk, streaming) is served only at the instance, as in Salesforce.
const loginPath = "/login"

type ctxLoginHost struct{}

// onLoginHost reports whether a request came through the generic login host.
func onLoginHost(r *http.Request) bool { return r.Context().Value(ctxLoginHost{}) != nil }

// Handler serves the whole org: OAuth, REST, Bulk, streaming, the control API and the record browser.
func (o *Org) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; p == loginPath || strings.HasPrefix(p, loginPath+"/") {
			r2 := r.Clone(context.WithValue(r.Context(), ctxLoginHost{}, true))
			r2.URL.Path, r2.URL.RawPath = cmpOr(strings.TrimPrefix(p, loginPath), "/"), ""
			r = r2
		}
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

// baseURL is the org's instance URL (its My Domain) as the client reached it.
func (o *Org) baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + o.opts.BasePath
}

// loginURL is the host a request signed in through: the generic login host or the My Domain.
func (o *Org) loginURL(r *http.Request) string {
	if onLoginHost(r) {
		return o.baseURL(r) + loginPath
	}
	return o.baseURL(r)
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

// versionRe matches an API version path segment: v62.0, or "latest".
var versionRe = regexp.MustCompile(`^v(\d{2,3})\.0$`)

// The versions an org offers: Winter '27 (68.0) is the newest; 21.0 to 30.0 were retired in Summer '25.
const (
	latestVersionNumber = 68
	minVersionNumber    = 31
	latestVersion       = "68.0"
)

// apiVersion parses a version segment ("v62.0" → "62.0"); "latest" is the newest version. It does
// not say whether the org offers it (see offered).
func apiVersion(seg string) (string, bool) {
	if seg == "latest" {
		return latestVersion, true
	}
	m := versionRe.FindStringSubmatch(seg)
	if m == nil {
		return "", false
	}
	return m[1] + ".0", true
}

// versionNumber is a version's major number ("62.0" → 62).
func versionNumber(v string) int {
	n, _ := strconv.Atoi(strings.TrimSuffix(v, ".0"))
	return n
}

// offered checks a request's API version: a retired one is 410 Gone, one the org does not have 404.
func (o *Org) offered(seg string) (string, *apiError) {
	o.mu.RLock()
	max := o.settings.maxVersion
	o.mu.RUnlock()
	if seg == "latest" {
		return strconv.Itoa(max) + ".0", nil
	}
	v, ok := apiVersion(seg)
	n := versionNumber(v)
	switch {
	case !ok || n > max:
		return "", &apiError{Status: 404, Code: "NOT_FOUND", Message: "The requested resource does not exist"}
	case n < minVersionNumber:
		return "", &apiError{Status: 410, Code: "UNSUPPORTED_API_VERSION", Message: fmt.Sprintf("API version %s has been retired; use version %d.0 or later", v, minVersionNumber)}
	}
	return v, nil
}

// ---- API middleware: faults, authentication, limits ----

// api wraps a REST handler: injected faults, bearer authentication (401 INVALID_SESSION_ID), the daily
// API counter (403 REQUEST_LIMIT_EXCEEDED) and Sforce-Limit-Info on every response.
func (o *Org) api(kind string, h func(w http.ResponseWriter, r *http.Request, s *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if o.fault(w, r) {
			return
		}
		s := o.sessionFor(r)
		if s == nil || onLoginHost(r) { // a session is valid on its instance only
			writeError(w, &apiError{Status: 401, Code: "INVALID_SESSION_ID", Message: "Session expired or invalid"})
			return
		}
		o.mu.RLock()
		enabled := o.settings.apiEnabled
		o.mu.RUnlock()
		if !enabled {
			writeError(w, &apiError{Status: 403, Code: "API_CURRENTLY_DISABLED", Message: "API is disabled for this User"})
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
		client := callClient(r)
		if o.byClient[client] == nil {
			o.byClient[client] = map[string]int{}
		}
		o.byClient[client][kind]++
		used, max := o.apiUsed, o.opts.DailyAPILimit
		o.mu.Unlock()
		if !o.roundTrip(r) {
			return
		}
		w.Header().Set("Sforce-Limit-Info", fmt.Sprintf("api-usage=%d/%d", used, max))
		h(w, r, s)
	}
}

// roundTrip waits for the org's latency (Options.Latency); it reports false when the client gave up meanwhile.
func (o *Org) roundTrip(r *http.Request) bool {
	if o.opts.Latency <= 0 {
		return true
	}
	t := time.NewTimer(o.opts.Latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

// bulkDuration is how long a Bulk job of n rows runs before it is complete.
func (o *Org) bulkDuration(n int) time.Duration {
	d := o.opts.BulkJobTime
	if o.opts.BulkRowsPerSecond > 0 {
		d += time.Duration(n) * time.Second / time.Duration(o.opts.BulkRowsPerSecond)
	}
	return d
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
