package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

// newStreamingBench polls rarely, so only change events can make changes arrive quickly.
func newStreamingBench(t *testing.T) *bench {
	b := newBench(t, benchOpts{seed: 6, noStart: true})
	b.opts.PollInterval = time.Hour
	b.e = engine.New(b.opts)
	t.Cleanup(b.e.Stop)
	if err := b.e.Start(b.ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAcceleratedMappingStreamsChangesWithinASecond(t *testing.T) {
	t.Parallel()
	b := newStreamingBench(t)
	b.connState(connection.Idle)
	cfg := mapping.NewConfig("Name", "Industry")
	cfg.SFNotifyEnabled = true
	m, err := b.e.CreateMapping(b.ctx, admin, b.conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.mappingState(m.ID, mapping.DataSynced)
	// Give the subscription a moment to open; changes made before it opens are covered by the
	// catch-up poll the engine runs when it subscribes, so this only affects the timing measured.
	time.Sleep(300 * time.Millisecond)
	for i := 0; i < 5; i++ {
		id, err := b.org.CreateAsUser("Account", map[string]any{"Name": fmt.Sprintf("Streamed %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		b.eventually("the streamed insert", 5*time.Second, func() (bool, string) { return b.count("account", "sfid = $1", id) == 1, "" })
		if took := time.Since(start); took > time.Second {
			t.Errorf("change %d took %v to arrive in accelerated mode", i, took)
		}
	}
	b.eventually("the replay id stored with the data", 5*time.Second, func() (bool, string) {
		m, _ := b.e.Mapping(b.ctx, m.ID)
		return m.ReplayID != nil && *m.ReplayID > 0, fmt.Sprint(m.ReplayID)
	})
	// The stream is lost and its events with it: the engine resubscribes and catches up by polling.
	b.org.DropStreamingClients()
	b.org.ForgetEventsBefore(1 << 40)
	id, _ := b.org.CreateAsUser("Account", map[string]any{"Name": "After the gap"})
	b.eventually("the change made during the gap", 10*time.Second, func() (bool, string) { return b.count("account", "sfid = $1", id) == 1, "" })
}
