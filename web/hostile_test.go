package web_test

import (
	"context"
	"strings"
	"testing"

	"pgforce/sync/salesforce/sforg"
)

// TestHostileValuesAreShownEscaped: markup in Salesforce labels and in synced values, shown on every
// page that displays them (object picker, mapping form and detail, Explorer list and record, write
// history, Activity), is always text: the raw markup never reaches a page, its escaped form does.
func TestHostileValuesAreShownEscaped(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	const (
		labelXSS = `<script>alert("label")</script>`
		valueXSS = `<script>alert("value")</script>`
		attrXSS  = `"><img src=x onerror=alert(1)>`
		errXSS   = `<script>alert("error")</script>`
	)
	if err := a.orgs.org.AddObject("Evil__c", labelXSS,
		sforg.FieldDef{Name: "Note__c", Label: attrXSS, Type: "textarea", Length: 131072, Nillable: true, Createable: true, Updateable: true}); err != nil {
		t.Fatal(err)
	}
	b := a.adminBrowser()
	c := a.connection("xss", true)
	m := a.mapping(c.ID, "Evil__c", "Name", "Note__c")
	tbl := ident(c.Schema, "evil__c")
	long := strings.Repeat("x", 128<<10)
	// A row written by pgforce (a value from Salesforce), and one written by an application whose
	// write failed with a hostile message.
	a.asSync(`INSERT INTO `+tbl+` (sfid, name, note__c) VALUES ('a00000000000001AAA', $1, $2)`, valueXSS, attrXSS+long)
	a.exec(`INSERT INTO `+tbl+` (name, note__c) VALUES ($1, $2)`, valueXSS, attrXSS)
	a.exec(`UPDATE `+ident(c.Schema, "_trigger_log")+` SET state = 'FAILED', sf_message = $1, updated_at = now()`, errXSS)
	a.asSync(`UPDATE `+tbl+` SET _hc_lastop = 'FAILED', _hc_err = $1 WHERE sfid IS NULL`, errXSS)
	a.exec(`INSERT INTO events (connection_id, mapping_id, level, kind, message) VALUES ($1, $2, 'error', 'write', $3)`, c.ID, m.ID, errXSS)

	var rowID string
	if err := a.pool.QueryRow(t.Context(), `SELECT id::text FROM `+tbl+` WHERE sfid IS NULL`).Scan(&rowID); err != nil {
		t.Fatal(err)
	}
	pages := map[string][]string{
		"/mappings/new":                                    {labelXSS},
		"/mappings/" + itoa(m.ID):                          {},
		"/mappings/" + itoa(m.ID) + "/edit":                {labelXSS, attrXSS},
		"/explorer?mapping=" + itoa(m.ID):                  {valueXSS},
		"/explorer?mapping=" + itoa(m.ID) + "&q=%3Cscript": {valueXSS},
		"/explorer/" + itoa(m.ID) + "/" + rowID:            {valueXSS, errXSS},
		"/explorer/" + itoa(m.ID) + "/1":                   {valueXSS},
		"/activity":                                        {errXSS},
		"/":                                                {},
	}
	for path, shown := range pages {
		res := b.get(path)
		if res.StatusCode != 200 {
			t.Errorf("%s: %d", path, res.StatusCode)
			continue
		}
		for _, raw := range []string{labelXSS, valueXSS, errXSS, `<img src=x onerror`} {
			if strings.Contains(res.body, raw) {
				t.Errorf("%s: raw markup %q reached the page", path, raw)
			}
		}
		for _, s := range shown {
			doc := res.doc(t)
			if !strings.Contains(doc.Text(), s) {
				t.Errorf("%s: %q is not shown as text", path, s)
			}
		}
		checkCSP(t, path, res)
	}
}

// asSync runs a statement as pgforce's own writes do (not captured by the triggers).
func (a *app) asSync(sql string, args ...any) {
	a.t.Helper()
	ctx := context.Background()
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		a.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL xmlbinary = 'hex'`); err != nil {
		a.t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, sql, args...); err != nil {
		a.t.Fatalf("%s: %v", sql, err)
	}
	if err := tx.Commit(ctx); err != nil {
		a.t.Fatal(err)
	}
}
