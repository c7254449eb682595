package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine"
	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
)

// newStreamingHarness polls rarely, so only change events can make changes arrive quickly.
func newStreamingHarness(t *testing.T) *enginetest.Harness {
	b := enginetest.New(t, enginetest.Options{Seed: 6, NoStart: true})
	b.Options.PollInterval = time.Hour
	b.Engine = engine.New(b.Options)
	t.Cleanup(b.Engine.Stop)
	if err := b.Engine.Start(b.Ctx); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAcceleratedMappingStreamsChangesWithinASecond(t *testing.T) {
	t.Parallel()
	b := newStreamingHarness(t)
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Name", "Industry")
	cfg.SFNotifyEnabled = true
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	// Polls are an hour apart: a change arriving now came by the stream, so the subscription is open
	// before the changes whose latency is measured.
	if _, err := b.Org.CreateAsUser("Account", map[string]any{"Name": "Warm-up"}); err != nil {
		t.Fatal(err)
	}
	b.Eventually("the first streamed change", 20*time.Second, func() (bool, string) {
		return b.Count("account", "name = 'Warm-up'") == 1, ""
	})
	for i := 0; i < 5; i++ {
		id, err := b.Org.CreateAsUser("Account", map[string]any{"Name": fmt.Sprintf("Streamed %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		b.Eventually("the streamed insert", 5*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", id) == 1, "" })
		if took := time.Since(start); took > time.Second {
			t.Errorf("change %d took %v to arrive in accelerated mode", i, took)
		}
	}
	b.Eventually("the replay id stored with the data", 5*time.Second, func() (bool, string) {
		m, _ := b.Admin.Mappings.Get(b.Ctx, m.ID)
		return m.ReplayID != nil && *m.ReplayID > 0, fmt.Sprint(m.ReplayID)
	})
	// The stream is lost and its events with it: the engine resubscribes and catches up by polling.
	b.Org.DropStreamingClients()
	b.Org.ForgetEventsBefore(1 << 40)
	id, _ := b.Org.CreateAsUser("Account", map[string]any{"Name": "After the gap"})
	b.Eventually("the change made during the gap", 10*time.Second, func() (bool, string) { return b.Count("account", "sfid = $1", id) == 1, "" })
}
