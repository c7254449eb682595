package salesforce_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"pgforce/sync/engine/mapping"
	"pgforce/sync/engine/table"
	"pgforce/sync/salesforce"
)

// FuzzDescribeResponses serves any body as an object's describe and maps every field it lists: the
// client never panics, a body it cannot read is an error naming the describe, and whatever a
// describe says, mapping validation either refuses a field with a message or yields a table whose
// every column has a type and a name Postgres keeps as it is.
func FuzzDescribeResponses(f *testing.F) {
	for _, s := range []string{
		`{"name":"Account","label":"Account","queryable":true,"createable":true,"updateable":true,"fields":[
			{"name":"Id","type":"id","length":18},{"name":"SystemModstamp","type":"datetime"},{"name":"IsDeleted","type":"boolean"},
			{"name":"Name","type":"string","length":255,"createable":true,"updateable":true},
			{"name":"Parent","type":"reference","referenceTo":["Account"],"relationshipName":"Parent"},
			{"name":"BillingAddress","type":"address"},{"name":"Logo__c","type":"base64"},
			{"name":"Select","type":"double","precision":18,"scale":2},{"name":"My \"quoted\" field","type":"textarea","length":32768}]}`,
		`{"name":"X","fields":[{"name":"","type":"string"},{"name":"id","type":"string"},{"name":"ID","type":"id"}]}`,
		`{"name":"X","fields":[{"name":"A","type":"string","length":-1},{"name":"B","type":"string","length":99999999999}]}`,
		`{"name":"X","fields":[{"name":"` + strings.Repeat("Long", 20) + `__c","type":"int"},{"name":"_hc_lastop","type":"string"}]}`,
		`{"name":"X","fields":[{"name":"A\u0000B","type":"string"},{"name":"\ud800","type":"string"}]}`,
		`{"name":"X","fields":null}`, `{"fields":[null, 1, "x"]}`, `[]`, `null`, ``, `{`, `{"name":1}`,
	} {
		f.Add([]byte(s))
	}
	var body atomic.Pointer[[]byte]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(*body.Load())
	}))
	f.Cleanup(srv.Close)
	c, err := salesforce.New(context.Background(), salesforce.Options{
		App:        salesforce.App{LoginURL: srv.URL, ClientID: "id", ClientSecret: "secret"},
		Token:      &salesforce.Token{AccessToken: "access", RefreshToken: "refresh", InstanceURL: srv.URL},
		APIVersion: "62.0", MaxAttempts: 1, Backoff: func(int) time.Duration { return 0 },
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		body.Store(&raw)
		d, err := c.Describe(context.Background(), "Account")
		if err != nil {
			if !strings.Contains(err.Error(), "describe") {
				t.Fatalf("an unreadable describe must say so: %v", err)
			}
			return
		}
		obj := mapping.Object{Name: d.Name, Queryable: d.Queryable, Createable: d.Createable, Updateable: d.Updateable}
		cfg := mapping.NewConfig()
		for _, sf := range d.Fields {
			obj.Fields = append(obj.Fields, mapping.Field{Name: sf.Name, Type: sf.Type, Length: sf.Length, Precision: sf.Precision, Scale: sf.Scale,
				Digits: sf.Digits, Nillable: sf.Nillable, Createable: sf.Createable, Updateable: sf.Updateable, ExternalID: sf.ExternalID,
				ReferenceTo: sf.ReferenceTo, RelationshipName: sf.RelationshipName})
			cfg.Fields[sf.Name] = struct{}{}
		}
		res, problems := mapping.Validate(cfg, obj, mapping.Env{}, "config")
		for _, p := range problems {
			if p.Message == "" || p.Path == "" {
				t.Fatalf("a problem without a message or path: %+v", p)
			}
		}
		if len(problems) > 0 {
			return
		}
		for _, tf := range res.Table {
			if _, err := table.ColumnType(tf); err != nil {
				t.Fatalf("validation accepted field %q of type %q that has no column: %v", tf.Name, tf.Type, err)
			}
			if err := table.CheckIdentifier("column", table.Column(tf.Name)); err != nil {
				t.Fatalf("validation accepted field %q: %v", tf.Name, err)
			}
		}
	})
}
