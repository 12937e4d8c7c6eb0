package cmd_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestKilledReceiversWhileAdoptingForeignFiles drops files with names pq
// cannot use into new/ (as a script that renames its own files in would),
// and kills receivers while they give those files ids of pq's own, at a
// different point in each round. Nothing may be lost: every body is
// delivered, whole, and more than once only if the killed receiver held
// its claim; the queue ends empty.
func TestKilledReceiversWhileAdoptingForeignFiles(t *testing.T) {
	t.Parallel()
	const (
		files = 1500
		q     = "adopt"
	)
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", q)
	for i := range files {
		name := fmt.Sprintf("job-%04d", i)
		if i%3 == 0 {
			name += ",x" // malformed fields
		}
		if err := os.WriteFile(filepath.Join(s.dir(q, "new"), name), []byte(fmt.Sprintf("body %04d", i)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	counts := make(bodyCount, files)
	for round := 1; round <= 3; round++ {
		cmd := s.command("recv", "--all", "--wait", "--lines", q)
		out := &strings.Builder{}
		cmd.Stdout = out
		victim := start(t, fmt.Sprintf("receiver %d", round), cmd)
		adopted := round * files / 8
		waitUntil(t, fmt.Sprintf("%d files adopted", adopted), func() bool {
			return len(names(t, s.dir(q, ".meta"))) >= adopted
		}, victim)
		victim.kill(t)
		counts.add(t, []byte(out.String()), true)
	}
	held := len(names(t, s.dir(q, "cur")))
	counts.add(t, s.run(t, nil, []int{0, 1}, "recv", "--all", "--lines", q), false)
	counts.check(t, held)
	if f := s.waiting(t, q); len(f) > 0 {
		t.Errorf("%d messages left waiting, first %s", len(f), f[0])
	}
	if c := names(t, s.dir(q, "cur")); len(c) > 0 {
		t.Errorf("%d claims left in cur/", len(c))
	}
	// A receiver killed while writing a metadata file leaves it in tmp/,
	// where pq recover removes it once old, like a killed sender's file.
	for _, n := range names(t, s.dir(q, "tmp")) {
		if !strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".meta") {
			t.Errorf("tmp/%s left behind", n)
		}
	}
	if left := names(t, s.dir(q, ".meta")); len(left) > 3 {
		t.Errorf(".meta/ keeps %d files after every message was acked", len(left))
	}
}
