package web_test

import (
	"bytes"
	"context"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/jackc/pgx/v5"

	"pgforce/internal/account"
	"pgforce/sync/admin"
	"pgforce/sync/audit"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/store/storetest"
)

var testAdmin = audit.Actor{Name: "test", Kind: audit.ActorSystem}

// connection creates a sandbox connection (its login host is the test's org) whose schema belongs
// to this test (dropped at the end), authorized unless told otherwise.
func (a *app) connection(suffix string, authorize bool) connection.Connection {
	a.t.Helper()
	ctx := context.Background()
	schema := a.schema + "_" + suffix
	a.t.Cleanup(func() { storetest.DropSchema(a.t, schema) })
	c, err := a.admin.Connections.Create(ctx, testAdmin, admin.NewConnection{Name: "conn " + suffix, Schema: schema, OrgType: connection.Sandbox})
	if err != nil {
		a.t.Fatal(err)
	}
	if authorize {
		if c, err = a.admin.Connections.AuthorizeWithPassword(ctx, testAdmin, c.ID, sforg.DemoUsername, sforg.DemoPassword); err != nil {
			a.t.Fatal(err)
		}
	}
	return c
}

// mapping maps an object of the test's org through the engine.
func (a *app) mapping(connID int64, object string, fields ...string) mapping.Mapping {
	a.t.Helper()
	m, err := a.admin.Mappings.Create(context.Background(), testAdmin, connID, object, mapping.NewConfig(fields...))
	if err != nil {
		a.t.Fatal(err)
	}
	return m
}

func (a *app) exec(sql string, args ...any) {
	a.t.Helper()
	if _, err := a.pool.Exec(context.Background(), sql, args...); err != nil {
		a.t.Fatalf("%s: %v", sql, err)
	}
}

// state sets a connection's or mapping's state directly: the engine is not running, so tests put
// things in the state they need.
func (a *app) connState(id int64, s connection.State) {
	a.exec(`UPDATE connections SET state = $2 WHERE id = $1`, id, string(s))
}

func (a *app) mappingState(id int64, s mapping.State) {
	a.exec(`UPDATE mappings SET state = $2 WHERE id = $1`, id, string(s))
	if !s.Loading() && s != mapping.Aborted {
		// A settled mapping holds a completed load (the engine would not have let it settle otherwise).
		a.exec(`UPDATE mappings SET watermark = now(), load_started_at = now(), load_finished_at = now() WHERE id = $1`, id)
	}
}

func ident(parts ...string) string { return pgx.Identifier(parts).Sanitize() }

// admin signs in a new admin browser.
func (a *app) adminBrowser() *browser {
	a.t.Helper()
	a.user("admin@example.com", account.Admin)
	b := a.browser()
	b.login("admin@example.com")
	return b
}

func (b *browser) htmx(method, path string, form url.Values) response {
	return b.do(method, path, form, "HX-Request", "true")
}

// upload posts a multipart form with one file.
func (b *browser) upload(path, field, filename string, content []byte, fields url.Values) response {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			_ = mw.WriteField(k, v)
		}
	}
	if field != "" {
		fw, _ := mw.CreateFormFile(field, filename)
		_, _ = fw.Write(content)
	}
	_ = mw.Close()
	req, _ := http.NewRequest(http.MethodPost, b.app.srv.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	b.sayWhereFrom(req)
	res, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return response{Response: res, body: string(raw)}
}

// follow GETs the Location of a redirect.
func (b *browser) follow(res response) response {
	b.t.Helper()
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || loc == "" {
		b.t.Fatalf("expected a 303, got %d: %.300s", res.StatusCode, res.body)
	}
	return b.get(loc)
}

func (r response) doc(t *testing.T) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// text is the whitespace-normalised text of the first match.
func text(d *goquery.Document, sel string) string {
	return strings.Join(strings.Fields(d.Find(sel).First().Text()), " ")
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func dropSchema(t *testing.T, schema string) { storetest.DropSchema(t, schema) }
