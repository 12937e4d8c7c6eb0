package cmd

import (
	"strings"
	"testing"
)

func TestReorderMovesFlagsBeforeArguments(t *testing.T) {
	app := newApp(&env{})
	tests := []struct{ in, want string }{
		{"pq recv jobs --all", "pq recv --all -- jobs"},
		{"pq recv jobs -n 3 --wait", "pq recv -n 3 --wait -- jobs"},
		{"pq send jobs --root /r --lines", "pq --root /r send --lines -- jobs"},
		{"pq send --lines jobs -- -n", "pq send --lines -- jobs -n"},
		{"pq --root=/r recv jobs --timeout=1s", "pq --root=/r recv --timeout=1s -- jobs"},
		{"pq send jobs -", "pq send -- jobs -"},
	}
	for _, tt := range tests {
		got, err := reorder(app, strings.Fields(tt.in))
		if err != nil || strings.Join(got, " ") != tt.want {
			t.Errorf("reorder(%q) = %q, %v; want %q", tt.in, strings.Join(got, " "), err, tt.want)
		}
	}
}

func TestReorderRefusesUnknownFlagsAndMissingValues(t *testing.T) {
	app := newApp(&env{})
	for _, in := range []string{"pq recv jobs --bogus", "pq recv jobs -n", "pq --root"} {
		if _, err := reorder(app, strings.Fields(in)); err == nil {
			t.Errorf("reorder(%q) accepted it", in)
		}
	}
}
