package cmd_test

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKilledPrioritySendersLoseNothingAndKeepTheOrder kills senders of
// three priorities at many points of their bulk sends, the first of them
// while it makes the queue's first priority tree and raises its format:
// every id printed is in the queue, in the tree of its priority, the
// format stamp is whole, and a receiver then gets every message of a
// higher priority before any of a lower one.
func TestKilledPrioritySendersLoseNothingAndKeepTheOrder(t *testing.T) {
	t.Parallel()
	const q = "prio"
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", q)
	printed := map[string]string{} // id -> priority
	prios := []string{"9", "4", "0"}
	for round, after := range []int{0, 1, 10, 100, 999, 1000, 1001} {
		p := prios[round%len(prios)]
		var input strings.Builder
		for i := range 1200 {
			fmt.Fprintf(&input, "%s %d %d\n", p, round, i)
		}
		cmd := s.command("send", "--lines", "-p", p, q)
		cmd.Stdin = strings.NewReader(input.String())
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		proc := start(t, fmt.Sprintf("sender %d", round), cmd)
		br := bufio.NewReader(out)
		for range after {
			line, err := br.ReadString('\n')
			if err != nil {
				break // it finished, or died, first
			}
			printed[strings.TrimSuffix(line, "\n")] = p
		}
		if !proc.exited() {
			proc.cmd.Process.Kill()
		}
		<-proc.done
	}
	stamp, err := os.ReadFile(filepath.Join(s.root, q, ".format"))
	if err != nil || string(stamp) != "pq queue format 1\n" && string(stamp) != "pq queue format 2\n" {
		t.Fatalf("format stamp %q, %v: want a whole one", stamp, err)
	}
	inQueue := map[string]string{} // id -> the priority of its tree
	for _, rel := range files(t, s.dir(q, "new")) {
		tree := "4"
		if top, _, _ := strings.Cut(rel, "/"); strings.HasPrefix(top, "p") {
			tree = top[1:]
		}
		id, fields, _ := strings.Cut(filepath.Base(rel), ",")
		if want := "p=" + tree; tree != "4" && fields != want {
			t.Errorf("new/%s: fields %q in the tree of priority %s", rel, fields, tree)
		}
		inQueue[id] = tree
	}
	for id, p := range printed {
		if inQueue[id] != p {
			t.Errorf("id %s of priority %s was printed; in the queue: %q", id, p, inQueue[id])
		}
	}
	out := s.run(t, nil, []int{0}, "recv", "--all", "--lines", q)
	lines, _ := splitLines(out)
	if len(lines) != len(inQueue) {
		t.Errorf("received %d messages, the queue held %d", len(lines), len(inQueue))
	}
	last := "9"
	for _, l := range lines {
		if p := l[:1]; p > last {
			t.Fatalf("received %q after a message of priority %s", l, last)
		} else {
			last = p
		}
	}
	t.Logf("%d messages in the queue, %d ids printed", len(inQueue), len(printed))
}
