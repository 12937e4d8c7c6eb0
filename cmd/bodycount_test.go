package cmd_test

import (
	"fmt"
	"testing"
)

// bodyCount counts how often each of n bodies "body NNNN" was received.
type bodyCount []int

// add counts the bodies in out, one a line; a killed receiver may have
// died in the middle of a line, which is then ignored.
func (bc bodyCount) add(t *testing.T, out []byte, killed bool) {
	t.Helper()
	lines, frag := splitLines(out)
	if frag != "" && !killed {
		t.Errorf("an unterminated line of %d bytes", len(frag))
	}
	for _, l := range lines {
		var i int
		if _, err := fmt.Sscanf(l, "body %d", &i); err != nil || i < 0 || i >= len(bc) {
			t.Fatalf("a bad body %q", l)
		}
		bc[i]++
	}
}

// check fails for a body never received, and when more were received twice
// than the killed receivers held claims.
func (bc bodyCount) check(t *testing.T, held int) {
	t.Helper()
	dups := 0
	for i, n := range bc {
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
}
