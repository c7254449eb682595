package sforg_test

import (
	"context"
	"io"
	"runtime"
	"testing"

	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/sforg"
	"pgforce/sync/salesforce/sforg/sforgtest"
)

// BenchmarkBulkQueryMillion streams a 1M-record Bulk API 2.0 query out of the org (the org must never
// be what limits pgforce's load benchmarks: goal ≥ 300k records/s):
// go test -run '^$' -bench BulkQueryMillion -benchtime 1x ./sync/salesforce/sforg
func BenchmarkBulkQueryMillion(b *testing.B) {
	const n = 1_000_000
	org, srv := sforgtest.NewServer(b, sforg.Options{AllowPasswordFlow: true})
	if err := org.Generate("Lead", n, 1); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	app := salesforce.App{LoginURL: srv.URL, ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
	tok, err := app.Password(ctx, sforg.DemoUsername, sforg.DemoPassword)
	if err != nil {
		b.Fatal(err)
	}
	c, err := salesforce.New(ctx, salesforce.Options{App: app, Token: tok})
	if err != nil {
		b.Fatal(err)
	}
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ResetTimer()
	var bytes int64
	for b.Loop() {
		_, err := c.BulkQuery(ctx, "SELECT Id, LastName, FirstName, Company, Email, Status, CreatedDate, SystemModstamp FROM Lead", false, salesforce.BulkQueryOptions{}, func(page io.Reader) error {
			m, err := io.Copy(io.Discard, page)
			bytes += m
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(bytes)/float64(b.N)/(1<<20), "MiB/query")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/(1<<20), "MiB-allocated/query")
}
