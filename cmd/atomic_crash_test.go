package cmd_test

import (
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// countMessages counts the message files under dir, as a receiver walking
// it at that moment would find them; a directory removed meanwhile is no
// error.
func countMessages(dir string) int {
	n := 0
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	return n
}

// TestAnAtomicSendIsAllOrNothing kills `pq send --atomic --lines` of
// 10,000 messages at many points, spread from the reading of its input to
// the end of its commit. Each time the queue
// then holds none of the batch or all of it, and a watcher that walks
// new/ all along, as a receiver does, never finds a part of it.
func TestAnAtomicSendIsAllOrNothing(t *testing.T) {
	const total = 10000
	s := newSpool(t)
	var input strings.Builder
	for i := range total {
		fmt.Fprintf(&input, "line %d\n", i)
	}
	// One whole send, to learn how long one takes here: the kills below
	// fall at fractions of that, from the reading of the input to the
	// end of the commit.
	began := time.Now()
	s.run(t, []byte(input.String()), []int{0}, "send", "--atomic", "--lines", "whole")
	whole := time.Since(began)
	if n := countMessages(s.dir("whole", "new")); n != total {
		t.Fatalf("a whole atomic send left %d messages, want %d", n, total)
	}
	committed, points := 0, 0
	for _, pct := range []int{30, 80, 95, 100, 115} {
		points++
		q := fmt.Sprintf("killed-at-%d", pct)
		s.run(t, nil, []int{0}, "init", q)
		cmd := s.command("send", "--atomic", "--lines", q)
		cmd.Stdin = strings.NewReader(input.String())
		p := start(t, "sender "+q, cmd)
		seen := watch(s.dir(q, "new"), p.done)
		time.Sleep(whole * time.Duration(pct) / 100) // a kill point, not a wait for an event
		p.cmd.Process.Kill()
		<-p.done
		for _, n := range <-seen {
			if n != 0 && n != total {
				t.Errorf("%s: a receiver walking new/ during the send found %d messages", q, n)
			}
		}
		switch n := countMessages(s.dir(q, "new")); n {
		case 0:
		case total:
			committed++
		default:
			t.Fatalf("%s: %d messages in the queue, want 0 or %d", q, n, total)
		}
		// What the killed sender left in tmp/ is never seen, and goes.
		s.run(t, nil, []int{0}, "recover", q)
	}
	t.Logf("a whole send took %v; %d of %d killed senders had committed", whole, committed, points)
}

// watch walks dir over and over, as a receiver would, until done is
// closed, and then sends the counts of messages it found.
func watch(dir string, done <-chan struct{}) <-chan []int {
	out := make(chan []int, 1)
	go func() {
		var seen []int
		for {
			select {
			case <-done:
				out <- append(seen, countMessages(dir))
				return
			default:
				if n := countMessages(dir); len(seen) == 0 || seen[len(seen)-1] != n {
					seen = append(seen, n)
				}
				time.Sleep(5 * time.Millisecond) // leave the sender a core
			}
		}
	}()
	return out
}

// TestAnAtomicReceiveAcksAllOrNone kills `pq recv -n 600 --atomic` while
// it is blocked writing the bodies to a reader that stopped reading: after
// recovery, all 600 messages are back in the queue, though a plain receive
// would have acked its first few hundred by then.
func TestAnAtomicReceiveAcksAllOrNone(t *testing.T) {
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
