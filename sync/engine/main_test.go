package engine_test

import (
	"flag"
	"os"
	"strconv"
	"testing"

	"pgforce/sync/engine/enginetest"
)

// TestMain runs more of the package's tests at a time than there are cores: they wait on the
// runtime's timers and on Postgres far more than they compute (see enginetest.MinParallel).
func TestMain(m *testing.M) {
	enginetest.RaiseParallel()
	os.Exit(m.Run())
}

// TestThePackageRunsAtLeastMinParallelTestsAtATime: without -parallel on the command line the
// package runs at least enginetest.MinParallel tests at a time; with it, what it says.
func TestThePackageRunsAtLeastMinParallelTestsAtATime(t *testing.T) {
	t.Parallel()
	given := false
	flag.Visit(func(f *flag.Flag) { given = given || f.Name == "test.parallel" })
	n, err := strconv.Atoi(flag.Lookup("test.parallel").Value.String())
	if err != nil {
		t.Fatal(err)
	}
	if !given && n < enginetest.MinParallel {
		t.Fatalf("-test.parallel is %d, want at least %d", n, enginetest.MinParallel)
	}
}
