package cmd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExampleConfigParses(t *testing.T) {
	c, err := loadConfig(filepath.Join("..", "config.example.toml"), true)
	if err != nil {
		t.Fatal(err)
	}
	if c.Root == "" {
		t.Fatal("config.example.toml sets no root")
	}
}

func TestConfigErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"unknown key", "root = \"/x\"\nrooot = \"/y\"\n", `unknown key "rooot"`},
		{"malformed", "root = \"/x\"\nroot = = 3\n", "line 2"},
		{"wrong type", "root = 3\n", "root"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.toml")
			os.WriteFile(path, []byte(tt.text), 0o600)
			_, err := loadConfig(path, true)
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one naming %s and %q", err, path, tt.want)
			}
		})
	}
}

func TestMissingConfigIsAnErrorOnlyWhenNamed(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.toml")
	if _, err := loadConfig(missing, true); err == nil {
		t.Fatal("a named config that does not exist was accepted")
	}
	if _, err := loadConfig(missing, false); err != nil {
		t.Fatalf("the default config may be absent: %v", err)
	}
}

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
