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

func TestCommandName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"pq recv jobs", "recv"},
		{"pq --root /r send jobs", "send"},
		{"pq --root=/r --config c.toml recv jobs", "recv"},
		{"pq --config c.toml", ""},
		{"pq --help", ""},
		{"pq -- recv jobs", ""},
		{"pq", ""},
		{"pq nosuch jobs", "nosuch"},
	}
	for _, tt := range tests {
		if got := commandName(strings.Fields(tt.in)); got != tt.want {
			t.Errorf("commandName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestCommandsFor shows that a run builds the command it names alone, and
// every command when it names none of them.
func TestCommandsFor(t *testing.T) {
	e := &env{}
	if cmds := commandsFor(e, strings.Fields("pq --root /r recv jobs")); len(cmds) != 1 || cmds[0].Name != "recv" {
		t.Errorf("pq recv built %d commands, want recv alone", len(cmds))
	}
	for _, in := range []string{"pq --help", "pq rcv jobs", "pq"} {
		if cmds := commandsFor(e, strings.Fields(in)); len(cmds) != len(builders) {
			t.Errorf("%q built %d commands, want all %d", in, len(cmds), len(builders))
		}
	}
}
