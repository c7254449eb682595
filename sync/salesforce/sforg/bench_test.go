package sforg_test

import (
	"context"
	"io"
	"runtime"
	"testing"

	"pgforce/internal/bench"
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
	c := loggedIn(b, ctx, srv.URL)
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

// BenchmarkGenerateMillion generates a million records of a custom object like the bench's load
// object (goal: ≥ 200,000 records/s, so that 10M take under a minute, and a few GB at most):
// go test -run '^$' -bench GenerateMillion -benchtime 1x ./sync/salesforce/sforg
func BenchmarkGenerateMillion(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		b.StopTimer()
		org := sforg.New(sforg.Options{})
		if err := org.AddObject("Load__c", "Load", bench.LoadFields()...); err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		if err := org.Generate("Load__c", n, 1); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(org)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/record")
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkBulkQueryGeneratedMillion streams a 1M-record Bulk API 2.0 query of generated records,
// whose values are computed as they are read (the bench's load figure reads them so):
// go test -run '^$' -bench BulkQueryGeneratedMillion -benchtime 1x ./sync/salesforce/sforg
func BenchmarkBulkQueryGeneratedMillion(b *testing.B) {
	const n = 1_000_000
	org, srv := sforgtest.NewServer(b, sforg.Options{AllowPasswordFlow: true})
	if err := org.AddObject("Load__c", "Load", bench.LoadFields()...); err != nil {
		b.Fatal(err)
	}
	if err := org.Generate("Load__c", n, 1); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	c := loggedIn(b, ctx, srv.URL)
	fields := "Id, IsDeleted, SystemModstamp, Name, CreatedDate"
	for _, f := range bench.LoadFields() {
		fields += ", " + f.Name
	}
	b.ResetTimer()
	for b.Loop() {
		_, err := c.BulkQuery(ctx, "SELECT "+fields+" FROM Load__c", false, salesforce.BulkQueryOptions{}, func(page io.Reader) error {
			_, err := io.Copy(io.Discard, page)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "records/s")
}

// loggedIn is a client of the org at url, logged in as its demo user.
func loggedIn(b *testing.B, ctx context.Context, url string) *salesforce.Client {
	b.Helper()
	app := salesforce.App{LoginURL: url, ClientID: sforg.DemoClientID, ClientSecret: sforg.DemoClientSecret}
	tok, err := app.Password(ctx, sforg.DemoUsername, sforg.DemoPassword)
	if err != nil {
		b.Fatal(err)
	}
	c, err := salesforce.New(ctx, salesforce.Options{App: app, Token: tok})
	if err != nil {
		b.Fatal(err)
	}
	return c
}
