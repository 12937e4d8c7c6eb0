package cmd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestKilledReceiversWhilePromotingDelayedMessages sends messages due in a
// moment, then kills receivers as they move them from .due/ into new/ and
// take them, at a different point in each round. Nothing may be lost, and
// nothing delivered twice but what a killed receiver held.
func TestKilledReceiversWhilePromotingDelayedMessages(t *testing.T) {
	t.Parallel()
	const (
		total = 2000
		q     = "due"
	)
	s := newSpool(t)
	var in strings.Builder
	for i := range total {
		fmt.Fprintf(&in, "body %04d\n", i)
	}
	s.run(t, []byte(in.String()), []int{0}, "send", "--lines", "--delay", "300ms", q)
	counts := make(bodyCount, total)
	held := 0
	for round, after := range []int{1, 200, 700} {
		cmd := s.command("recv", "--all", "--wait", "--lines", q)
		out := &strings.Builder{}
		cmd.Stdout = out
		victim := start(t, fmt.Sprintf("receiver %d", round+1), cmd)
		waitUntil(t, fmt.Sprintf("%d messages out of .due/", after), func() bool {
			return total-len(files(t, s.dir(q, ".due"))) >= after
		}, victim)
		victim.kill(t)
		counts.add(t, []byte(out.String()), true)
		held += len(names(t, s.dir(q, "cur")))
		s.run(t, nil, []int{0}, "recover", q)
	}
	// Drain what is left; on a loaded machine one receive of 2 s may not
	// take it all.
	for deadline := time.Now().Add(stepLimit); ; {
		counts.add(t, s.run(t, nil, []int{0, 1}, "recv", "--all", "--wait", "--timeout", "2s", "--lines", q), false)
		if len(s.waiting(t, q)) == 0 || time.Now().After(deadline) {
			break
		}
	}
	counts.check(t, held)
	if w := s.waiting(t, q); len(w) > 0 {
		t.Errorf("%d messages still waiting, first %s", len(w), w[0])
	}
}
