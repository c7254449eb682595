package web_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/alexedwards/scs/pgxstore"
	"github.com/jackc/pgx/v5/pgxpool"

	"pgforce/handlers"
	"pgforce/internal/account"
	"pgforce/internal/apitoken"
	"pgforce/internal/keyring"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/diagnose"
	"pgforce/sync/doctor"
	"pgforce/sync/report"
	"pgforce/sync/store/storetest"
	"pgforce/web"
)

// app is the dashboard served over real HTTP against a fresh schema.
type app struct {
	t        testing.TB
	srv      *httptest.Server
	pool     *pgxpool.Pool
	schema   string // pgforce's own schema; connection schemas are made from it
	accounts *account.Service
	admin    *admin.Service // real; no sync runs, so nothing changes behind the tests' back
	orgs     *testOrgs
	h        *handlers.Handlers
	log      *strings.Builder
}

func newApp(t testing.TB) *app { return newAppTLS(t, false) }

// newAppTLS serves the dashboard over HTTPS when tls is set, as behind a TLS listener.
func newAppTLS(t testing.TB, tls bool) *app {
	t.Helper()
	pool, schema := storetest.Pool(t)
	logs := &strings.Builder{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs}, nil))
	st := pgxstore.NewWithCleanupInterval(pool, 0)
	sessions := web.NewSessions(st, tls, log)
	accounts := account.New(pool)
	kr, err := keyring.New([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	// The org is served first, the app's address known before it is: the org's connected app
	// must name the app's callback.
	srv := httptest.NewUnstartedServer(nil)
	scheme := "http"
	if tls {
		scheme = "https"
	}
	orgs := newTestOrgs(t, scheme+"://"+srv.Listener.Addr().String()+"/oauth/callback")
	adm := admin.New(admin.Options{Pool: pool, Keyring: kr, Orgs: orgs, Log: log})
	h := &handlers.Handlers{Log: log, Sessions: sessions, Accounts: accounts, Ready: func(ctx context.Context) error { return pool.Ping(ctx) },
		Connections: adm.Connections, Mappings: adm.Mappings, Configuration: adm.Configuration, Writes: adm.Writes, Verifications: adm.Verifications, Conflicts: adm.Conflicts,
		Reports: report.New(pool), Tokens: apitoken.New(pool), Diagnose: diagnose.Checker{Connections: adm.Connections, Mappings: adm.Mappings, Reports: report.New(pool), Verifications: adm.Verifications},
		SimulatedOrg: true, SimulatedLoginURL: orgs.srv.URL}
	srv.Config.Handler = web.New(web.Deps{Log: log, Sessions: sessions, Handlers: h, TLS: tls})
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	h.BaseURL = srv.URL
	h.Doctor = doctor.Doctor{Inspection: adm.Inspection, Mappings: adm.Mappings, RedirectURL: srv.URL + "/oauth/callback"}
	return &app{t: t, srv: srv, pool: pool, schema: schema, accounts: accounts, admin: adm, orgs: orgs, h: h, log: logs}
}

func (a *app) user(email string, role account.Role) {
	a.t.Helper()
	if _, err := a.accounts.Create(context.Background(), audit.System, email, "long enough password", role); err != nil {
		a.t.Fatal(err)
	}
}

// browser is a client with its own cookie jar that does not follow redirects, so tests see them.
// Like a current browser, it says where its requests come from (Sec-Fetch-Site and Origin: this
// site) unless a test sets one of those headers itself, or makes it an old browser that sends neither.
type browser struct {
	t   testing.TB
	app *app
	c   *http.Client
	old bool // sends neither Sec-Fetch-Site nor Origin
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: a.t, app: a, c: &http.Client{Jar: jar, Transport: a.srv.Client().Transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// browserFrom is a browser connecting from another loopback address (127.0.0.2, …), as a second
// client address for the server.
func (a *app) browserFrom(ip string) *browser {
	b := a.browser()
	tr := a.srv.Client().Transport.(*http.Transport).Clone()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	tr.DialContext = d.DialContext
	b.c.Transport = tr
	return b
}

type response struct {
	*http.Response
	body string
}

func (b *browser) do(method, path string, form url.Values, headers ...string) response {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.app.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	b.sayWhereFrom(req)
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(raw)}
}

// sayWhereFrom adds the headers a current browser sends with a request from the dashboard's own
// pages, unless the test chose them.
func (b *browser) sayWhereFrom(req *http.Request) {
	if b.old || req.Header.Get("Sec-Fetch-Site") != "" || req.Header.Get("Origin") != "" {
		return
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		req.Header.Set("Origin", b.app.srv.URL)
	}
}

func (b *browser) get(path string) response { return b.do(http.MethodGet, path, nil) }

func (b *browser) post(path string, form url.Values, headers ...string) response {
	return b.do(http.MethodPost, path, form, headers...)
}

func (b *browser) login(email string) {
	b.t.Helper()
	res := b.post("/login", url.Values{"email": {email}, "password": {"long enough password"}})
	if res.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("login %s: status %d\n%s", email, res.StatusCode, res.body)
	}
}

func (b *browser) sessionCookie() string {
	u, _ := url.Parse(b.app.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "pgforce_session" || c.Name == "__Host-pgforce_session" {
			return c.Value
		}
	}
	return ""
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
