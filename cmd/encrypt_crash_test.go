//go:build linux

package cmd_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"filippo.io/age"

	"pq/seal"
)

// writeKey writes a fresh age identity file and returns its path and its
// recipient.
func writeKey(t *testing.T) (string, string) {
	t.Helper()
	k, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.txt")
	if err := os.WriteFile(path, []byte(k.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, k.Recipient().String()
}

// runCrashing runs the crash binary with args, killing itself at step n,
// and reports whether it was killed (false: it finished, exit 0).
func (s *spoolEnv) runCrashing(t *testing.T, bin string, n int, stdin string, args ...string) bool {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(s.env, fmt.Sprintf("PQ_CRASH_AT=%d", n))
	cmd.Stdin = strings.NewReader(stdin)
	p := start(t, strings.Join(args, " "), cmd)
	p.waitWithin(t, stepLimit)
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("step %d: %v, want SIGKILL or success; stderr:\n%s", n, p.err, p.stderr.String())
		}
		return true
	}
	if p.err != nil {
		t.Fatalf("step %d: %v; stderr:\n%s", n, p.err, p.stderr.String())
	}
	return false
}

// pq init --encrypt-to killed at each durable step leaves a queue that is
// plain, or encrypted whole with the format that an older pq refuses:
// never recipients that an older pq would ignore, nor half of them. Run
// again, it finishes, and what is sent then is an age file.
func TestKilledEncryptInitLeavesAPlainOrAWholeEncryptedQueue(t *testing.T) {
	t.Parallel()
	bin := crashBinary(t)
	s := newSpool(t)
	key, pub := writeKey(t)
	for n := 1; ; n++ {
		if n > 50 {
			t.Fatal("pq init --encrypt-to still had steps left at the 50th")
		}
		q := fmt.Sprintf("q%d", n)
		killed := s.runCrashing(t, bin, n, "", "init", "--encrypt-to", pub, q)
		rs, rerr := os.ReadFile(filepath.Join(s.root, q, ".recipients"))
		format, _ := os.ReadFile(filepath.Join(s.root, q, ".format"))
		if rerr == nil {
			if _, err := seal.ParseRecipientList(bytes.NewReader(rs)); err != nil {
				t.Fatalf("step %d: .recipients is torn: %v", n, err)
			}
			if string(format) != "pq queue format 5\n" {
				t.Fatalf("step %d: .recipients with format %q: an older pq would deliver ciphertext", n, format)
			}
		}
		s.run(t, nil, []int{0}, "init", "--encrypt-to", pub, q)
		s.run(t, []byte("hello"), []int{0}, "send", q)
		got := s.run(t, nil, []int{0}, "recv", "--identity", key, q)
		if string(got) != "hello" {
			t.Fatalf("step %d: received %q", n, got)
		}
		if !killed {
			if n == 1 {
				t.Fatal("it finished without a durable step to kill it at")
			}
			t.Logf("killed at each of %d steps", n-1)
			return
		}
	}
}

// A sender to an encrypted queue killed at each durable step never makes
// a message visible that does not decrypt whole: a receiver with the key
// takes what is there without a dead letter.
func TestKilledEncryptedSenderLeavesNoTornCiphertext(t *testing.T) {
	t.Parallel()
	bin := crashBinary(t)
	s := newSpool(t)
	key, pub := writeKey(t)
	s.run(t, nil, []int{0}, "init", "--encrypt-to", pub, "q")
	body := strings.Repeat("a secret line\n", 10000) // three chunks
	for n := 1; ; n++ {
		if n > 50 {
			t.Fatal("pq send still had steps left at the 50th")
		}
		killed := s.runCrashing(t, bin, n, body, "send", "-H", "k=v", "q")
		got := s.run(t, nil, []int{0, 1}, "recv", "--all", "--identity", key, "q")
		if len(got) > 0 && string(got) != body {
			t.Fatalf("step %d: received %d bytes, want the body's %d", n, len(got), len(body))
		}
		if !killed && len(got) == 0 {
			t.Fatalf("step %d: the send finished and nothing was received", n)
		}
		if dead := s.run(t, nil, []int{0}, "dlq", "q"); len(dead) > 0 {
			t.Fatalf("step %d: dead letters: %s", n, dead)
		}
		if !killed {
			if n == 1 {
				t.Fatal("it finished without a durable step to kill it at")
			}
			t.Logf("killed at each of %d steps", n-1)
			return
		}
	}
}
