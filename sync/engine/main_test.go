package engine_test

import (
	"os"
	"testing"

	"pgforce/sync/engine/enginetest"
)

// TestMain runs more of the package's tests at a time than there are cores: they wait on the
// runtime's timers and on Postgres far more than they compute (see enginetest.MinParallel).
func TestMain(m *testing.M) {
	enginetest.RaiseParallel()
	os.Exit(m.Run())
}
