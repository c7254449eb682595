package engine_test

import (
	"runtime"
	"strings"
	"testing"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
)

// runtimeFrames lists the goroutines whose stacks are in the runtime (the engine and the listeners it
// starts), this test's own excepted.
func runtimeFrames() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "runtimeFrames") || strings.Contains(g, "testing.tRunner") && !strings.Contains(g, "pgforce/sync/engine.") {
			continue
		}
		if strings.Contains(g, "pgforce/sync/engine.") || strings.Contains(g, "pgxlisten") {
			out = append(out, g)
		}
	}
	return out
}

// TestStopReturnsWhenEveryGoroutineOfTheRuntimeHasEnded: the supervisor, the syncer, its workers,
// its writer and the trigger log's listener, its change-event stream and the notification listener
// have all ended when Stop returns. Not parallel: other tests' engines would be in the stacks.
func TestStopReturnsWhenEveryGoroutineOfTheRuntimeHasEnded(t *testing.T) {
	b := enginetest.New(t, enginetest.Options{Seed: 2})
	b.ConnState(connection.Idle)
	cfg := mapping.NewConfig("Name")
	cfg.Access = mapping.ReadWrite
	cfg.SFNotifyEnabled = true // the stream subscribes
	m, err := b.Admin.Mappings.Create(b.Ctx, enginetest.Admin, b.Conn.ID, "Account", cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.MappingState(m.ID, mapping.DataSynced)
	if len(runtimeFrames()) == 0 {
		t.Fatal("the runtime shows no goroutine while running: the check sees nothing")
	}
	b.Engine.Stop()
	if left := runtimeFrames(); len(left) > 0 {
		t.Fatalf("%d goroutines of the runtime outlive Stop:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	b.Engine.Stop() // idempotent
}
