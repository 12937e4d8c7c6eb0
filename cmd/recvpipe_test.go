//go:build linux

package cmd_test

// 'pq recv --all q | head -c 10': a reader that goes away after a few
// bytes. pq acks a message only once its body is completely written to
// stdout, so every message whose body did not get out whole stays in the
// queue.

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// headBody is the body of message i of n bytes: "<i>:" then letters, so that
// each body names its message and no two are equal.
func headBody(i, n int) []byte {
	b := fmt.Appendf(nil, "%06d:", i)
	for len(b) < n {
		b = append(b, byte('a'+len(b)%26))
	}
	return b[:n]
}

// TestRecvIntoShortReaderKeepsUnwrittenMessages sends messages, then runs
// 'pq recv --all q' with its stdout on a real pipe (shrunk to one page, so
// that what pq writes cannot hide in it) whose reader takes the first
// `take` bytes and closes it, as 'head -c' does. pq must exit 2 (EPIPE), and
// every message the reader did not get whole must still be in the queue,
// body intact: sent = received whole + left in new/, exactly, when the
// reader gets no whole body. Bodies of 100 bytes all fit pq's 64 KiB output
// buffer, so acking before the buffer is flushed loses them (with
// --lines, which makes pq's output go through that buffer); bodies of
// 200 KiB are larger than the buffer and the pipe together. In the last
// case the reader takes the first body whole and a little of the second:
// then no message may be lost (the first may come back as well, at least
// once).
func TestRecvIntoShortReaderKeepsUnwrittenMessages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name        string
		lines       bool // recv --lines: each body followed by a newline
		n, size     int
		take        int
		wholeBodies int // bodies the reader gets whole
	}{
		{"small bodies", false, 1000, 100, 10, 0},
		{"small bodies, --lines", true, 1000, 100, 10, 0},
		{"large bodies", false, 5, 200 << 10, 10, 0},
		{"large bodies, --lines", true, 5, 200 << 10, 10, 0},
		{"large bodies, the first whole", false, 5, 200 << 10, 200<<10 + 10, 1},
		{"large bodies, the first whole, --lines", true, 5, 200 << 10, 200<<10 + 1 + 10, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			const q = "q"
			s := newSpool(t)
			s.run(t, nil, []int{0}, "init", q)
			sent := map[string]bool{}
			var in bytes.Buffer
			for i := range c.n {
				b := headBody(i, c.size)
				sent[string(b)] = true
				in.Write(b)
				in.WriteByte('\n')
			}
			s.runPQ(t, in.String(), []int{0}, "send", "--lines", q)
			args := []string{"recv", "--all", q}
			if c.lines {
				args = append(args, "--lines")
			}
			got := s.recvIntoShortReader(t, c.take, args...)

			var received []string
			for i := range c.n {
				b := headBody(i, c.size)
				if c.lines {
					b = append(b, '\n')
				}
				if len(got) < len(b) || !bytes.Equal(got[:len(b)], b) {
					break
				}
				received = append(received, string(b[:c.size]))
				got = got[len(b):]
			}
			if len(received) != c.wholeBodies {
				t.Fatalf("the reader got %d whole bodies, want %d", len(received), c.wholeBodies)
			}
			if n := names(t, s.dir(q, "cur")); len(n) > 0 {
				t.Errorf("cur/ holds %d claims after pq exited", len(n))
			}
			queued := map[string]int{}
			for _, rel := range files(t, s.dir(q, "new")) {
				b, err := os.ReadFile(filepath.Join(s.dir(q, "new"), rel))
				if err != nil {
					t.Fatal(err)
				}
				if !sent[string(b)] {
					t.Errorf("new/%s holds a body that was never sent (%d bytes)", rel, len(b))
				}
				queued[string(b)]++
			}
			lost := 0
			for b := range sent {
				if queued[b] > 1 {
					t.Errorf("a body is in new/ %d times", queued[b])
				}
				if queued[b] == 0 && !slices.Contains(received, b) {
					lost++
				}
			}
			if lost > 0 {
				t.Errorf("%d of %d messages were neither received whole nor left in the queue", lost, c.n)
			}
			if c.wholeBodies == 0 && len(queued) != c.n {
				t.Errorf("sent %d, received whole 0, left in new/ %d", c.n, len(queued))
			}
		})
	}
}

// recvIntoShortReader runs pq with args into a one-page pipe whose reader
// takes take bytes, then closes its end. It returns what the reader got and
// fails unless pq exits 2.
func (s *spoolEnv) recvIntoShortReader(t *testing.T, take int, args ...string) []byte {
	t.Helper()
	r, w := pipe(t)
	if _, err := unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, 4096); err != nil {
		t.Fatalf("F_SETPIPE_SZ: %v", err)
	}
	cmd := s.command(args...)
	cmd.Stdout = w
	p := start(t, "pq "+strings.Join(args, " "), cmd, w)
	r.SetReadDeadline(time.Now().Add(callLimit))
	got := make([]byte, take)
	if _, err := io.ReadFull(r, got); err != nil {
		t.Fatalf("read %d bytes from pq recv: %v; stderr:\n%s", take, err, p.stderr.String())
	}
	r.Close()
	if code := p.waitWithin(t, callLimit); code != 2 {
		t.Errorf("pq recv into a closed pipe exited %d, want 2; stderr:\n%s", code, p.stderr.String())
	}
	return got
}
