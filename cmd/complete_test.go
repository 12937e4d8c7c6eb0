package cmd

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// completionSpool makes a spool with the queues jobs (one ready message)
// and mail, points PQ_ROOT at it with no configuration, and returns it.
func completionSpool(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	t.Setenv("PQ_ROOT", root)
	t.Setenv("PQ_CONFIG", "")
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	e := &env{root: root}
	for _, name := range []string{"jobs", "mail"} {
		q, err := e.queue(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Create(); err != nil {
			t.Fatal(err)
		}
		if name == "jobs" {
			if _, err := q.Send(strings.NewReader("body")); err != nil {
				t.Fatal(err)
			}
		}
	}
	return root
}

// snapshot describes every file and directory under root: its path, mode,
// size and modification time.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var b strings.Builder
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s %v %d %d\n", path, fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func words(s string) []string {
	w := strings.Split(s, " ")
	if s == "" {
		return []string{""}
	}
	return w
}

func TestCompleteOffersCommandsFlagsAndQueues(t *testing.T) {
	completionSpool(t)
	tests := []struct {
		line string // the words; the last is the one completed
		want []string
		not  []string
	}{
		{"", []string{"send", "recv", "stat", "version", "completion", "man"}, []string{"jobs"}},
		{"re", []string{"recv", "request", "reply", "retry", "recover"}, []string{"send"}},
		{"recv ", []string{"jobs", "mail"}, []string{"recv"}},
		{"recv j", []string{"jobs"}, []string{"mail"}},
		{"recv --", []string{"--wait", "--grace", "--max-attempts", "--root", "--help"}, []string{"--json"}},
		{"recv -", []string{"-n", "-a", "-w", "-j", "-0", "--exec"}, nil},
		{"recv --exec cat --to ", []string{"jobs", "mail"}, nil},
		{"recv --to=m", []string{"--to=mail"}, []string{"--to=jobs"}},
		{"recv --to = m", []string{"mail"}, nil},
		{"recv jobs -- ", []string{"jobs", "mail"}, nil},
		{"recv jobs -- -", nil, []string{"--wait"}},
		{"ls --state ", []string{"ready", "delayed", "inflight", "dead"}, nil},
		{"--root /nonexistent recv ", nil, []string{"jobs"}},
		{"send jobs ", nil, []string{"jobs"}},
		{"completion ", []string{"bash", "zsh", "fish"}, nil},
		{"nosuch ", nil, []string{"jobs"}},
		{"recv --timeout ", nil, []string{"jobs"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			w := words(tt.line)
			var got []string
			for _, c := range complete(w[:len(w)-1], w[len(w)-1]) {
				got = append(got, c.word)
			}
			for _, want := range tt.want {
				if !slices.Contains(got, want) {
					t.Errorf("missing %q in %q", want, got)
				}
			}
			for _, not := range tt.not {
				if slices.Contains(got, not) {
					t.Errorf("unexpected %q in %q", not, got)
				}
			}
		})
	}
}

// TestCompletionChangesNothing asks for completions after every command, in
// every position, "--" included, and sends urfave/cli's own completion
// flag after every command: the spool, which has a message ready, stays
// exactly as it was (a recv completion claims nothing).
func TestCompletionChangesNothing(t *testing.T) {
	root := completionSpool(t)
	before := snapshot(t, root)
	for _, c := range commands(&env{}) {
		lines := [][]string{
			{c.Name, ""}, {c.Name, "jobs", ""}, {c.Name, "-"}, {c.Name, "jobs", "--", ""},
			{c.Name, "--", "jobs", ""}, {c.Name, "jobs", "--", "--all", "-"},
		}
		for _, l := range lines {
			var out, errs bytes.Buffer
			if code := Main(append([]string{"pq", completeArg, "bash"}, l...), Stdio{In: strings.NewReader(""), Out: &out, Err: &errs}); code != ExitOK {
				t.Errorf("pq __complete bash %q: exit %d, %s", l, code, errs.String())
			}
		}
		for _, l := range [][]string{
			{c.Name, bashCompletionFlag}, {c.Name, "jobs", bashCompletionFlag},
			{c.Name, "--", "jobs", bashCompletionFlag}, {c.Name, "jobs", "--", bashCompletionFlag},
			{c.Name, "--all", "jobs", "--", bashCompletionFlag},
		} {
			var out, errs bytes.Buffer
			code := Main(append([]string{"pq"}, l...), Stdio{In: strings.NewReader("input"), Out: &out, Err: &errs})
			if code != ExitError || out.Len() > 0 {
				t.Errorf("pq %q: exit %d, stdout %q, want a refusal", l, code, out.String())
			}
		}
	}
	if after := snapshot(t, root); after != before {
		t.Errorf("completion changed the spool:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if got, _ := filepath.Glob(filepath.Join(root, "jobs", "cur", "*")); len(got) > 0 {
		t.Errorf("a message was claimed: %q", got)
	}
}

func TestCompletionScriptsCallBackPQ(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if s, _ := completionScript(shell); !strings.Contains(s, completeArg+" "+shell) {
			t.Errorf("the %s script does not call pq %s %s", shell, completeArg, shell)
		}
	}
	var out bytes.Buffer
	if code := Main([]string{"pq", "completion", "tcsh"}, Stdio{In: os.Stdin, Out: &out, Err: &out}); code != ExitError {
		t.Errorf("pq completion tcsh: exit %d, want %d", code, ExitError)
	}
}
