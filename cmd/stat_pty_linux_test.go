package cmd_test

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("no pseudo-terminal here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m, s
}

// readUntil reads from r until what it read holds want n times, and
// returns it; it fails the test after stepLimit.
func readUntil(t *testing.T, r *os.File, want string, n int) string {
	t.Helper()
	var got bytes.Buffer
	done := make(chan error, 1)
	go func() {
		b := make([]byte, 4096)
		for strings.Count(got.String(), want) < n {
			k, err := r.Read(b)
			got.Write(b[:k])
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("read the terminal: %v; got %q", err, got.String())
		}
	case <-time.After(stepLimit):
		r.Close() // ends the read
		<-done
		t.Fatalf("waited %v for %d of %q; got %q", stepLimit, n, want, got.String())
	}
	return got.String()
}

// TestStatOnATerminal runs pq stat with a pseudo-terminal as stdout: the
// table has human units, and --watch redraws it in place.
func TestStatOnATerminal(t *testing.T) {
	t.Parallel()
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "jobs")
	s.run(t, []byte(strings.Repeat("x", 2048)), []int{0}, "send", "jobs")

	m, tty := openPTY(t)
	cmd := s.command("stat", "jobs")
	cmd.Stdout = tty
	p := start(t, "pq stat", cmd, tty)
	out := readUntil(t, m, "\n", 2)
	if code := p.waitWithin(t, stepLimit); code != 0 {
		t.Fatalf("pq stat exited %d: %s", code, p.stderr.String())
	}
	if !strings.Contains(out, "2.0 KiB") {
		t.Errorf("pq stat on a terminal printed %q, want the bytes as 2.0 KiB", out)
	}

	m, tty = openPTY(t)
	cmd = s.command("stat", "--watch", "--interval", "100ms", "jobs")
	cmd.Stdout = tty
	p = start(t, "pq stat --watch", cmd, tty)
	out = readUntil(t, m, "\x1b[H\x1b[2J", 3)
	if !strings.Contains(out, "2.0 KiB") || !strings.Contains(out, "SENT/S") {
		t.Errorf("pq stat --watch on a terminal printed %q, want human units and rates", out)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.waitWithin(t, stepLimit); code != 0 {
		t.Errorf("pq stat --watch exited %d on SIGINT, want 0: %s", code, p.stderr.String())
	}
}
