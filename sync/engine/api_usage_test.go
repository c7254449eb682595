package engine_test

import (
	"fmt"
	"testing"
	"time"

	"pgforce/sync/engine/connection"
	"pgforce/sync/engine/mapping"
)

func TestTheSyncerRecordsTheOrgsAPIUsageForOtherProcesses(t *testing.T) {
	t.Parallel()
	b := newBench(t, benchOpts{seed: 3})
	b.connState(connection.Idle)
	m := b.createMapping("Account", mapping.ReadOnly, "Name")
	b.mappingState(m.ID, mapping.DataSynced)
	b.eventually("API usage to be recorded", 20*time.Second, func() (bool, string) {
		used, max, at, err := b.e.APIUsage(b.ctx, b.conn.ID)
		return err == nil && used > 0 && max > used && !at.IsZero(), fmt.Sprintf("%d/%d at %v: %v", used, max, at, err)
	})
}
