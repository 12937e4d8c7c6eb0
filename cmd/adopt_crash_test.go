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
	counts := make([]int, files)
	// record counts the bodies in out; a killed receiver may have died in
	// the middle of a line, which is ignored.
	record := func(out []byte, killed bool) {
		lines, frag := splitLines(out)
		if frag != "" && !killed {
			t.Errorf("an unterminated line of %d bytes", len(frag))
		}
		for _, l := range lines {
			var i int
			if _, err := fmt.Sscanf(l, "body %d", &i); err != nil || i < 0 || i >= files {
				t.Fatalf("a bad body %q in %q", l, out)
			}
			counts[i]++
		}
	}
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
		record([]byte(out.String()), true)
	}
	held := len(names(t, s.dir(q, "cur")))
	record(s.run(t, nil, []int{0, 1}, "recv", "--all", "--lines", q), false)
	dups := 0
	for i, n := range counts {
		switch {
		case n == 0:
			t.Errorf("body %d was never delivered", i)
		case n > 1:
			dups += n - 1
		}
	}
	if dups > held {
		t.Errorf("%d bodies delivered twice, but the killed receivers held only %d claims", dups, held)
	}
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
