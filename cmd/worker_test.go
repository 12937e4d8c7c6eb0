//go:build linux

package cmd_test

// Tests of the worker loop, pq recv --exec, that need more control than a
// script gives: the real pq binary (buildPQ) runs as a separate process, its
// commands report what they see through marker files in a directory of the
// test's own ($T in the commands), and the test awaits those files, the
// worker's inotify watches and its exit rather than sleeping. They cover the
// environment of a command, the attempts and the backoff between them, -j,
// shutdown on SIGTERM and SIGINT, a worker killed with or without its
// command, and --job-timeout. testdata/script/exec_*.txtar cover the exit
// statuses, dead letters, configuration and flags.
//
// The file is Linux only: it reads /proc and uses inotify.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"pq/spool"
)

// waitforScript is $T/waitfor FILE: it waits for FILE to exist, and gives up
// with exit status 99 after about a minute, so that a test that fails never
// leaves a command running for long.
const waitforScript = `#!/bin/sh
i=0
while [ ! -e "$1" ]; do
	i=$((i + 1))
	if [ "$i" -gt 3000 ]; then
		echo "waitfor $1: gave up" >&2
		exit 99
	fi
	sleep 0.02
done
`

// jobDir makes the directory where commands leave their marker files, with
// the waitfor script in it, and sets $T to it in the environment of every
// pq that s runs from now on. When the test ends, any command that wrote its
// shell's pid to a file pid.* there and still runs is killed with its
// process group.
func jobDir(t *testing.T, s *spoolEnv) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "waitfor"), []byte(waitforScript), 0o755); err != nil {
		t.Fatal(err)
	}
	s.env = append(s.env, "T="+dir)
	t.Cleanup(func() {
		pids, _ := filepath.Glob(filepath.Join(dir, "pid.*"))
		for _, f := range pids {
			b, _ := os.ReadFile(f)
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || pid <= 1 {
				continue
			}
			// Only a job that is still what it was: a shell leading
			// its own process group.
			if comm, pgrp, state, ok := procStat(pid); ok && comm == "sh" && pgrp == pid && state != "Z" {
				syscall.Kill(-pid, syscall.SIGKILL)
			}
		}
	})
	return dir
}

// procStat reads the command name, process group and state of pid from
// /proc.
func procStat(pid int) (comm string, pgrp int, state string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0, "", false
	}
	s := string(b)
	open, closing := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || closing < open {
		return "", 0, "", false
	}
	f := strings.Fields(s[closing+1:])
	if len(f) < 3 {
		return "", 0, "", false
	}
	pgrp, _ = strconv.Atoi(f[2])
	return s[open+1 : closing], pgrp, f[0], true
}

// alive reports whether pid is a running process. A zombie is not: where
// nothing reaps orphans (PID 1 in some containers) a dead process stays one.
func alive(pid int) bool {
	_, _, state, ok := procStat(pid)
	return ok && state != "Z" && state != "X"
}

// readPid reads a pid that a command wrote to a file.
func readPid(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return pid
}

// exists reports whether path exists.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// readFile returns the contents of path, failing the test when it cannot.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeConfig writes a configuration file and returns its path.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// worker is a started pq process whose stdout and stderr are files, not
// pipes: the commands it runs inherit them, and a command that outlives pq
// must not keep the test waiting for a pipe to close. Its proc's stderr is
// filled in from the file once it has exited.
type worker struct {
	*proc
	stdout, stderrPath string
}

// startWorker starts pq with args, with env added to its environment.
func (s *spoolEnv) startWorker(t *testing.T, name string, env []string, args ...string) *worker {
	t.Helper()
	dir := t.TempDir()
	w := &worker{stdout: filepath.Join(dir, "stdout"), stderrPath: filepath.Join(dir, "stderr")}
	outF, err := os.Create(w.stdout)
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(w.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := s.command(args...)
	cmd.Env = append(slices.Clip(cmd.Env), env...)
	cmd.Stdout, cmd.Stderr = outF, errF
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	err = cmd.Start()
	outF.Close()
	errF.Close()
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		err := cmd.Wait()
		b, _ := os.ReadFile(w.stderrPath)
		p.stderr.Write(b)
		p.err = err
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
		}
		<-p.done
	})
	w.proc = p
	return w
}

// signal sends sig to the worker.
func (w *worker) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := w.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal %s: %v", w.name, err)
	}
}

// output returns what the worker wrote to stdout and stderr so far.
func (w *worker) output(t *testing.T) (stdout, stderr string) {
	t.Helper()
	return readFile(t, w.stdout), readFile(t, w.stderrPath)
}

// watching reports whether the worker watches the queue's new/ directory:
// it does from the first time it finds nothing to claim until it stops
// claiming.
func (w *worker) watching(s *spoolEnv, q string) bool {
	return hasInotifyWatchOn(w.cmd.Process.Pid, s.dir(q, "new"))
}

// runPQ runs pq to its end and returns its stdout and stderr, failing the
// test unless it exits with one of codes.
func (s *spoolEnv) runPQ(t *testing.T, stdin string, codes []int, args ...string) (string, string) {
	t.Helper()
	cmd := s.command(args...)
	var out bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout = &out
	p := start(t, "pq "+strings.Join(args, " "), cmd)
	p.expectExit(t, codes...)
	return out.String(), p.stderr.String()
}

// send sends body to q and returns its ID.
func (s *spoolEnv) send(t *testing.T, q, body string) string {
	t.Helper()
	out, _ := s.runPQ(t, body, []int{0}, "send", q)
	id := strings.TrimSpace(out)
	if id == "" || strings.Contains(id, "\n") {
		t.Fatalf("send printed %q, want one ID", out)
	}
	return id
}

// queued returns the names of the message files under q's new/.
func (s *spoolEnv) queued(t *testing.T, q string) []string {
	t.Helper()
	var out []string
	for _, rel := range files(t, s.dir(q, "new")) {
		out = append(out, filepath.Base(rel))
	}
	slices.Sort(out)
	return out
}

// deadLetters returns the names of the dead letters in q's dlq/, without
// their reason files.
func (s *spoolEnv) deadLetters(t *testing.T, q string) []string {
	t.Helper()
	var out []string
	for _, n := range names(t, s.dir(q, "dlq")) {
		if !strings.HasSuffix(n, ".reason") && !strings.HasPrefix(n, ".") {
			out = append(out, n)
		}
	}
	return out
}

// TestWorkerEnvironment shows what a command gets: the body byte for byte
// on stdin; PQ_QUEUE, PQ_ID (the ID that pq send printed), PQ_ATTEMPT (1 on
// the first delivery), PQ_ROOT (the spool root) and PQ_FILE, the claimed
// file under cur/, readable and holding the body; and an argument list that
// is exactly /bin/sh -c CMD, so the message never shows on a command line.
func TestWorkerEnvironment(t *testing.T) {
	s := newSpool(t)
	T := jobDir(t, s)
	const q = "env"
	body := "secret-body-d41d8\x00\xff\n second line\n"
	id := s.send(t, q, body)

	command := `cat >"$T/stdin"; cat "$PQ_FILE" >"$T/file"; env | grep -E '^PQ_(QUEUE|ID|ATTEMPT|FILE|ROOT)=' | sort >"$T/env"; ` +
		`tr '\0' '\n' </proc/$$/cmdline >"$T/argv"`
	w := s.startWorker(t, "worker", nil, "recv", "--exec", command, q)
	w.expectExit(t, 0)

	if got := readFile(t, filepath.Join(T, "stdin")); got != body {
		t.Errorf("the command's stdin was %q, want the body %q", got, body)
	}
	if got := readFile(t, filepath.Join(T, "file")); got != body {
		t.Errorf("$PQ_FILE held %q, want the body %q", got, body)
	}
	want := []string{
		"PQ_ATTEMPT=1",
		"PQ_FILE=" + filepath.Join(s.root, q, "cur", id),
		"PQ_ID=" + id,
		"PQ_QUEUE=" + q,
		"PQ_ROOT=" + s.root,
	}
	if got, _ := splitLines([]byte(readFile(t, filepath.Join(T, "env")))); !slices.Equal(got, want) {
		t.Errorf("the command's PQ_ variables:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, _ := splitLines([]byte(readFile(t, filepath.Join(T, "argv")))); !slices.Equal(got, []string{"/bin/sh", "-c", command}) {
		t.Errorf("the command's arguments were %q, want /bin/sh -c CMD", got)
	}
	s.assertDrained(t, q)

	// A relative --root: PQ_FILE is still the claimed file for a command
	// that changes directory, and lies under PQ_ROOT.
	t.Run("relative root", func(t *testing.T) {
		s.send(t, q, body)
		command := `test "$PQ_FILE" = "$PQ_ROOT/$PQ_QUEUE/cur/$PQ_ID" || { echo "PQ_FILE=$PQ_FILE PQ_ROOT=$PQ_ROOT" >&2; exit 100; }; ` +
			`cd / && cat "$PQ_FILE" >"$T/rel-file" || exit 100`
		cmd := s.command("--root", filepath.Base(s.root), "recv", "--exec", command, q)
		cmd.Dir = filepath.Dir(s.root)
		start(t, "worker", cmd).expectExit(t, 0)
		if d := s.deadLetters(t, q); len(d) > 0 {
			t.Fatalf("dlq/ holds %q: $PQ_FILE was not usable", d)
		}
		if got := readFile(t, filepath.Join(T, "rel-file")); got != body {
			t.Errorf("$PQ_FILE read from / held %q, want the body %q", got, body)
		}
		s.assertDrained(t, q)
	})
}

// TestWorkerAttemptsAndBackoff runs a command that always fails (exit 3)
// under a worker with --wait and a configuration of max_attempts 4,
// backoff_min 100ms and backoff_max 300ms. It proves that the command sees
// PQ_ATTEMPT 1, 2, 3 and 4, that between attempts the message waits in the
// queue with its failures counted and a due time (the ",a=N,d=T" of its file
// name, which the next attempt's PQ_FILE shows) of at least backoff_min
// doubled for each earlier failure, capped at backoff_max, after the failure
// (100ms, 200ms, 300ms; the bounds are generous, so
// TestWorkerBackoffDoublesUpToMax checks doubling and cap at a scale where
// they cannot be confused with delays), that no attempt starts before that
// due time, and that after the fourth the message is a dead letter whose
// reason holds the cause, the attempts and the stderr of the last attempt
// only, while every attempt's stderr streamed to pq's stderr.
func TestWorkerAttemptsAndBackoff(t *testing.T) {
	s := newSpool(t)
	T := jobDir(t, s)
	const q = "flaky"
	cfg := writeConfig(t, "[queue.flaky]\nmax_attempts = 4\nbackoff_min = \"100ms\"\nbackoff_max = \"300ms\"\n")
	id := s.send(t, q, "payload")

	command := `start=$(date +%s%N); echo "stderr of attempt $PQ_ATTEMPT" >&2; ` +
		`echo "$PQ_ATTEMPT $(basename "$PQ_FILE") $start $(date +%s%N)" >>"$T/log"; exit 3`
	w := s.startWorker(t, "worker", nil, "--config", cfg, "recv", "--wait", "--exec", command, q)
	waitUntil(t, "the message in dlq/", func() bool { return len(s.deadLetters(t, q)) == 1 }, w.proc)
	w.signal(t, syscall.SIGTERM)
	w.expectExit(t, 0)

	type attempt struct {
		n          int
		name       spool.Name
		start, end int64
	}
	var attempts []attempt
	lines, _ := splitLines([]byte(readFile(t, filepath.Join(T, "log"))))
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 4 {
			t.Fatalf("bad log line %q", l)
		}
		var a attempt
		var err1, err2, err3 error
		a.n, err1 = strconv.Atoi(f[0])
		a.name = spool.ParseName(f[1])
		a.start, err2 = strconv.ParseInt(f[2], 10, 64)
		a.end, err3 = strconv.ParseInt(f[3], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("bad log line %q", l)
		}
		attempts = append(attempts, a)
	}
	var seq []int
	for _, a := range attempts {
		seq = append(seq, a.n)
	}
	if !slices.Equal(seq, []int{1, 2, 3, 4}) {
		t.Fatalf("the command saw PQ_ATTEMPT %v, want [1 2 3 4]", seq)
	}
	backoff := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 300 * time.Millisecond}
	for i, a := range attempts {
		if string(a.name.ID) != id {
			t.Errorf("attempt %d: PQ_FILE names %s, want the ID %s", a.n, a.name.ID, id)
		}
		if i == 0 {
			if a.name.Attempts != 0 || a.name.Due != 0 {
				t.Errorf("attempt 1: PQ_FILE is %s, want the bare ID", a.name.String())
			}
			continue
		}
		prev, b := attempts[i-1], backoff[i-1]
		if a.name.Attempts != i {
			t.Errorf("attempt %d: the file %s counts %d failures, want %d", a.n, a.name.String(), a.name.Attempts, i)
		}
		delay := time.Duration(a.name.Due - prev.end)
		if delay < b || delay >= b+5*time.Second {
			t.Errorf("after failed attempt %d the message was due %v after the failure, want %v (backoff_min doubled %d times, at most backoff_max)",
				prev.n, delay, b, i-1)
		}
		if a.start < a.name.Due {
			t.Errorf("attempt %d started %v before its due time", a.n, time.Duration(a.name.Due-a.start))
		}
	}

	dead := s.deadLetters(t, q)
	if n := spool.ParseName(dead[0]); string(n.ID) != id || n.Attempts != 4 {
		t.Errorf("dlq/ holds %s, want %s with 4 attempts", dead[0], id)
	}
	out, _ := s.runPQ(t, "", []int{0}, "dlq", "--stderr", q)
	dlqLines, _ := splitLines([]byte(out))
	if len(dlqLines) != 2 {
		t.Fatalf("pq dlq --stderr printed %q, want the dead letter and one line of stderr", out)
	}
	if f := strings.Split(dlqLines[0], "\t"); len(f) != 5 || f[0] != id || f[1] != "attempts=4" || f[3] != "7" || f[4] != "exit status 3" {
		t.Errorf("pq dlq line %q, want %s, attempts=4, the time, size 7 and the cause \"exit status 3\"", dlqLines[0], id)
	}
	if dlqLines[1] != "  stderr of attempt 4" {
		t.Errorf("pq dlq --stderr shows %q, want the last attempt's stderr", dlqLines[1])
	}
	_, stderr := w.output(t)
	for n := 1; n <= 4; n++ {
		if !strings.Contains(stderr, fmt.Sprintf("stderr of attempt %d\n", n)) {
			t.Errorf("pq's stderr lacks attempt %d's stderr:\n%s", n, stderr)
		}
	}
	for _, want := range []string{"exit status 3 on attempt 1 of 4: retry in 100ms", "on attempt 2 of 4: retry in 200ms",
		"on attempt 3 of 4: retry in 300ms", "exit status 3 on attempt 4 of 4: dead-lettered"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("pq's stderr lacks %q:\n%s", want, stderr)
		}
	}
	if f := s.queued(t, q); len(f) > 0 {
		t.Errorf("new/ still holds %q", f)
	}
}

// TestWorkerBackoffDoublesUpToMax checks the backoff at a scale where its
// doubling and its cap cannot be mistaken for scheduling delays: with
// backoff_min 1m and backoff_max 5m, a message that fails on its attempt n
// (its file name counting n-1 earlier failures, as recovery and retries
// write it) goes back with n failures counted and due 1m, 2m, 4m, 5m and 5m
// after the failure for n = 1 to 5. Without --wait the worker exits 0 at
// once, the message being the only one and not ready.
func TestWorkerBackoffDoublesUpToMax(t *testing.T) {
	s := newSpool(t)
	T := jobDir(t, s)
	const q = "slow"
	cfg := writeConfig(t, "[queue.slow]\nmax_attempts = 10\nbackoff_min = \"1m\"\nbackoff_max = \"5m\"\n")
	command := `echo "$PQ_ATTEMPT $(date +%s%N)" >"$T/failed"; exit 3`
	for n, want := range []time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 4 * time.Minute, 4: 5 * time.Minute, 5: 5 * time.Minute} {
		if n == 0 {
			continue
		}
		t.Run(fmt.Sprintf("attempt %d", n), func(t *testing.T) {
			id := s.send(t, q, "payload")
			if n > 1 {
				rel := files(t, s.dir(q, "new"))
				if len(rel) != 1 {
					t.Fatalf("new/ holds %q, want the one message", rel)
				}
				from := filepath.Join(s.dir(q, "new"), rel[0])
				to := filepath.Join(filepath.Dir(from), fmt.Sprintf("%s,a=%d", id, n-1))
				if err := os.Rename(from, to); err != nil {
					t.Fatal(err)
				}
			}
			s.runPQ(t, "", []int{0}, "--config", cfg, "recv", "--exec", command, q)
			fields := strings.Fields(readFile(t, filepath.Join(T, "failed")))
			if len(fields) != 2 || fields[0] != strconv.Itoa(n) {
				t.Fatalf("the command recorded %q, want attempt %d and a time", fields, n)
			}
			failed, err := strconv.ParseInt(fields[1], 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			left := s.queued(t, q)
			if len(left) != 1 {
				t.Fatalf("new/ holds %q, want the message backing off", left)
			}
			name := spool.ParseName(left[0])
			if string(name.ID) != id || name.Attempts != n {
				t.Errorf("the message is back as %s, want %s with %d failures counted", left[0], id, n)
			}
			if d := time.Duration(name.Due - failed); d < want || d >= want+5*time.Second {
				t.Errorf("after failing attempt %d the message is due %v after the failure, want %v", n, d, want)
			}
			if err := os.Remove(filepath.Join(s.dir(q, "new"), files(t, s.dir(q, "new"))[0])); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestWorkerParallelJobs shows -j: with -j 2 two commands run at the same
// time (each makes a marker, then waits for both markers to exist; alone it
// would give up after a minute and dead-letter its message), and with -j 4
// over 40 messages each message goes to exactly one command and every one
// is acked.
func TestWorkerParallelJobs(t *testing.T) {
	t.Run("two at once", func(t *testing.T) {
		s := newSpool(t)
		T := jobDir(t, s)
		const q = "par"
		ids := []string{s.send(t, q, "one"), s.send(t, q, "two")}
		command := `touch "$T/started.$PQ_ID"; i=0; ` +
			`while [ "$(ls "$T" | grep -c '^started\.')" -lt 2 ]; do ` +
			`i=$((i + 1)); if [ $i -gt 3000 ]; then echo "ran alone" >&2; exit 100; fi; sleep 0.02; done; ` +
			`cat >"$T/body.$PQ_ID"`
		s.runPQ(t, "", []int{0}, "recv", "-j", "2", "--exec", command, q)
		for i, id := range ids {
			if got := readFile(t, filepath.Join(T, "body."+id)); got != []string{"one", "two"}[i] {
				t.Errorf("message %s: the command read %q", id, got)
			}
		}
		if d := s.deadLetters(t, q); len(d) > 0 {
			t.Errorf("dead letters %q: a command ran alone", d)
		}
		s.assertDrained(t, q)
	})

	t.Run("each message once", func(t *testing.T) {
		s := newSpool(t)
		T := jobDir(t, s)
		const q = "par"
		var in strings.Builder
		for i := range 40 {
			fmt.Fprintf(&in, "body-%02d\n", i)
		}
		out, _ := s.runPQ(t, in.String(), []int{0}, "send", "--lines", q)
		ids, _ := splitLines([]byte(out))
		s.runPQ(t, "", []int{0}, "recv", "-j", "4", "--exec", `echo "$PQ_ID $(cat)" >>"$T/log"`, q)
		lines, _ := splitLines([]byte(readFile(t, filepath.Join(T, "log"))))
		seen := map[string]int{}
		for _, l := range lines {
			seen[l]++
		}
		for i, id := range ids {
			if n := seen[fmt.Sprintf("%s body-%02d", id, i)]; n != 1 {
				t.Errorf("message %d (%s) went to %d commands, want 1", i, id, n)
			}
		}
		if len(lines) != len(ids) {
			t.Errorf("%d commands ran for %d messages", len(lines), len(ids))
		}
		s.assertDrained(t, q)
	})
}

// shutdownCommand is a job that records its shell's pid and that it
// started, then waits for $T/go.ID before it copies its body to stdout. While
// it waits it answers $T/ping.ID with $T/pong.ID, which shows that it still
// runs undisturbed; a SIGTERM to its process group makes it record that in
// $T/termed.ID and exit.
const shutdownCommand = `trap 'touch "$T/termed.$PQ_ID"; exit 1' TERM; echo $$ >"$T/pid.$PQ_ID"; ` +
	`touch "$T/started.$PQ_ID"; i=0; while [ ! -e "$T/go.$PQ_ID" ]; do ` +
	`if [ -e "$T/ping.$PQ_ID" ]; then touch "$T/pong.$PQ_ID"; fi; ` +
	`i=$((i + 1)); if [ $i -gt 3000 ]; then exit 99; fi; sleep 0.02; done; cat`

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
		return exists(filepath.Join(T, "body.B.2")) && len(names(t, s.dir(q, "cur"))) == 0 && len(files(t, s.dir(q, "new"))) == 0
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
	deadline := time.After(waitLimit)
	for looked := false; !looked; {
		select {
		case name := <-opens:
			looked = name == id
		case <-b.done:
			t.Fatalf("B exited: %v; stderr:\n%s", b.err, b.stderr.String())
		case <-deadline:
			t.Fatalf("B did not look at the orphaned claim within %v", waitLimit)
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
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_OPEN); err != nil {
		unix.Close(fd)
		t.Fatal(err)
	}
	// Non-blocking, through the runtime's poller, so that Close ends the
	// reader.
	file := os.NewFile(uintptr(fd), "inotify:"+dir)
	ch := make(chan string, 64)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64*(unix.SizeofInotifyEvent+unix.NAME_MAX+1))
		for {
			n, err := file.Read(buf)
			if err != nil {
				return
			}
			for off := 0; off+unix.SizeofInotifyEvent <= n; {
				ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
				nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
				off += unix.SizeofInotifyEvent + int(ev.Len)
				name := string(bytes.TrimRight(nameBytes, "\x00"))
				if name == "" {
					continue // the directory itself
				}
				select {
				case ch <- name:
				default: // nobody is listening any more
				}
			}
		}
	}()
	t.Cleanup(func() {
		file.Close()
		<-done
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
