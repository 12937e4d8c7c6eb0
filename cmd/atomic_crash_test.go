package cmd_test

import (
	"fmt"
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
	for _, pct := range []int{10, 50, 85, 95, 100, 110} {
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
				time.Sleep(time.Millisecond) // leave the sender a core
			}
		}
	}()
	return out
}
