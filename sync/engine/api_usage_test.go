package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/enginetest"
	"pgforce/sync/engine/mapping"
)

func TestTheSyncerRecordsTheOrgsAPIUsageForOtherProcesses(t *testing.T) {
	t.Parallel()
	b := enginetest.New(t, enginetest.Options{Seed: 3})
	b.ConnState(connection.Idle)
	m := b.CreateMapping("Account", mapping.ReadOnly, "Name")
	b.MappingState(m.ID, mapping.DataSynced)
	b.Eventually("API usage to be recorded", 20*time.Second, func() (bool, string) {
		used, max, at, err := b.Admin.Connections.APIUsage(b.Ctx, b.Conn.ID)
		return err == nil && used > 0 && max > used && !at.IsZero(), fmt.Sprintf("%d/%d at %v: %v", used, max, at, err)
	})
}
