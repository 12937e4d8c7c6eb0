//go:build linux

package cmd_test

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A queue with a capacity limit keeps counts that a killed sender or
// worker leaves off by what it was doing; pq recover counts afresh and
// sets them right, whatever the moment of the kill.
func TestRecoverSetsCountsRightAfterKills(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "--set", "max_messages=1000000", "q")
	input := filepath.Join(t.TempDir(), "input")
	os.WriteFile(input, []byte(strings.Repeat("a message\n", 3000)), 0o600)
	for round := range 3 {
		// A sender killed once its first batch is in, a worker once it
		// has taken some.
		snd := start(t, "pq send", s.command("send", "--lines", "q", input))
		waitUntil(t, "a first batch", func() bool { return len(files(t, s.dir("q", "new"))) > 0 }, snd)
		snd.cmd.Process.Kill()
		snd.wait(t)
		wrk := start(t, "pq recv --exec", s.command("recv", "--exec", "cat >/dev/null", "--wait", "q"))
		before := len(files(t, s.dir("q", "new")))
		waitUntil(t, "a job done", func() bool { return len(files(t, s.dir("q", "new"))) < before }, wrk)
		wrk.cmd.Process.Kill()
		wrk.wait(t)

		s.run(t, nil, []int{0}, "recover", "q")
		var held int64
		for _, sub := range []string{"new", "cur", ".due"} {
			held += int64(len(files(t, filepath.Join(s.root, "q", sub))))
		}
		b, err := os.ReadFile(filepath.Join(s.root, "q", ".count"))
		if err != nil || len(b) != 16 {
			t.Fatalf("round %d: .count: %q, %v", round, b, err)
		}
		if kept := int64(binary.LittleEndian.Uint64(b)); kept != held {
			t.Fatalf("round %d: after pq recover the queue counts %d messages, and holds %d", round, kept, held)
		}
	}
}
