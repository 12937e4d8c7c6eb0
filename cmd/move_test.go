//go:build linux

package cmd_test

// Crash tests of moves between queues: a pipeline of three queues whose
// workers (pq recv --exec CMD --to) are SIGKILLed at random moments and
// started again, checked end to end; and pq mv killed at random moments.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stageCmd is the command of pipeline stage n: it appends "+n" to the
// body, so that an output names its input and the stages it went through.
// It uses shell builtins only, to keep the test quick.
func stageCmd(n int) string {
	return fmt.Sprintf(`read -r b; printf '%%s+%d' "$b"`, n)
}

// stageArgs are the arguments of the worker of pipeline stage n, from
// queue qn to queue q(n+1).
func stageArgs(n int, wait bool) []string {
	args := []string{"recv", "--exec", stageCmd(n), "-j", "8", "--max-attempts", "1000",
		"--to", fmt.Sprintf("q%d", n+1), fmt.Sprintf("q%d", n)}
	if wait {
		args = append(args, "--wait")
	}
	return args
}

// TestAPipelineUnderRandomKillsMovesEachMessageOnce sends 1,200 numbered
// messages to q1 and runs two stages at once, q1 to q2 and q2 to q3, each
// a waiting worker with eight jobs, SIGKILLing one of them (its whole
// process group) at random moments and starting it again; a worker that
// starts finishes the moves its killed predecessor left (and the stage
// after may have taken and acked such an output already). The kills go on
// for 10 s or until three quarters of the messages are through, so that
// they land while moves are under way, not on idle workers. After the
// last kill, each stage runs without --wait until its queue is empty.
// Then q3 must hold each input's output "mNNNN+1+2" exactly once, and
// nothing may be left in q1 and q2: no message, no move under way, no
// staged output.
func TestAPipelineUnderRandomKillsMovesEachMessageOnce(t *testing.T) {
	t.Parallel()
	const total = 1200
	s := newSpool(t)
	var in strings.Builder
	for i := range total {
		fmt.Fprintf(&in, "m%04d\n", i)
	}
	s.runPQ(t, in.String(), []int{0}, "send", "--lines", "q1")

	workers := [2]*proc{}
	lines := [2]<-chan streamLine{}
	startStage := func(i int) {
		workers[i], lines[i] = s.startKillable(t, fmt.Sprintf("stage %d", i+1), stageArgs(i+1, true)...)
		go func(c <-chan streamLine) { // nothing is expected; keep the pipes flowing
			for range c {
			}
		}(lines[i])
	}
	startStage(0)
	startStage(1)
	deadline := time.Now().Add(10 * time.Second)
	kills := 0
	for time.Now().Before(deadline) && s.count(t, "q3") < total*3/4 {
		// A random moment: the kill is the event, not something awaited.
		time.Sleep(time.Duration(50+rand.IntN(300)) * time.Millisecond)
		i := rand.IntN(2)
		syscall.Kill(-workers[i].cmd.Process.Pid, syscall.SIGKILL)
		workers[i].waitWithin(t, stepLimit)
		kills++
		startStage(i)
	}
	syscall.Kill(-workers[0].cmd.Process.Pid, syscall.SIGKILL)
	workers[0].waitWithin(t, stepLimit)
	t.Logf("%d kills; %d of %d through before the last", kills, s.count(t, "q3"), total)
	if kills < 5 || s.count(t, "q3") == 0 {
		t.Fatalf("%d kills, %d through: nothing was tested", kills, s.count(t, "q3"))
	}
	// The rest without kills: stage 1 until q1 is empty, while the
	// waiting stage 2 goes on; then stage 2 until q2 is empty too.
	s.runWithin(t, waitLimit, stageArgs(1, false)...)
	s.runWithin(t, waitLimit, stageArgs(2, false)...)
	syscall.Kill(-workers[1].cmd.Process.Pid, syscall.SIGTERM)
	if code := workers[1].waitWithin(t, stepLimit); code != 0 {
		t.Fatalf("stage 2 exited %d after SIGTERM", code)
	}
	out, _ := s.runPQ(t, "", []int{0}, "recv", "--all", "--lines", "q3")
	got := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	seen := map[string]int{}
	for _, l := range got {
		seen[l]++
	}
	for i := range total {
		if want := fmt.Sprintf("m%04d+1+2", i); seen[want] != 1 {
			t.Errorf("%s reached q3 %d times, want once", want, seen[want])
		}
		delete(seen, fmt.Sprintf("m%04d+1+2", i))
	}
	if len(seen) > 0 {
		t.Errorf("unexpected outputs in q3: %v", slices.Collect(mapKeys(seen)))
	}
	for _, q := range []string{"q1", "q2"} {
		s.assertNoMoveLeft(t, q)
	}
}

// mapKeys yields the keys of m.
func mapKeys(m map[string]int) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// runWithin runs pq with args, which must exit 0 within d.
func (s *spoolEnv) runWithin(t *testing.T, d time.Duration, args ...string) {
	t.Helper()
	p := start(t, "pq "+strings.Join(args, " "), s.command(args...))
	if code := p.waitWithin(t, d); code != 0 {
		t.Fatalf("%s exited %d; stderr:\n%s", p.name, code, p.stderr.String())
	}
}

// count counts the messages waiting in queue q's new/.
func (s *spoolEnv) count(t *testing.T, q string) int {
	n := 0
	filepath.WalkDir(s.dir(q, "new"), func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			n++
		}
		return nil
	})
	return n
}

// assertNoMoveLeft checks that queue q holds no message, claim, dead
// letter or move under way, and that its tmp/ holds no staged output.
func (s *spoolEnv) assertNoMoveLeft(t *testing.T, q string) {
	t.Helper()
	for _, sub := range []string{"new", "cur", "dlq", ".moving"} {
		filepath.WalkDir(s.dir(q, sub), func(path string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("left in %s: %s", q, path)
			}
			return nil
		})
	}
	for _, name := range names(t, s.dir(q, "tmp")) {
		if strings.HasPrefix(name, ".move-") && !strings.HasPrefix(name, ".move-out-") {
			t.Errorf("staged output left in %s/tmp: %s", q, name)
		}
	}
}
