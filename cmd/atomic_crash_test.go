package cmd_test

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// TestAnAtomicReceiveAcksAllOrNone kills `pq recv -n 600 --atomic` while
// it is blocked writing the bodies to a reader that stopped reading: after
// recovery, all 600 messages are back in the queue, though a plain receive
// would have acked its first few hundred by then.
func TestAnAtomicReceiveAcksAllOrNone(t *testing.T) {
	t.Parallel()
	const q, total, size = "unit", 600, 1024
	s := newSpool(t)
	body := strings.Repeat("x", size-1) + "\n"
	s.run(t, []byte(strings.Repeat(body, total)), []int{0}, "send", "--lines", q)
	r, w := pipe(t)
	cmd := s.command("recv", "-n", fmt.Sprint(total), "--atomic", "--lines", q)
	cmd.Stdout = w
	p := start(t, "receiver", cmd, w)
	// Read half of the bodies; the receiver then fills the pipe and blocks.
	if _, err := io.ReadFull(r, make([]byte, total/2*size)); err != nil {
		t.Fatalf("read half the bodies: %v", err)
	}
	// Blocked, it holds more than 300 claims: the half read, what fills
	// the pipe and its buffer. A plain receive would have acked 256 and
	// so held fewer than 200.
	waitUntil(t, "300 claims held", func() bool { return len(names(t, s.dir(q, "cur"))) >= 300 }, p)
	p.cmd.Process.Kill()
	<-p.done
	r.Close()
	s.run(t, nil, []int{0}, "recover", q)
	if n := len(s.waiting(t, q)); n != total {
		t.Fatalf("%d messages in the queue after the killed atomic receive, want all %d", n, total)
	}
}
