//go:build linux

package cmd_test

// Helpers for the worker tests: marker directories, processes read from
// /proc, and a worker process under the test's control.

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
	// A shell's `echo $$ >FILE` makes FILE before it writes the line:
	// wait for the whole line.
	var b []byte
	waitUntil(t, "a whole line in "+filepath.Base(path), func() bool {
		var err error
		b, err = os.ReadFile(path)
		return err == nil && strings.HasSuffix(string(b), "\n")
	})
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

// runPQ runs pq to its end, bounded by stepLimit, and returns its stdout and
// stderr, failing the test unless it exits with one of codes.
func (s *spoolEnv) runPQ(t *testing.T, stdin string, codes []int, args ...string) (string, string) {
	t.Helper()
	cmd := s.command(args...)
	var out bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout = &out
	p := start(t, "pq "+strings.Join(args, " "), cmd)
	if code := p.waitWithin(t, stepLimit); !slices.Contains(codes, code) {
		t.Fatalf("%s exited %d, want exit code in %v; stderr:\n%s", p.name, code, codes, p.stderr.String())
	}
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

// queued returns the names of the message files waiting in q, ready or
// delayed.
func (s *spoolEnv) queued(t *testing.T, q string) []string {
	t.Helper()
	var out []string
	for _, rel := range s.waiting(t, q) {
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
