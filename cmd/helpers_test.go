package cmd_test

// Helpers for the tests that run the real pq binary as separate processes:
// the binary TestMain built, a scratch spool, starting, waiting for and killing
// processes, and reading what is left in a queue.

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// waitLimit bounds the waits for whole workloads in these tests (thousands
// of messages through several processes). It is a guard against hangs, not
// a timing assertion: nothing here should come close.
const waitLimit = 90 * time.Second

// stepLimit bounds the waits for one step that takes moments: one pq run
// (runPQ), a claim, a watch, a dead letter after a few short backoffs
// (waitUntil). A regression that keeps a step from ever happening (a retry
// whose attempt count never rises, a receiver that never claims) fails
// the test after this long instead of after waitLimit, or at go test's
// timeout.
const stepLimit = 20 * time.Second

// buildPQ returns the pq binary that TestMain built for this test process
// (see buildingM in script_test.go), which removes it when the tests end.
func buildPQ(t *testing.T) string {
	t.Helper()
	if pqBinary == "" {
		t.Fatal("pq was not built: TestMain did not run")
	}
	return pqBinary
}

// spoolEnv runs pq against a spool root of its own, with an empty
// configuration directory so that no user configuration leaks in.
type spoolEnv struct {
	bin  string
	root string
	env  []string
}

func newSpool(t *testing.T) *spoolEnv {
	t.Helper()
	bin := buildPQ(t)
	root, cfg := t.TempDir(), t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "PQ_ROOT", "PQ_CONFIG", "XDG_CONFIG_HOME":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "PQ_ROOT="+root, "XDG_CONFIG_HOME="+cfg)
	return &spoolEnv{bin: bin, root: root, env: env}
}

// command returns an unstarted pq command with args.
func (s *spoolEnv) command(args ...string) *exec.Cmd {
	cmd := exec.Command(s.bin, args...)
	cmd.Env = s.env
	return cmd
}

// dir returns the directory of queue q's subdirectory sub (tmp, new, cur).
func (s *spoolEnv) dir(q, sub string) string { return filepath.Join(s.root, q, sub) }

// proc is a started pq process that a goroutine waits for.
type proc struct {
	name   string
	cmd    *exec.Cmd
	stderr bytes.Buffer
	done   chan struct{}
	err    error // from Wait; read only after done is closed
}

// start starts cmd, closes childEnds (the child's ends of pipes, which the
// test must not keep open) and waits for the process in the background. A
// process still running when the test ends is killed.
func start(t *testing.T, name string, cmd *exec.Cmd, childEnds ...*os.File) *proc {
	t.Helper()
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	if cmd.Stderr == nil {
		cmd.Stderr = &p.stderr // unless the test reads it itself (a terminal)
	}
	err := cmd.Start()
	for _, f := range childEnds {
		f.Close()
	}
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			p.cmd.Process.Kill()
		}
		<-p.done
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T) int {
	t.Helper()
	return p.waitWithin(t, waitLimit)
}

// waitWithin waits up to d for the process to exit and returns its exit
// code; past d it kills the process and fails the test.
func (p *proc) waitWithin(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-p.done
		t.Fatalf("%s did not exit within %v; killed it; stderr:\n%s", p.name, d, p.stderr.String())
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	default:
		t.Fatalf("%s: %v", p.name, p.err)
		return -1
	}
}

// checkExit waits for the process and reports an error unless it exited
// with one of codes.
func (p *proc) checkExit(t *testing.T, codes ...int) bool {
	t.Helper()
	if code := p.wait(t); !slices.Contains(codes, code) {
		t.Errorf("%s exited with %v, want exit code in %v; stderr:\n%s", p.name, p.err, codes, p.stderr.String())
		return false
	}
	return true
}

// expectExit is checkExit that ends the test on failure.
func (p *proc) expectExit(t *testing.T, codes ...int) {
	t.Helper()
	if !p.checkExit(t, codes...) {
		t.FailNow()
	}
}

// kill sends SIGKILL and fails unless that signal is what ended the process:
// a process that had already exited by itself means the test did not hit
// the moment it meant to.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return
		}
	}
	t.Fatalf("%s was to be killed but ended with %v; stderr:\n%s", p.name, p.err, p.stderr.String())
}

// run runs pq to its end with stdin as input and returns its stdout and exit
// code, failing the test when the code is not among codes.
func (s *spoolEnv) run(t *testing.T, stdin []byte, codes []int, args ...string) []byte {
	t.Helper()
	out, _ := s.runPQ(t, string(stdin), codes, args...)
	return []byte(out)
}

// waitBounded waits up to d for a started cmd and returns its exit code; past
// d it kills the process and returns an error. It is for goroutines other
// than the test's, which must not call t.Fatal.
func waitBounded(cmd *exec.Cmd, d time.Duration) (int, error) {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(d):
		cmd.Process.Kill()
		<-done
		return -1, fmt.Errorf("%s did not exit within %v; killed it", strings.Join(cmd.Args, " "), d)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), nil
	default:
		return -1, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
}

// pipe returns an os.Pipe whose ends are closed when the test ends, at the
// latest.
func pipe(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

// waitUntil polls cond until it holds, failing after stepLimit or as soon as
// one of the watched processes exits, since then it never will.
func waitUntil(t *testing.T, what string, cond func() bool, watch ...*proc) {
	t.Helper()
	deadline := time.Now().Add(stepLimit)
	for !cond() {
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("waiting for %s: %s exited: %v; stderr:\n%s", what, p.name, p.err, p.stderr.String())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, stepLimit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// names lists the entries of dir; a missing dir has none.
func names(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	var ns []string
	for _, e := range ents {
		ns = append(ns, e.Name())
	}
	return ns
}

// files returns every entry under dir that is not a directory, as paths
// relative to dir. Empty bucket directories are allowed to remain.
func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// waiting returns the paths, relative to q's directory, of the messages
// waiting in q: ready in new/ or delayed in .due/.
func (s *spoolEnv) waiting(t *testing.T, q string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"new", ".due"} {
		for _, rel := range files(t, s.dir(q, sub)) {
			out = append(out, filepath.Join(sub, rel))
		}
	}
	return out
}

// assertDrained fails unless queue q holds nothing: tmp/ and cur/ empty and
// no file left anywhere under new/.
func (s *spoolEnv) assertDrained(t *testing.T, q string) {
	t.Helper()
	if n := names(t, s.dir(q, "tmp")); len(n) > 0 {
		t.Errorf("tmp/ of %s is not empty: %d entries, first %q", q, len(n), n[0])
	}
	if n := names(t, s.dir(q, "cur")); len(n) > 0 {
		t.Errorf("cur/ of %s is not empty: %d entries, first %q", q, len(n), n[0])
	}
	if f := s.waiting(t, q); len(f) > 0 {
		t.Errorf("new/ of %s still holds %d files, first %q", q, len(f), f[0])
	}
}

// splitLines splits complete newline-terminated lines; a trailing fragment
// without its newline is returned separately.
func splitLines(b []byte) (lines []string, fragment string) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return lines, string(b)
		}
		lines = append(lines, string(b[:i]))
		b = b[i+1:]
	}
	return lines, ""
}
