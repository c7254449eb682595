package enginetest

import (
	"flag"
	"fmt"
	"runtime"
	"strconv"
)

// MinParallel is how many tests of the runtime run at a time at least (unless -parallel says
// otherwise). They wait on the runtime's ticks, polls and backoffs and on Postgres, not on the CPU:
// with go test's default of one test per core, ./sync/engine took 374 s on 2 cores and its process
// used 17% of one; with 8 at a time it took 117 s (2026-12-08, load 4–11, no failure). Eight
// harnesses stay well inside Postgres's default 100 connections.
const MinParallel = 8

// RaiseParallel runs at least MinParallel parallel tests at a time, unless the command line set
// -test.parallel (which then wins). Call it from TestMain before m.Run.
func RaiseParallel() {
	if !flag.Parsed() {
		flag.Parse()
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if set || runtime.GOMAXPROCS(0) >= MinParallel {
		return
	}
	if err := flag.Set("test.parallel", strconv.Itoa(MinParallel)); err != nil {
		panic(fmt.Sprintf("enginetest: raise -test.parallel: %v", err))
	}
}
