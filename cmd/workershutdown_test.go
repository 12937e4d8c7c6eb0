//go:build linux

package cmd_test

// Worker tests of shutdown as a service manager does it, of jobs that
// succeed as they are being stopped, of poison messages, and of waits that
// fail.

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"pq/spool"
)

// blockingCommand records its shell's pid and that it started, then waits
// for $T/go.ID (which no test writes); trap is put in front of it.
func blockingCommand(trap string) string {
	return trap + `echo $$ >"$T/pid.$PQ_ID"; touch "$T/started.$PQ_ID"; "$T/waitfor" "$T/go.$PQ_ID"`
}

// TestWorkerStoppedWithItsJobs is a stop under systemd's default
// KillMode=control-group: SIGTERM (or SIGINT) reaches the worker and its
// running job's process group at once, and the job may die of it before
// the worker has seen its own signal. The job was interrupted, not failed:
// its message goes back untouched, with no attempt counted and not
// dead-lettered even with --max-attempts 1, and the worker exits 0. A shell
// that reports its child's death by the signal as exit status 143 or 130
// is interrupted too.
func TestWorkerStoppedWithItsJobs(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		sig  syscall.Signal
		trap string
	}{
		{"SIGTERM", syscall.SIGTERM, ""},
		{"SIGINT", syscall.SIGINT, ""},
		{"exit 143", syscall.SIGTERM, `trap 'exit 143' TERM; `},
		{"exit 130", syscall.SIGINT, `trap 'exit 130' INT; `},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpool(t)
			T := jobDir(t, s)
			s.runPQ(t, "", []int{0}, "init", "q")
			w := s.startWorker(t, "worker", nil, "recv", "--wait", "--max-attempts", "1", "--exec", blockingCommand(tt.trap), "q")
			waitUntil(t, "the worker to watch new/", func() bool { return w.watching(s, "q") }, w.proc)
			id := s.send(t, "q", "in flight")
			waitUntil(t, "the job to start", func() bool { return exists(filepath.Join(T, "started."+id)) }, w.proc)
			pid := readPid(t, filepath.Join(T, "pid."+id))

			// The job's group first: the job may die before the worker
			// gets its own signal.
			if err := syscall.Kill(-pid, tt.sig); err != nil {
				t.Fatalf("signal the job's process group: %v", err)
			}
			w.signal(t, tt.sig)
			w.expectExit(t, 0)

			if got := s.queued(t, "q"); !slices.Equal(got, []string{id}) {
				t.Errorf("new/ holds %q, want the message put back untouched as %s", got, id)
			}
			if d := s.deadLetters(t, "q"); len(d) > 0 {
				t.Errorf("dlq/ holds %q: an interrupted job counted as a failed attempt", d)
			}
			if n := names(t, s.dir("q", "cur")); len(n) > 0 {
				t.Errorf("cur/ holds %q", n)
			}
		})
	}
}

// TestWorkerAcksJobDoneAtShutdown shows that a job that exited 0 is acked
// even when the worker's shutdown begins before its claim is settled. The
// job leaves a process in a session of its own that holds its stderr open,
// so the worker is still reading the job's stderr when it is told to stop
// with --grace 0s, which stops every job not yet settled at once.
func TestWorkerAcksJobDoneAtShutdown(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	T := jobDir(t, s)
	s.runPQ(t, "", []int{0}, "init", "q")
	command := `echo $$ >"$T/job"; setsid sh -c 'echo $$ >"$T/pid.escaped"; "$T/waitfor" "$T/never"; :' </dev/null >/dev/null & ` +
		`"$T/waitfor" "$T/pid.escaped"; exit 0`
	w := s.startWorker(t, "worker", nil, "recv", "--wait", "--grace", "0s", "--exec", command, "q")
	waitUntil(t, "the worker to watch new/", func() bool { return w.watching(s, "q") }, w.proc)
	s.send(t, "q", "done before the stop")
	waitUntil(t, "the job to start", func() bool { return exists(filepath.Join(T, "job")) }, w.proc)
	job := readPid(t, filepath.Join(T, "job"))
	waitUntil(t, "the job to end", func() bool { return !alive(job) }, w.proc)
	if w.exited() || len(names(t, s.dir("q", "cur"))) == 0 {
		t.Fatal("the worker settled the job before the test could stop it: the escaped process did not hold its stderr")
	}
	w.signal(t, syscall.SIGTERM)
	w.expectExit(t, 0)
	s.assertDrained(t, "q")
	if d := s.deadLetters(t, "q"); len(d) > 0 {
		t.Errorf("dlq/ holds %q", d)
	}
}

// TestWorkerJobExitsZeroAtTimeout shows that a job that exits 0 just as its
// --job-timeout fires is acked: here it exits 0 on the SIGTERM that the
// timeout sends. Its real exit status decides, not the timer.
func TestWorkerJobExitsZeroAtTimeout(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	jobDir(t, s)
	s.send(t, "q", "just in time")
	command := `trap 'exit 0' TERM; "$T/waitfor" "$T/never"`
	_, stderr := s.runPQ(t, "", []int{0}, "recv", "--job-timeout", "200ms", "--max-attempts", "1", "--exec", command, "q")
	if strings.Contains(stderr, "timed out") {
		t.Errorf("pq's stderr:\n%s\nwant no timeout: the job exited 0", stderr)
	}
	s.assertDrained(t, "q")
	if d := s.deadLetters(t, "q"); len(d) > 0 {
		t.Errorf("dlq/ holds %q: a job that exited 0 was dead-lettered", d)
	}
}

// TestWorkerPoisonMessage shows that a message that comes with max_attempts
// failed attempts or more (one that killed its worker each time, say, and
// came back through recovery) is dead-lettered with the cause "too many
// attempts" without running the command again.
func TestWorkerPoisonMessage(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		attempts int
		poison   bool
	}{
		{9, true},  // far past 3
		{3, true},  // its next delivery would be attempt 4 of 3
		{2, false}, // its next delivery is attempt 3 of 3
	} {
		t.Run(fmt.Sprintf("a=%d", tt.attempts), func(t *testing.T) {
			s := newSpool(t)
			T := jobDir(t, s)
			id := s.send(t, "q", "poison")
			rel := files(t, s.dir("q", "new"))
			if len(rel) != 1 {
				t.Fatalf("new/ holds %q, want one message", rel)
			}
			from := filepath.Join(s.dir("q", "new"), rel[0])
			n := spool.ParseName(filepath.Base(from))
			n.Attempts = tt.attempts
			if err := os.Rename(from, filepath.Join(filepath.Dir(from), n.String())); err != nil {
				t.Fatal(err)
			}
			_, stderr := s.runPQ(t, "", []int{0}, "recv", "--max-attempts", "3", "--exec", `touch "$T/ran.$PQ_ATTEMPT"; exit 0`, "q")
			ran, _ := filepath.Glob(filepath.Join(T, "ran.*"))
			if !tt.poison {
				if len(ran) != 1 || filepath.Base(ran[0]) != "ran.3" {
					t.Errorf("the command ran as %q, want once, as attempt 3", ran)
				}
				s.assertDrained(t, "q")
				return
			}
			if len(ran) > 0 {
				t.Errorf("the command ran (%q) for a message past max_attempts", ran)
			}
			if !strings.Contains(stderr, "pq: q: "+id+": too many attempts") {
				t.Errorf("pq's stderr:\n%s\nwant a line that the message had too many attempts", stderr)
			}
			s.assertDrained(t, "q")
			out, _ := s.runPQ(t, "", []int{0}, "dlq", "q")
			if lines, _ := splitLines([]byte(out)); len(lines) != 1 || !strings.HasPrefix(lines[0], id+"\t") || !strings.HasSuffix(lines[0], "\ttoo many attempts") ||
				!strings.Contains(lines[0], fmt.Sprintf("\tattempts=%d\t", tt.attempts)) {
				t.Errorf("pq dlq printed:\n%s\nwant %s with its %d attempts, none added, and the cause too many attempts", out, id, tt.attempts)
			}
		})
	}
}

// TestWaitErrorIsAnError removes a queue's directory, or only its cur/
// (which the wait itself finds missing when it looks for dead claims),
// under a waiting receiver and a waiting worker: neither may end as if its
// wait had ended (exit 1 for a receiver, 0 for a worker), which a service
// manager would not restart. Both exit 2 with an error that names the
// queue.
func TestWaitErrorIsAnError(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, remove string
		args         []string
	}{
		{"receiver", "q", []string{"recv", "--wait", "q"}},
		{"worker", "q", []string{"recv", "--exec", "true", "--wait", "q"}},
		{"receiver without cur", "q/cur", []string{"recv", "--wait", "q"}},
		{"worker without cur", "q/cur", []string{"recv", "--exec", "true", "--wait", "q"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSpool(t)
			s.runPQ(t, "", []int{0}, "init", "q")
			w := s.startWorker(t, tt.name, nil, tt.args...)
			waitUntil(t, "pq to watch new/", func() bool { return w.watching(s, "q") }, w.proc)
			if err := os.RemoveAll(filepath.Join(s.root, tt.remove)); err != nil {
				t.Fatal(err)
			}
			w.expectExit(t, 2)
			if _, stderr := w.output(t); !strings.Contains(stderr, "pq: error: ") || !strings.Contains(stderr, "queue q") {
				t.Errorf("pq's stderr:\n%s\nwant an error that names the queue q", stderr)
			}
			if testing.Verbose() {
				_, stderr := w.output(t)
				t.Log(stderr)
			}
		})
	}
}
