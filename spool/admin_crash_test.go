package spool

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// pausedText is what .paused holds, whole.
var pausedText = regexp.MustCompile(`\Apaused at \S+ by pid \d+\n\z`)

// TestKilledPauseAndResumeLeaveTheOldStateOrTheNew kills a process at
// every step of a pause, a resume and a delete of a queue (this test
// binary run again, see crashChild): the queue is paused or not, whole or
// gone, never broken, and every operation works on it afterwards.
func TestKilledPauseAndResumeLeaveTheOldStateOrTheNew(t *testing.T) {
	q := newQueue(t, Options{})
	root := filepath.Dir(q.Dir())
	if _, err := q.Send(strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	for _, op := range []string{"pause", "resume", "delete"} {
		killed := 0
		for n := 1; ; n++ {
			if n > 20 {
				t.Fatalf("%s still had steps left at the 20th", op)
			}
			finished := runCrashChild(t, root, op, n)
			if !finished {
				killed++
			}
			if op == "delete" {
				checkDeleteOutcome(t, q, finished)
				if err := q.Check(); err != nil {
					break
				}
				if err := q.Resume(); err != nil { // as it was
					t.Fatal(err)
				}
				continue
			}
			p, err := q.Paused()
			if err != nil {
				t.Fatalf("%s killed at step %d: %v", op, n, err)
			}
			if finished && p != (op == "pause") {
				t.Fatalf("%s finished, and paused is %v", op, p)
			}
			if b, err := os.ReadFile(q.pausedPath()); p && (err != nil || !pausedText.Match(b)) {
				t.Fatalf("%s killed at step %d: .paused holds %q (%v)", op, n, b, err)
			}
			if finished {
				break
			}
			// Back to the state before, for the next step.
			if op == "pause" {
				err = q.Resume()
			} else {
				err = q.Pause()
			}
			if err != nil {
				t.Fatalf("after %s killed at step %d: %v", op, n, err)
			}
		}
		if killed == 0 {
			t.Errorf("%s was never killed: the crash points were not reached", op)
		}
	}
}

// TestKilledPurgeLeavesMessagesWholeOrGone kills a purge at each of its
// durable steps: every message left has its body and its headers, and
// the next purge deletes it.
func TestKilledPurgeLeavesMessagesWholeOrGone(t *testing.T) {
	q := newQueue(t, Options{})
	root := filepath.Dir(q.Dir())
	for n := 1; ; n++ {
		if n > 20 {
			t.Fatal("a purge of 3 messages still had steps left at the 20th")
		}
		for i := range 3 {
			o := SendOptions{Headers: []Header{{Key: "K", Value: strconv.Itoa(i)}}}
			if _, err := q.SendWith(strings.NewReader("body"), o); err != nil {
				t.Fatal(err)
			}
		}
		finished := runCrashChild(t, root, "purge", n)
		left := 0
		for e, err := range q.Messages() {
			if err != nil {
				t.Fatal(err)
			}
			left++
			if hs, err := q.Headers(e); err != nil || len(hs) != 1 || bodyOf(t, q, e) != "body" {
				t.Errorf("purge killed at step %d left %s with headers %v (%v)", n, e.Name.ID, hs, err)
			}
		}
		if finished {
			if left != 0 {
				t.Errorf("a finished purge left %d messages", left)
			}
			if n == 1 {
				t.Error("the purge was never killed: the crash points were not reached")
			}
			break
		}
		if _, err := q.Purge(PurgeOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkDeleteOutcome checks a queue after a delete killed or finished:
// whole, with its message, or gone; after the next delete in the spool
// nothing of it is left.
func checkDeleteOutcome(t *testing.T, q *Queue, finished bool) {
	t.Helper()
	err := q.Check()
	switch {
	case err == nil && !finished:
		if s, err := q.Summarize(time.Time{}); err != nil || s.Ready != 1 {
			t.Fatalf("a queue whose delete was killed: %+v, %v; want it whole", s, err)
		}
	case errors.Is(err, ErrNoQueue):
		CleanDeleted(filepath.Dir(q.dir))
		if ents, _ := os.ReadDir(filepath.Dir(q.dir)); len(ents) != 0 {
			t.Fatalf("left in the root after the clean: %v", ents)
		}
	default:
		t.Fatalf("after a delete (finished %v): %v", finished, err)
	}
}

// runCrashChild runs crashChild as a process of its own, killing itself
// at the nth durable step of op, and reports whether op finished.
func runCrashChild(t *testing.T, root, op string, n int) bool {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), "PQ_SPOOL_CRASH="+op+","+strconv.Itoa(n)+","+root)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); errors.As(err, &ee) && ok && ws.Signal() == syscall.SIGKILL {
		return false
	}
	t.Fatalf("%s with a crash at step %d: %v\n%s", op, n, err, out)
	return false
}

// TestCrashChild is the process that runCrashChild starts; alone, it
// skips.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv("PQ_SPOOL_CRASH")
	if spec == "" {
		t.Skip("run by TestKilledPauseAndResumeLeaveTheOldStateOrTheNew")
	}
	f := strings.SplitN(spec, ",", 3)
	n, _ := strconv.Atoi(f[1])
	q, err := Open(f[2], "jobs", Options{})
	if err != nil {
		t.Fatal(err)
	}
	steps := 0
	traceFS = func(op, path string) {
		if steps++; steps == n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	switch f[0] {
	case "pause":
		err = q.Pause()
	case "resume":
		err = q.Resume()
	case "delete":
		err = q.Delete(false)
	case "purge":
		_, err = q.Purge(PurgeOptions{})
	default:
		err = fmt.Errorf("unknown op %q", f[0])
	}
	if err != nil {
		t.Fatal(err)
	}
}
