package cmd_test

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCompletionScriptsLoad loads pq completion's script in each shell that
// is installed, completes a few command lines through the shell's own
// completion entry point, and checks that the suggestions hold a queue
// name and flags, and that the spool, with a message ready, is left
// exactly as it was.
func TestCompletionScriptsLoad(t *testing.T) {
	s := newSpool(t)
	send := s.command("send", "jobs")
	send.Stdin = strings.NewReader("body")
	if out, err := send.CombinedOutput(); err != nil {
		t.Fatalf("pq send: %v: %s", err, out)
	}
	before := spoolTree(t, s.root)
	// The scripts run "pq" from PATH (fish, zsh) or the command line's
	// first word (bash).
	path := filepath.Dir(s.bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	env := append(append([]string{}, s.env...), "PATH="+path)
	script := func(shell string) string {
		c := s.command("completion", shell)
		out, err := c.Output()
		if err != nil {
			t.Fatalf("pq completion %s: %v", shell, err)
		}
		f := filepath.Join(t.TempDir(), "pq."+shell)
		if err := os.WriteFile(f, out, 0o644); err != nil {
			t.Fatal(err)
		}
		return f
	}
	run := func(t *testing.T, shell string, args ...string) string {
		t.Helper()
		c := exec.Command(shell, args...)
		c.Env = env
		out, err := c.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %q: %v\n%s", shell, args, err, out)
		}
		return string(out)
	}
	want := func(t *testing.T, out string, words ...string) {
		t.Helper()
		for _, w := range words {
			if !strings.Contains(out, w) {
				t.Errorf("suggestions lack %q:\n%s", w, out)
			}
		}
	}

	t.Run("bash", func(t *testing.T) {
		f := script("bash")
		run(t, "bash", "-n", f)
		out := run(t, "bash", "--norc", "--noprofile", "-c", `source "$1"; pq=$2
			complete -p pq
			try() { COMP_WORDS=("$pq" "$@"); COMP_CWORD=$#; _pq_complete; echo "$*: ${COMPREPLY[*]}"; }
			try recv j; try recv --w; try recv jobs -- ""; try send jobs -- -; try ""`, "bash", f, s.bin)
		want(t, out, "complete -o default -F _pq_complete pq", "recv j: jobs\n", "recv --w: --wait\n", "recv jobs -- : jobs\n", ": send recv")
	})
	t.Run("zsh", func(t *testing.T) {
		if _, err := exec.LookPath("zsh"); err != nil {
			t.Skip("zsh is not installed: its completion script is not checked")
		}
		f := script("zsh")
		run(t, "zsh", "-n", f)
		// Outside a completion widget, compadd cannot run: the stubs of
		// compdef, _describe and _files print what they are given.
		out := run(t, "zsh", "-f", "-c", `compdef() { print -r -- "compdef $*" }
			_describe() { print -rl -- "${(@P)${@[-1]}}" }
			_files() { print FILES }
			source "$1"
			words=(pq recv j); CURRENT=3; _pq
			words=(pq recv --w); CURRENT=3; _pq
			words=(pq recv --timeout ""); CURRENT=4; _pq`, "zsh", f)
		want(t, out, "compdef _pq pq", "jobs:queue", "--wait:wait for a message", "FILES")
	})
	t.Run("fish", func(t *testing.T) {
		if _, err := exec.LookPath("fish"); err != nil {
			t.Skip("fish is not installed: its completion script is not checked")
		}
		f := script("fish")
		run(t, "fish", "--no-config", "-n", f)
		out := run(t, "fish", "--no-config", "-c", `source $argv[1]
			complete -C "pq recv j"; complete -C "pq recv --w"; complete -C "pq recv jobs -- "`, f)
		want(t, out, "jobs\tqueue", "--wait\twait for a message")
	})
	if after := spoolTree(t, s.root); after != before {
		t.Errorf("completing changed the spool:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// spoolTree describes every file and directory under root: its path, mode,
// size and modification time.
func spoolTree(t *testing.T, root string) string {
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
	if !strings.Contains(b.String(), string(filepath.Separator)+"new"+string(filepath.Separator)) {
		t.Fatalf("no message in new/:\n%s", b.String())
	}
	return b.String()
}
