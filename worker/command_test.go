//go:build linux

package worker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"pq/spool"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// claimOne sends body to a new queue and claims it, as the worker would.
func claimOne(t *testing.T, body string) *Message {
	t.Helper()
	q := newQueue(t)
	send(t, q, body)
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Release() })
	return newMessage(q.Queue(), c)
}

func TestExitStatuses(t *testing.T) {
	tests := []struct {
		line  string
		cause string
		kind  error
	}{
		{"exit 0", "", nil},
		{"exit 3", "exit status 3", nil},
		{"exit 100", "exit status 100", ErrPermanent},
		{"echo nope >&2; exit 126", "the command cannot run (exit status 126): nope", ErrCannotRun},
		{"no-such-command-for-pq-test", "the command cannot run (exit status 127): ", ErrCannotRun},
		{"exit 143", "exit status 143", ErrInterrupted},
		{"exit 130", "exit status 130", ErrInterrupted},
		{"kill -TERM $$", "killed by signal TERM", ErrInterrupted},
		{"kill -INT $$", "killed by signal INT", ErrInterrupted},
		{"kill -KILL $$", "killed by signal KILL", nil},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			err := Command(tt.line, CommandOptions{})(t.Context(), claimOne(t, "x"))
			if tt.cause == "" {
				if err != nil {
					t.Fatalf("error %v, want nil", err)
				}
				return
			}
			var f *Failure
			if !errors.As(err, &f) || !strings.HasPrefix(f.Cause, tt.cause) {
				t.Fatalf("error %#v, want a *Failure with the cause %q", err, tt.cause)
			}
			for _, k := range []error{ErrPermanent, ErrCannotRun, ErrInterrupted} {
				if errors.Is(err, k) != (k == tt.kind) {
					t.Errorf("errors.Is(err, %v) = %v", k, !(k == tt.kind))
				}
			}
		})
	}
}

// TestCommandEnvironment shows the body on stdin, the PQ_ variables and the
// stderr kept for a dead letter.
func TestCommandEnvironment(t *testing.T) {
	m := claimOne(t, "the body")
	var out, errOut bytes.Buffer
	h := Command(`cat; echo " $PQ_QUEUE $PQ_ID $PQ_ATTEMPT $PQ_FILE $PQ_ROOT"; echo "to stderr" >&2; exit 3`,
		CommandOptions{Stdout: &out, Stderr: &errOut, Env: []string{"PATH=" + os.Getenv("PATH")}})
	err := h(t.Context(), m)
	root, _ := filepath.Abs(filepath.Dir(spoolDir(t, m)))
	want := "the body q " + string(m.ID()) + " 1 " + m.Path() + " " + root + "\n"
	if out.String() != want {
		t.Errorf("stdout %q, want %q", out.String(), want)
	}
	var f *Failure
	if !errors.As(err, &f) || f.Stderr != "to stderr\n" || errOut.String() != "to stderr\n" {
		t.Errorf("error %#v and stderr %q, want the tail \"to stderr\" in both", err, errOut.String())
	}
}

// TestExitZeroWhileStopped: a command that exits 0 on the SIGTERM of its
// stop (a timeout firing as it finishes) has succeeded.
func TestExitZeroWhileStopped(t *testing.T) {
	m := claimOne(t, "x")
	dir := t.TempDir()
	h := Command(`trap 'exit 0' TERM; touch `+dir+`/started; while :; do sleep 0.01; done`, CommandOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for !fileExists(filepath.Join(dir, "started")) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	if err := h(ctx, m); err != nil {
		t.Errorf("error %v, want nil: the command exited 0", err)
	}
}

// TestStopCancelsDelayedKill: the SIGKILL scheduled for killGrace after a
// stopped command's SIGTERM is cancelled once the command has ended, so
// that it can never reach a process group that reused the id.
func TestStopCancelsDelayedKill(t *testing.T) {
	var mu sync.Mutex
	var timers []*time.Timer
	afterFunc = func(d time.Duration, f func()) *time.Timer {
		tm := time.AfterFunc(time.Hour, f) // never fires within the test
		mu.Lock()
		timers = append(timers, tm)
		mu.Unlock()
		return tm
	}
	t.Cleanup(func() { afterFunc = time.AfterFunc })

	m := claimOne(t, "x")
	dir := t.TempDir()
	h := Command(`touch `+dir+`/started; while :; do sleep 0.01; done`, CommandOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		for !fileExists(filepath.Join(dir, "started")) && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	err := h(ctx, m)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("error %v, want death by SIGTERM", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(timers) != 1 {
		t.Fatalf("%d delayed kills scheduled, want 1", len(timers))
	}
	if timers[0].Stop() {
		t.Error("the delayed SIGKILL was still pending after the command ended")
	}
}

// TestGroupLeftoversKilled: what a command leaves running in its process
// group is killed when it ends.
func TestGroupLeftoversKilled(t *testing.T) {
	m := claimOne(t, "x")
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	if err := Command(`sleep 300 </dev/null >/dev/null 2>&1 & echo $! >`+pidFile, CommandOptions{})(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(testLimit)
	for syscall.Kill(pid, 0) == nil && !zombie(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatal("the command's background sleep outlived it")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// zombie reports whether pid is a dead process not yet reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// spoolDir returns the directory of the spool queue m came from.
func spoolDir(t *testing.T, m *Message) string {
	t.Helper()
	sq, ok := spool.Unwrap(m.Queue())
	if !ok {
		t.Fatal("not a spool queue")
	}
	return sq.Dir()
}
