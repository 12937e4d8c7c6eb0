//go:build linux

package cmd_test

// Worker tests of how a worker stops: on SIGTERM and SIGINT, killed with or
// without its command, past --job-timeout, and when its command cannot run.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"pq/spool"
)

// stillRunning pings the shutdownCommand running message id and fails the
// test unless it answers: it was not signalled.
func stillRunning(t *testing.T, T, id string, w *worker) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(T, "ping."+id), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	pong, termed := filepath.Join(T, "pong."+id), filepath.Join(T, "termed."+id)
	waitUntil(t, "the command to answer", func() bool { return exists(pong) || exists(termed) }, w.proc)
	if exists(termed) {
		t.Fatal("the running command was signalled on the worker's first signal")
	}
}

// TestWorkerShutdown shows what a waiting worker does on SIGTERM or SIGINT:
// it stops claiming, lets the running command finish for up to --grace, and
// exits 0; a command that is still running then is stopped and its message
// put back as it was, with no attempt counted; a second signal does that
// at once. The worker's inotify watch on new/ going away shows it has
// stopped claiming.
func TestWorkerShutdown(t *testing.T) {
	t.Parallel()
	// setup starts a waiting worker on an empty queue, sends it a message
	// and returns once the command for it has started.
	setup := func(t *testing.T, grace string) (s *spoolEnv, T string, w *worker, id string) {
		t.Helper()
		s = newSpool(t)
		T = jobDir(t, s)
		s.runPQ(t, "", []int{0}, "init", "q")
		w = s.startWorker(t, "worker", nil, "recv", "--wait", "--grace", grace, "--exec", shutdownCommand, "q")
		waitUntil(t, "the worker to watch new/", func() bool { return w.watching(s, "q") }, w.proc)
		id = s.send(t, "q", "in flight")
		waitUntil(t, "the command to start", func() bool { return exists(filepath.Join(T, "started."+id)) }, w.proc)
		return s, T, w, id
	}

	t.Run("a running command finishes", func(t *testing.T) {
		s, T, w, id := setup(t, "1m")
		w.signal(t, syscall.SIGTERM)
		waitUntil(t, "the worker to stop claiming", func() bool { return !w.watching(s, "q") }, w.proc)
		later := s.send(t, "q", "sent after the signal")
		stillRunning(t, T, id, w)
		if err := os.WriteFile(filepath.Join(T, "go."+id), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		w.expectExit(t, 0)
		if exists(filepath.Join(T, "termed."+id)) {
			t.Error("the command that finished within --grace was signalled")
		}
		if out, _ := w.output(t); out != "in flight" {
			t.Errorf("the worker's stdout is %q, want the command's output %q", out, "in flight")
		}
		// The finished message was acked; the one sent after the
		// signal was never claimed.
		if got := s.queued(t, "q"); !slices.Equal(got, []string{later}) {
			t.Errorf("new/ holds %q, want only the message sent after the signal, untouched: %s", got, later)
		}
		if n := names(t, s.dir("q", "cur")); len(n) > 0 {
			t.Errorf("cur/ holds %q", n)
		}
		if d := s.deadLetters(t, "q"); len(d) > 0 {
			t.Errorf("dlq/ holds %q", d)
		}
	})

	t.Run("grace runs out", func(t *testing.T) {
		s, T, w, id := setup(t, "200ms")
		pid := readPid(t, filepath.Join(T, "pid."+id))
		w.signal(t, syscall.SIGINT)
		w.expectExit(t, 0)
		if !exists(filepath.Join(T, "termed."+id)) {
			t.Error("the command still running after --grace was not sent SIGTERM")
		}
		waitUntil(t, "the stopped command to end", func() bool { return !alive(pid) })
		if got := s.queued(t, "q"); !slices.Equal(got, []string{id}) {
			t.Errorf("new/ holds %q, want the message put back untouched as %s", got, id)
		}
		if n := names(t, s.dir("q", "cur")); len(n) > 0 {
			t.Errorf("cur/ holds %q", n)
		}
		if d := s.deadLetters(t, "q"); len(d) > 0 {
			t.Errorf("dlq/ holds %q", d)
		}
		if out, _ := w.output(t); out != "" {
			t.Errorf("the stopped command printed %q", out)
		}
	})

	t.Run("a second signal stops at once", func(t *testing.T) {
		// --grace 5m: only the second signal can end the worker
		// within the test's wait limit.
		s, T, w, id := setup(t, "5m")
		w.signal(t, syscall.SIGTERM)
		waitUntil(t, "the worker to stop claiming", func() bool { return !w.watching(s, "q") }, w.proc)
		stillRunning(t, T, id, w)
		w.signal(t, syscall.SIGTERM)
		w.expectExit(t, 0)
		if !exists(filepath.Join(T, "termed."+id)) {
			t.Error("the second signal did not stop the running command")
		}
		if got := s.queued(t, "q"); !slices.Equal(got, []string{id}) {
			t.Errorf("new/ holds %q, want the message put back untouched as %s", got, id)
		}
		if n := names(t, s.dir("q", "cur")); len(n) > 0 {
			t.Errorf("cur/ holds %q", n)
		}
	})
}

// crashCommand is a job for the crash tests: it records its shell's pid,
// the name of its claimed file and that it started (each file suffixed by
// $WHO, the worker, and the attempt), waits for $T/go, then copies its
// body.
const crashCommand = `echo $$ >"$T/pid.$WHO.$PQ_ATTEMPT"; basename "$PQ_FILE" >"$T/name.$WHO.$PQ_ATTEMPT"; ` +
	`touch "$T/started.$WHO.$PQ_ATTEMPT"; "$T/waitfor" "$T/go"; cat >"$T/body.$WHO.$PQ_ATTEMPT"`

// startCrashPair starts worker A on a queue holding one message and waits
// until A's command runs it; then it starts worker B and waits until B,
// having found nothing to claim, watches the queue.
func startCrashPair(t *testing.T, s *spoolEnv, T, q, body string) (a, b *worker, id string) {
	t.Helper()
	id = s.send(t, q, body)
	a = s.startWorker(t, "worker A", []string{"WHO=A"}, "recv", "--wait", "--exec", crashCommand, q)
	waitUntil(t, "A's command to start", func() bool { return exists(filepath.Join(T, "started.A.1")) }, a.proc)
	b = s.startWorker(t, "worker B", []string{"WHO=B"}, "recv", "--wait", "--exec", crashCommand, q)
	waitUntil(t, "B to wait", func() bool { return b.watching(s, q) }, b.proc, a.proc)
	if got := names(t, s.dir(q, "cur")); !slices.Equal(got, []string{id}) {
		t.Fatalf("cur/ holds %q, want A's claim %s", got, id)
	}
	return a, b, id
}

// finishCrashPair lets B's command finish, checks that B handled the
// message on its second attempt with the body intact, and stops B.
func finishCrashPair(t *testing.T, s *spoolEnv, T, q, id, body string, b *worker) {
	t.Helper()
	if got := strings.TrimSpace(readFile(t, filepath.Join(T, "name.B.2"))); got != id+",a=1" {
		t.Errorf("B's PQ_FILE names %s, want %s,a=1: recovered, one failed attempt counted, no backoff", got, id)
	}
	if err := os.WriteFile(filepath.Join(T, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "B to ack the message", func() bool {
		return exists(filepath.Join(T, "body.B.2")) && len(names(t, s.dir(q, "cur"))) == 0 && len(s.waiting(t, q)) == 0
	}, b.proc)
	if got := readFile(t, filepath.Join(T, "body.B.2")); got != body {
		t.Errorf("B's command read %q, want %q", got, body)
	}
	b.signal(t, syscall.SIGTERM)
	b.expectExit(t, 0)
	if d := s.deadLetters(t, q); len(d) > 0 {
		t.Errorf("dlq/ holds %q", d)
	}
	s.assertDrained(t, q)
}

// TestWorkerKilledWithItsCommand SIGKILLs a worker and then its running
// command's process group. It proves that nothing is lost and that the
// message is not stuck: worker B, already waiting on the queue, notices the
// dead claim and runs the message as its attempt 2.
func TestWorkerKilledWithItsCommand(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	T := jobDir(t, s)
	const q, body = "crash", "keep me"
	a, b, _ := startCrashPair(t, s, T, q, body)
	id := strings.TrimSpace(readFile(t, filepath.Join(T, "name.A.1")))
	pid := readPid(t, filepath.Join(T, "pid.A.1"))
	// The worker first, so that it cannot see its command die and retry
	// the message itself.
	a.kill(t)
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill the command's process group: %v", err)
	}
	waitUntil(t, "B to run the message", func() bool { return exists(filepath.Join(T, "started.B.2")) }, b.proc)
	finishCrashPair(t, s, T, q, id, body, b)
}

// TestWorkerKilledCommandOrphaned SIGKILLs a worker but not its command. The
// orphaned command still holds the claim (its stdin is the claim's locked
// descriptor), so it proves that while the orphan runs the message goes to
// nobody else: worker B, waiting on the queue, looks at the claim (an inotify
// watch on cur/ sees it open the file) and leaves it in cur/, and pq
// recover leaves it too. Once the orphan ends, having read the whole body,
// B runs the message as its attempt 2.
func TestWorkerKilledCommandOrphaned(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	T := jobDir(t, s)
	const q, body = "orphan", "still mine"
	a, b, id := startCrashPair(t, s, T, q, body)
	pid := readPid(t, filepath.Join(T, "pid.A.1"))
	a.kill(t)
	if !alive(pid) {
		t.Fatal("the command died with its worker")
	}

	opens := watchOpens(t, s.dir(q, "cur"))
	deadline := time.After(stepLimit)
	for looked := false; !looked; {
		select {
		case name := <-opens:
			looked = name == id
		case <-b.done:
			t.Fatalf("B exited: %v; stderr:\n%s", b.err, b.stderr.String())
		case <-deadline:
			t.Fatalf("B did not look at the orphaned claim within %v", stepLimit)
		}
	}
	if got := names(t, s.dir(q, "cur")); !slices.Equal(got, []string{id}) {
		t.Fatalf("while the orphan runs cur/ holds %q, want its claim %s", got, id)
	}
	if exists(filepath.Join(T, "started.B.2")) || exists(filepath.Join(T, "started.B.1")) {
		t.Fatal("B ran the message while the orphaned command still held it")
	}
	if out, _ := s.runPQ(t, "", []int{0}, "recover", q); out != "" {
		t.Errorf("pq recover with the orphan running printed %q, want nothing", out)
	}
	if !alive(pid) {
		t.Fatal("the orphaned command ended before the test let it")
	}

	// Let the orphan finish.
	if err := os.WriteFile(filepath.Join(T, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "B to run the message", func() bool { return exists(filepath.Join(T, "started.B.2")) }, b.proc)
	if got := readFile(t, filepath.Join(T, "body.A.1")); got != body {
		t.Errorf("the orphaned command read %q, want %q", got, body)
	}
	finishCrashPair(t, s, T, q, id, body, b)
}

// watchOpens reports the names of the files opened in dir from now until the
// test ends.
func watchOpens(t *testing.T, dir string) <-chan string {
	t.Helper()
	ch := make(chan string, 64)
	watchDir(t, dir, unix.IN_OPEN, func(_ uint32, name string) {
		select {
		case ch <- name:
		default: // nobody is listening any more
		}
	})
	return ch
}

// TestWorkerJobTimeout shows --job-timeout: a command that runs too long is
// stopped with its whole process group, grandchildren included (a plain
// background sleep goes with the SIGTERM, one that ignores SIGTERM with the
// SIGKILL that follows), and the attempt counts as failed with the cause
// "timed out after 300ms": a dead letter with --max-attempts 1, else a retry
// after the backoff.
func TestWorkerJobTimeout(t *testing.T) {
	t.Parallel()
	t.Run("grandchildren are killed", func(t *testing.T) {
		s := newSpool(t)
		T := jobDir(t, s)
		const q = "slow"
		id := s.send(t, q, "too slow")
		command := `echo $$ >"$T/pid.job"; sleep 300 & echo $! >"$T/plain"; ` +
			`(trap '' TERM; exec sleep 300) & echo $! >"$T/stubborn"; echo "about to hang" >&2; wait`
		_, stderr := s.runPQ(t, "", []int{0}, "recv", "--job-timeout", "300ms", "--max-attempts", "1", "--exec", command, q)
		for _, which := range []string{"plain", "stubborn"} {
			pid := readPid(t, filepath.Join(T, which))
			waitUntil(t, "the "+which+" grandchild to die", func() bool { return !alive(pid) })
		}
		if !strings.Contains(stderr, "about to hang\n") || !strings.Contains(stderr, "timed out after 300ms on attempt 1 of 1: dead-lettered") {
			t.Errorf("pq's stderr:\n%s\nwant the command's stderr and the timeout", stderr)
		}
		out, _ := s.runPQ(t, "", []int{0}, "dlq", "--stderr", q)
		lines, _ := splitLines([]byte(out))
		if len(lines) != 2 || !strings.HasPrefix(lines[0], id+"\tattempts=1\t") || !strings.HasSuffix(lines[0], "\ttimed out after 300ms") ||
			lines[1] != "  about to hang" {
			t.Errorf("pq dlq --stderr printed:\n%s\nwant %s after 1 attempt, timed out after 300ms, and the command's stderr", out, id)
		}
		s.assertDrained(t, q)
	})

	t.Run("a failed attempt", func(t *testing.T) {
		s := newSpool(t)
		T := jobDir(t, s)
		const q = "slow"
		cfg := writeConfig(t, "[defaults]\nbackoff_min = \"1m\"\n")
		id := s.send(t, q, "too slow")
		command := `echo $$ >"$T/pid.job"; sleep 300 & echo $! >"$T/plain"; wait`
		_, stderr := s.runPQ(t, "", []int{0}, "--config", cfg, "recv", "--job-timeout", "300ms", "--exec", command, q)
		pid := readPid(t, filepath.Join(T, "plain"))
		waitUntil(t, "the grandchild to die", func() bool { return !alive(pid) })
		if !strings.Contains(stderr, id+": timed out after 300ms on attempt 1 of 5: retry in 1m0s") {
			t.Errorf("pq's stderr:\n%s\nwant the timeout and the retry", stderr)
		}
		left := s.queued(t, q)
		if len(left) != 1 {
			t.Fatalf("new/ holds %q, want the message backing off", left)
		}
		if n := spool.ParseName(left[0]); string(n.ID) != id || n.Attempts != 1 || n.Due == 0 {
			t.Errorf("the message is back as %s, want %s with one failure counted and a due time", left[0], id)
		}
		if d := s.deadLetters(t, q); len(d) > 0 {
			t.Errorf("dlq/ holds %q", d)
		}
	})
}

// TestWorkerCannotRunStopsAtOnce shows that a command that cannot run (exit
// status 126 here) stops the worker after that one run: pq exits 2, the
// command ran once, and every message is back in the queue untouched.
func TestWorkerCannotRunStopsAtOnce(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	T := jobDir(t, s)
	const q = "broken"
	ids := []string{s.send(t, q, "one"), s.send(t, q, "two")}
	_, stderr := s.runPQ(t, "", []int{2}, "recv", "--exec", `echo "$PQ_ID" >>"$T/ran"; exit 126`, q)
	if !strings.Contains(stderr, "pq: error: queue broken: the command cannot run (exit status 126)") {
		t.Errorf("pq's stderr:\n%s\nwant the error", stderr)
	}
	if ran, _ := splitLines([]byte(readFile(t, filepath.Join(T, "ran")))); !slices.Equal(ran, ids[:1]) {
		t.Errorf("the command ran for %q, want once, for %s", ran, ids[0])
	}
	if got := s.queued(t, q); !slices.Equal(got, ids) {
		t.Errorf("new/ holds %q, want both messages untouched: %q", got, ids)
	}
	if n := names(t, s.dir(q, "cur")); len(n) > 0 {
		t.Errorf("cur/ holds %q", n)
	}
}
