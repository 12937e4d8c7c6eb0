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
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"pq/spool"
)

// TestWorkerEnvironment shows what a command gets: the body byte for byte
// on stdin; PQ_QUEUE, PQ_ID (the ID that pq send printed), PQ_ATTEMPT (1 on
// the first delivery), PQ_ROOT (the spool root) and PQ_FILE, the claimed
// file under cur/, readable and holding the body; and an argument list that
// is exactly /bin/sh -c CMD, so the message never shows on a command line.
func TestWorkerEnvironment(t *testing.T) {
	t.Parallel()
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
	t.Parallel()
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
	for _, want := range []string{`exit status 3 on attempt 1 of 4 after \S+: retry in 100ms\n`, `on attempt 2 of 4 after \S+: retry in 200ms\n`,
		`on attempt 3 of 4 after \S+: retry in 300ms\n`, `exit status 3 on attempt 4 of 4 after \S+: dead-lettered\n`} {
		if !regexp.MustCompile(want).MatchString(stderr) {
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
	t.Parallel()
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
				rel := s.waiting(t, q)
				if len(rel) != 1 {
					t.Fatalf("the queue holds %q, want the one message", rel)
				}
				from := filepath.Join(s.root, q, rel[0])
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
			if err := os.Remove(filepath.Join(s.root, q, s.waiting(t, q)[0])); err != nil {
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
	t.Parallel()
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
