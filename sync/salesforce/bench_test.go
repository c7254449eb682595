package salesforce_test

import (
	"context"
	"fmt"
	"io"
	"testing"

	"pgforce/sync/salesforce"
	"pgforce/sync/salesforce/sforg"
)

// The client's throughput against the simulated org, with the API calls each 10,000 records cost:
// go test -bench . -benchtime 3x ./sync/salesforce
const benchRecords = 10_000

func benchClient(b *testing.B) (*sforg.Org, *salesforce.Client) {
	org, c, _ := newClient(b, sforg.Options{})
	if err := org.Generate("Lead", benchRecords, 1); err != nil {
		b.Fatal(err)
	}
	return org, c
}

func report(b *testing.B, org *sforg.Org, before map[string]int, records int) {
	calls := 0
	for k, v := range org.APICalls() {
		calls += v - before[k]
	}
	b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(calls)/float64(b.N)*10_000/float64(records), "calls/10k")
}

func BenchmarkRESTQuery(b *testing.B) {
	org, c := benchClient(b)
	ctx := context.Background()
	before := org.APICalls()
	b.ResetTimer()
	for b.Loop() {
		n, err := c.Query(ctx, "SELECT Id, LastName, Company, Email, Status FROM Lead", false, func(salesforce.Record) error { return nil })
		if err != nil || n < benchRecords {
			b.Fatalf("%d records: %v", n, err)
		}
	}
	report(b, org, before, benchRecords)
}

func BenchmarkBulkQuery(b *testing.B) {
	org, c := benchClient(b)
	ctx := context.Background()
	before := org.APICalls()
	b.ResetTimer()
	for b.Loop() {
		_, err := c.BulkQuery(ctx, "SELECT Id, LastName, Company, Email, Status FROM Lead", false, salesforce.BulkQueryOptions{}, func(page io.Reader) error {
			_, err := io.Copy(io.Discard, page)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	report(b, org, before, benchRecords)
}

func BenchmarkCollectionsUpsert(b *testing.B) {
	org, c := benchClient(b)
	ctx := context.Background()
	recs := make([]map[string]any, benchRecords)
	for i := range recs {
		recs[i] = map[string]any{"External_Id__c": fmt.Sprintf("BENCH-%d", i), "Amount__c": i}
	}
	before := org.APICalls()
	b.ResetTimer()
	for b.Loop() {
		res, err := c.UpsertMany(ctx, "Invoice__c", "External_Id__c", recs, false)
		if err != nil || len(res) != benchRecords || !res[0].Success {
			b.Fatalf("%d results: %v", len(res), err)
		}
	}
	report(b, org, before, benchRecords)
}
