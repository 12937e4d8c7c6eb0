package cmd_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"pq/spool"
)

// drainQueue claims, reads and acks every message of q through the
// library, and returns the bodies by message ID.
func drainQueue(t *testing.T, s *spoolEnv, q string) map[string]string {
	t.Helper()
	sq, err := spool.Open(s.root, q, spool.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r := sq.NewReceiver()
	defer r.Close()
	got := map[string]string{}
	for {
		c, err := r.Claim()
		if errors.Is(err, spool.ErrEmpty) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(c.Body())
		if err != nil {
			t.Fatal(err)
		}
		if err := sq.Ack(c); err != nil {
			t.Fatal(err)
		}
		got[string(c.ID())] = string(b)
	}
}

// dedupResult is what one pq send --dedup-id printed.
type dedupResult struct {
	id  string
	dup bool // it said "pq: duplicate of ID" on stderr
	err error
}

// sendDedup runs pq send --dedup-id key q with body on stdin, bounded by
// stepLimit; for goroutines other than the test's.
func (s *spoolEnv) sendDedup(q, key, body string) dedupResult {
	cmd := s.command("send", "--dedup-id", key, q)
	cmd.Stdin = strings.NewReader(body)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return dedupResult{err: err}
	}
	code, err := waitBounded(cmd, stepLimit)
	if err == nil && code != 0 {
		err = fmt.Errorf("exit %d: %s", code, errOut.String())
	}
	id := strings.TrimSuffix(out.String(), "\n")
	dup := errOut.String() == "pq: duplicate of "+id+"\n"
	if err == nil && !dup && errOut.Len() > 0 {
		err = fmt.Errorf("stderr %q", errOut.String())
	}
	return dedupResult{id: id, dup: dup, err: err}
}

// Eight senders of each of 100 keys at once, each its own process: exactly
// one message per key, whose id every sender of the key printed, and
// exactly one sender per key that was not told it sent a duplicate.
func TestConcurrentDedupSendersMakeOneMessagePerKey(t *testing.T) {
	t.Parallel()
	const (
		q       = "dedup"
		keys    = 100
		senders = 8
	)
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", q)
	results := make([][]dedupResult, keys)
	var wg sync.WaitGroup
	slots := make(chan struct{}, 2*senders) // two keys in flight at a time
	for k := range keys {
		results[k] = make([]dedupResult, senders)
		for i := range senders {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				key := fmt.Sprintf("key-%03d", k)
				results[k][i] = s.sendDedup(q, key, key)
			}()
		}
	}
	wg.Wait()
	ids := map[string]string{} // id -> key
	for k, rs := range results {
		key := fmt.Sprintf("key-%03d", k)
		fresh := 0
		for _, r := range rs {
			if r.err != nil {
				t.Fatalf("%s: %v", key, r.err)
			}
			if r.id != rs[0].id {
				t.Errorf("%s: senders printed %s and %s", key, rs[0].id, r.id)
			}
			if !r.dup {
				fresh++
			}
		}
		if fresh != 1 {
			t.Errorf("%s: %d senders were not told of a duplicate, want 1", key, fresh)
		}
		ids[rs[0].id] = key
	}
	got := drainQueue(t, s, q)
	if len(got) != keys {
		t.Errorf("%d messages in the queue, want %d", len(got), keys)
	}
	for id, body := range got {
		if ids[id] != body {
			t.Errorf("message %s holds %q; the senders of %q printed it", id, body, ids[id])
		}
	}
}

// crashBinary builds pq with the tag pqcrashpoints into a directory of
// the test's: with $PQ_CRASH_AT=N it kills itself at the Nth durable step
// (see spool/crashpoint.go).
func crashBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "pq")
	out, err := exec.Command("go", "build", "-tags", "pqcrashpoints", "-o", bin, "pq").CombinedOutput()
	if err != nil {
		t.Fatalf("go build -tags pqcrashpoints: %v\n%s", err, out)
	}
	return bin
}

// A sender of a dedup id killed at each durable step in turn, then run
// again with the same id, with a receiver draining the queue in between
// or not: each key ends with exactly one message delivered, and it is the
// one whose id the second run printed.
func TestKilledDedupSenderRetriedMakesOneMessage(t *testing.T) {
	t.Parallel()
	const q = "dedup"
	bin := crashBinary(t)
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", q)
	printed := map[string]string{} // key -> the id the retry printed
	delivered := map[string]string{}
	killed := 0
	for n := 1; ; n++ {
		if n > 100 {
			t.Fatal("a dedup send still had steps left at the 100th")
		}
		finished := false
		for _, drain := range []bool{false, true} {
			key := fmt.Sprintf("step-%d-drain-%v", n, drain)
			cmd := exec.Command(bin, "send", "--dedup-id", key, q)
			cmd.Env = append(s.env, fmt.Sprintf("PQ_CRASH_AT=%d", n))
			cmd.Stdin = strings.NewReader(key)
			p := start(t, key, cmd)
			p.waitWithin(t, stepLimit)
			var ee *exec.ExitError
			if errors.As(p.err, &ee) {
				if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
					t.Fatalf("%s ended with %v, want SIGKILL or success; stderr:\n%s", key, p.err, p.stderr.String())
				}
				killed++
			} else if p.err == nil {
				finished = true
			}
			if drain {
				for id, body := range drainQueue(t, s, q) {
					delivered[id] = body
				}
			}
			r := s.sendDedup(q, key, key)
			if r.err != nil {
				t.Fatalf("retry of %s: %v", key, r.err)
			}
			printed[key] = r.id
		}
		if finished {
			break
		}
	}
	for id, body := range drainQueue(t, s, q) {
		delivered[id] = body
	}
	perKey := map[string]int{}
	for id, key := range delivered {
		perKey[key]++
		if printed[key] != id {
			t.Errorf("%s: message %s delivered, the retry printed %s", key, id, printed[key])
		}
	}
	for key := range printed {
		if perKey[key] != 1 {
			t.Errorf("%s: %d messages delivered, want 1", key, perKey[key])
		}
	}
	if killed < 10 {
		t.Errorf("only %d senders were killed: the crash points were not reached", killed)
	}
	t.Logf("%d keys, %d senders killed", len(printed), killed)
}
