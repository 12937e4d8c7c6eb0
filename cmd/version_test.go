package cmd

import (
	"bytes"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "pq", Version: "v1.2.0"},
		Settings: []debug.BuildSetting{
			{Key: "-tags", Value: "urfave_cli_no_docs"},
			{Key: "GOOS", Value: "linux"}, {Key: "GOARCH", Value: "amd64"},
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "61433decaa5002aacc39c672f5765063065a7441"},
			{Key: "vcs.time", Value: "2026-12-01T10:21:11Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	want := "pq v1.2.0\n" +
		"module    pq v1.2.0\n" +
		"go        go1.26.8\n" +
		"platform  linux/amd64\n" +
		"tags      urfave_cli_no_docs\n" +
		"vcs       git\n" +
		"revision  61433decaa5002aacc39c672f5765063065a7441\n" +
		"time      2026-12-01T10:21:11Z\n" +
		"modified  true\n"
	if got := formatVersion("", info); got != want {
		t.Errorf("formatVersion:\n%s\nwant:\n%s", got, want)
	}
	if got := formatVersion("1.3.0-rc1", info); !strings.HasPrefix(got, "pq 1.3.0-rc1\n") {
		t.Errorf("a version set at build time comes first: %q", got)
	}
	if got := formatVersion("", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "pq"}}); !strings.HasPrefix(got, "pq (devel)\n") || strings.Contains(got, "revision") {
		t.Errorf("a build without a version or a clone: %q", got)
	}
}

// TestVersionFlag shows pq --version and pq version alike on stdout, and
// -v left to the commands: urfave/cli's own version flag would claim it.
func TestVersionFlag(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errs bytes.Buffer
		code := Main(append([]string{"pq"}, args...), Stdio{Out: &out, Err: &errs})
		return code, out.String(), errs.String()
	}
	_, want, _ := run("version")
	if !strings.HasPrefix(want, "pq ") || !strings.Contains(want, "\ngo        go1.") {
		t.Fatalf("pq version printed %q", want)
	}
	for _, args := range [][]string{{"--version"}, {"--root", "/nonexistent", "--version"}, {"--config=/nonexistent", "--version"}} {
		if code, out, errs := run(args...); code != ExitOK || out != want {
			t.Errorf("pq %q: exit %d, stdout %q, stderr %q; want pq version's output", args, code, out, errs)
		}
	}
	if code, out, _ := run("-v"); code != ExitError || out != "" {
		t.Errorf("pq -v: exit %d, stdout %q; want a usage error", code, out)
	}
	if code, _, _ := run("version", "extra"); code != ExitError {
		t.Errorf("pq version extra: exit %d; want a usage error", code)
	}
}

func TestVersionFlagged(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"pq --version", true},
		{"pq --root /r --version", true},
		{"pq --root --version", false}, // --version is --root's value
		{"pq recv --version", false},
		{"pq -- --version", false},
		{"pq", false},
	}
	for _, tt := range tests {
		if got := versionFlagged(strings.Fields(tt.in)); got != tt.want {
			t.Errorf("versionFlagged(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
