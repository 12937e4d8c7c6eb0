//go:build pqcrashpoints

package spool

import (
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// Built with the tag pqcrashpoints (tests only), pq kills itself with
// SIGKILL at the Nth step that traceFS reports, when $PQ_CRASH_AT is N:
// the command line tests run a sender once for each N in turn, to crash
// it at every step that makes data durable or visible.
func init() {
	n, err := strconv.Atoi(os.Getenv("PQ_CRASH_AT"))
	if err != nil || n < 1 {
		return
	}
	var steps atomic.Int64
	traceFS = func(op, path string) {
		if steps.Add(1) == int64(n) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
