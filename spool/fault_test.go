package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// A scenario is one operation of the queue's parties, run with a fault
// injected at one step of it: setup (without faults), then op.
type scenario struct {
	name  string
	setup func(t *testing.T, q *Queue) // the messages sent beforehand
	op    func(q *Queue) error
	// sent are the bodies op sends, which it may or may not have sent
	// when it fails; taken is the body op acks, gone only when op
	// succeeds.
	sent  []string
	taken string
	// quiet says which failed step op may leave unreported, as a
	// warning: one that promises nothing.
	quiet func(q *Queue, op, path string) bool
	// check, when set, checks the queue after op instead of checkQueue.
	check func(t *testing.T, q *Queue, ok bool)
}

// sendBodies sends bodies, one message each, without faults.
func sendBodies(t *testing.T, q *Queue, bodies ...string) {
	t.Helper()
	for _, b := range bodies {
		if _, err := q.SendWith(strings.NewReader(b), SendOptions{Headers: []Header{{Key: "Body", Value: b}}}); err != nil {
			t.Fatal(err)
		}
	}
}

// claimOldest claims the oldest message.
func claimOldest(q *Queue) (*Claim, error) { return q.NewReceiver().Claim() }

func batchOf(n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("b%03d", i))
	}
	return out
}

func scenarios() []scenario {
	bulk := func(bodies []string, atomic bool) func(q *Queue) error {
		return func(q *Queue) error {
			b := q.NewBatch()
			if atomic {
				b = q.NewAtomicBatch()
			}
			defer b.Close()
			for _, body := range bodies {
				if err := b.AddWith(strings.NewReader(body), SendOptions{Headers: []Header{{Key: "Body", Value: body}}}); err != nil {
					return err
				}
			}
			_, err := b.Commit()
			return err
		}
	}
	three := func(t *testing.T, q *Queue) { sendBodies(t, q, "m1", "m2", "m3") }
	return []scenario{
		{name: "send", op: func(q *Queue) error {
			_, err := q.SendWith(strings.NewReader("one"), SendOptions{Headers: []Header{{Key: "Body", Value: "one"}}})
			return err
		}, sent: []string{"one"}},
		{name: "small batch", op: bulk(batchOf(5), false), sent: batchOf(5)},
		{name: "bulk batch", op: bulk(batchOf(bulkSync), false), sent: batchOf(bulkSync)},
		{name: "atomic batch", op: bulk(batchOf(4), true), sent: batchOf(4)},
		{name: "delayed send", op: func(q *Queue) error {
			_, err := q.SendWith(strings.NewReader("later"), SendOptions{Due: time.Now().Add(time.Hour)})
			return err
		}, sent: []string{"later"}},
		{name: "dedup send", op: func(q *Queue) error {
			_, err := q.SendWith(strings.NewReader("once"), SendOptions{DedupID: "k", Headers: []Header{{Key: "Body", Value: "once"}}})
			return err
		}, sent: []string{"once"}},
		{name: "group send and retry", op: func(q *Queue) error {
			if _, err := q.SendWith(strings.NewReader("g1"), SendOptions{Group: "g", Headers: []Header{{Key: "Body", Value: "g1"}}}); err != nil {
				return err
			}
			c, err := claimOldest(q)
			if err != nil {
				return err
			}
			defer c.f.Close()
			return c.Retry(time.Hour)
		}, sent: []string{"g1"}, quiet: func(q *Queue, op, path string) bool {
			// The first lock of a group makes .groups/: a receiver
			// that cannot lets the group's messages wait, warning.
			return op == "fsync-dir" && path == q.dir
		}},
		{name: "claim and ack", setup: three, taken: "m1", op: func(q *Queue) error {
			c, err := claimOldest(q)
			if err != nil {
				return err
			}
			if err := q.Ack(c); err != nil {
				c.f.Close()
				return err
			}
			return nil
		}},
		{name: "retry", setup: three, op: func(q *Queue) error {
			c, err := claimOldest(q)
			if err != nil {
				return err
			}
			defer c.f.Close()
			return c.Retry(time.Hour)
		}},
		{name: "release", setup: three, op: func(q *Queue) error {
			c, err := claimOldest(q)
			if err != nil {
				return err
			}
			defer c.f.Close()
			return c.Release()
		}},
		{name: "dead letter", setup: three, op: func(q *Queue) error {
			c, err := claimOldest(q)
			if err != nil {
				return err
			}
			defer c.f.Close()
			return c.DeadLetter(Reason{Cause: "test"})
		}},
		{name: "recover", setup: func(t *testing.T, q *Queue) {
			three(t, q)
			c, err := claimOldest(q)
			if err != nil {
				t.Fatal(err)
			}
			c.f.Close() // its consumer died
		}, op: func(q *Queue) error {
			_, err := q.Recover()
			return err
		}},
		{name: "rm", setup: three, taken: "m1", op: func(q *Queue) error {
			for m, err := range q.Messages(StateReady) {
				if err != nil {
					return err
				}
				_, err = q.Remove(m.Name.ID) // the oldest: m1
				return err
			}
			return errors.New("no message")
		}},
		{name: "pause and resume", setup: three, op: func(q *Queue) error {
			if err := q.Pause(); err != nil {
				return err
			}
			return q.Resume()
		}},
		{name: "move", setup: three, op: func(q *Queue) error {
			other, err := Open(filepath.Dir(q.dir), "other", Options{})
			if err != nil {
				return err
			}
			c, err := claimOldest(q)
			if err != nil {
				return err
			}
			if _, err := c.MoveTo(other); err != nil {
				c.f.Close()
				return err
			}
			return q.Ack(c)
		}, check: checkMove},
		{name: "redrive", setup: func(t *testing.T, q *Queue) {
			three(t, q)
			c, err := claimOldest(q)
			if err != nil {
				t.Fatal(err)
			}
			c.DeadLetter(Reason{Cause: "test"})
		}, op: func(q *Queue) error {
			_, err := q.Redrive()
			return err
		}},
	}
}

// faultKinds are the steps that faultFS can fail.
var faultKinds = []string{"create", "write", "fsync", "fsync-dir", "syncfs", "rename", "link", "mkdir", "unlink"}

// durable are the kinds of step whose failure must reach the caller.
var durable = map[string]bool{"fsync": true, "fsync-dir": true, "syncfs": true}

// Every operation, with ENOSPC, EDQUOT or EIO at each of its steps in
// turn: it fails with that error or goes on without the step; a failed
// fsync is always reported; no message is lost, none is in two places,
// none is visible without its whole body and headers; and once the disk
// is well again the queue works: every message is received.
func TestFaultsAtEveryStepLoseNothing(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			counts := map[string]int{}
			runScenario(t, sc, func(op, path string) error { counts[op]++; return nil })
			for _, kind := range faultKinds {
				for _, n := range stepsToFail(counts[kind]) {
					errno := []syscall.Errno{syscall.ENOSPC, syscall.EIO, syscall.EDQUOT}[n%3]
					t.Run(fmt.Sprintf("%s#%d", kind, n), func(t *testing.T) {
						seen, fired, where := 0, false, ""
						err, q := runScenario(t, sc, func(op, path string) error {
							if op == kind {
								if seen++; seen == n {
									fired, where = true, path
									return errno
								}
							}
							return nil
						})
						if !fired {
							t.Logf("the step did not come again: the run took another way")
							return
						}
						if durable[kind] && !errors.Is(err, errno) && (sc.quiet == nil || !sc.quiet(q, kind, where)) {
							t.Errorf("a failed %s was not reported: op returned %v", kind, err)
						}
						if sc.check != nil {
							sc.check(t, q, err == nil)
						} else {
							checkQueue(t, q, sc, err == nil)
						}
					})
				}
			}
		})
	}
}

// stepsToFail returns which of count steps of a kind to fail in turn:
// every one of a few, and of many (a bulk batch's 64 creates, writes and
// renames) the first three, the middle ones and the last three, where a
// batch changes how it goes.
func stepsToFail(count int) []int {
	var out []int
	for n := 1; n <= count; n++ {
		if count <= 12 || n <= 3 || n > count-3 || n == count/2 || n == count/2+1 {
			out = append(out, n)
		}
	}
	return out
}

// runScenario sets up a fresh queue, runs sc.op with faultFS set to f,
// and returns what op returned.
func runScenario(t *testing.T, sc scenario, f func(op, path string) error) (error, *Queue) {
	t.Helper()
	q := newQueue(t, Options{})
	if sc.setup != nil {
		sc.setup(t, q)
	}
	var mu sync.Mutex // files of a batch are synced by several goroutines
	faultFS = func(op, path string) error {
		mu.Lock()
		defer mu.Unlock()
		return f(op, path)
	}
	defer func() { faultFS = nil }()
	return sc.op(q), q
}

// checkQueue checks what q holds after sc.op, which succeeded or not:
// every body once, whole, with its headers; then recovers the queue and
// receives everything.
func checkQueue(t *testing.T, q *Queue, sc scenario, ok bool) {
	t.Helper()
	want := map[string]bool{}
	if sc.setup != nil {
		for _, b := range []string{"m1", "m2", "m3"} {
			want[b] = true
		}
	}
	if ok && sc.taken != "" {
		delete(want, sc.taken)
	}
	var maybe []string
	if ok {
		for _, b := range sc.sent {
			want[b] = true
		}
	} else {
		maybe = sc.sent
	}
	if !ok && sc.taken != "" {
		// An ack that failed may have removed the message all the same:
		// its unlink happened, the fsync that makes it durable did not.
		delete(want, sc.taken)
		maybe = append(maybe, sc.taken)
	}
	seen := map[string]int{}
	for _, dir := range []string{q.new, q.due, q.cur, q.dlq} {
		filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") || strings.HasSuffix(d.Name(), reasonSuffix) {
				return nil
			}
			b, _ := os.ReadFile(path)
			body := string(b)
			seen[body]++
			n := ParseName(d.Name())
			if n.Meta {
				m, err := q.readMeta(n.ID)
				if err != nil || len(m.Headers) != 1 || m.Headers[0].Value != body {
					t.Errorf("%s (%q): headers %+v, %v; want Body=%s", path, body, m.Headers, err, body)
				}
			}
			return nil
		})
	}
	for body, n := range seen {
		switch {
		case n > 1:
			t.Errorf("%q is in the queue %d times", body, n)
		case !want[body] && !slices.Contains(maybe, body):
			t.Errorf("%q is in the queue, whole or not, and was never sent", body)
		}
	}
	for body := range want {
		if seen[body] == 0 {
			t.Errorf("%q is lost", body)
		}
	}
	// Well again: recovered (and resumed, should a resume have failed),
	// everything is received.
	if err := q.Resume(); err != nil {
		t.Fatalf("resume once well again: %v", err)
	}
	if _, err := q.Recover(); err != nil {
		t.Fatalf("recover once well again: %v", err)
	}
	if _, err := q.Redrive(); err != nil {
		t.Fatalf("redrive once well again: %v", err)
	}
	r := q.NewReceiver()
	got := 0
	for {
		c, err := r.Claim()
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatalf("receive once well again: %v", err)
		}
		io.Copy(io.Discard, c.Body())
		q.Ack(c)
		got++
	}
	if delayed, _ := q.Summarize(time.Time{}); got+delayed.Delayed < len(want) {
		t.Errorf("received %d and %d wait delayed once well again, want at least %d", got, delayed.Delayed, len(want))
	}
}

// checkMove checks, once the disk is well and q recovered (which finishes
// the moves that a failure stopped half way), that each message is once
// in q or in the queue it was moved to, whole, and is received once.
func checkMove(t *testing.T, q *Queue, ok bool) {
	t.Helper()
	other, _ := Open(filepath.Dir(q.dir), "other", Options{})
	if _, err := q.Recover(); err != nil {
		t.Fatalf("recover once well again: %v", err)
	}
	got := map[string]int{}
	for _, qq := range []*Queue{q, other} {
		qq.Recover()
		r := qq.NewReceiver()
		for {
			c, err := r.Claim()
			if errors.Is(err, ErrEmpty) || errors.Is(err, ErrNoQueue) {
				break
			}
			if err != nil {
				t.Fatalf("receive from %s once well again: %v", qq.name, err)
			}
			b, _ := io.ReadAll(c.Body())
			got[string(b)]++
			qq.Ack(c)
		}
	}
	for _, body := range []string{"m1", "m2", "m3"} {
		if got[body] != 1 {
			t.Errorf("%q received %d times from the two queues, want once", body, got[body])
		}
	}
}
