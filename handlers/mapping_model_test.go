package handlers

import (
	"testing"
	"time"

	"pgforce/sync/engine/mapping"
)

// A load's progress has one source, the rows copied so far, and a rate only once it means something.
func TestLoadProgressCountsWhatTheLoadCopiedAndRatesOnlyOverSeconds(t *testing.T) {
	now := time.Now()
	expected := int64(500080)
	started := now.Add(-10 * time.Second)
	// A REST load is one COPY: what it copied is the progress, even between the fetch side's updates.
	if p := progressOf(mapping.ReloadTable, 2000, 2150, &expected, &started, now); p.Done != 2150 || p.Rate != 215 {
		t.Fatalf("REST load: %+v", p)
	}
	// A Bulk API load copies page by page: finished pages plus the page being copied.
	if p := progressOf(mapping.LoadingBulkJob, 300000, 12000, &expected, &started, now); p.Done != 312000 || p.Percent() != 62 {
		t.Fatalf("Bulk load: %+v", p)
	}
	// 60 rows a few milliseconds in: no rate yet, rather than "0.2/s".
	just := now.Add(-5 * time.Millisecond)
	sixty := int64(60)
	if p := progressOf(mapping.ReloadTable, 0, 60, &sixty, &just, now); p.Rate != 0 || p.ETA != 0 || p.Done != 60 {
		t.Fatalf("a load that just began: %+v", p)
	}
	if p := progressOf(mapping.DataSynced, 60, 0, &sixty, &just, now); p != nil {
		t.Fatalf("no progress once loaded: %+v", p)
	}
	finished := started.Add(4 * time.Second)
	m := mapping.Mapping{State: mapping.DataSynced, LoadDone: 20081, LoadStartedAt: &started, LoadFinishedAt: &finished}
	if got := lastLoad(m); got != "20,081 records in 4 s (5,020/s)" {
		t.Fatalf("last load: %q", got)
	}
}
