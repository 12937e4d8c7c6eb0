package cmd_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestProgressOnATerminal: with stderr a terminal, pq recv --all, pq send
// --lines and a draining worker draw a progress line in place (carriage return, erase
// line) with what is left, and clear it at the end.
func TestProgressOnATerminal(t *testing.T) {
	s := newSpool(t)
	s.run(t, nil, []int{0}, "init", "q")
	big := []byte(strings.Repeat("x", 100<<10))
	for range 3 {
		s.run(t, big, []int{0}, "send", "q")
	}

	// recv --all into a pipe nobody reads yet: it blocks, and the line
	// shows.
	m, tty := openPTY(t)
	r, w := pipe(t)
	cmd := s.command("recv", "--all", "q")
	cmd.Stdout, cmd.Stderr = w, tty
	p := start(t, "pq recv --all", cmd, w, tty)
	out := readUntil(t, m, " left", 1)
	if !strings.Contains(out, "\r\x1b[Kpq: 0 messages received, 0/s, 3 left") {
		t.Errorf("pq recv --all on a terminal drew %q, want the messages received and 3 left", out)
	}
	if n, err := io.Copy(io.Discard, r); err != nil || n != 3*int64(len(big)) {
		t.Errorf("read %d bytes of stdout (%v), want the three bodies", n, err)
	}
	if code := p.waitWithin(t, stepLimit); code != 0 {
		t.Fatalf("pq recv --all exited %d", code)
	}

	// send --lines of a regular file, its ids going to a pipe filled up
	// beforehand: it blocks on them, and the share of the input read
	// shows.
	input := filepath.Join(t.TempDir(), "input")
	if err := os.WriteFile(input, []byte(strings.Repeat("line\n", 10)), 0o600); err != nil {
		t.Fatal(err)
	}
	m, tty = openPTY(t)
	r, w = pipe(t)
	size, err := unix.FcntlInt(w.Fd(), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	filler := make([]byte, size)
	if err := unix.SetNonblock(int(w.Fd()), true); err != nil {
		t.Fatal(err)
	}
	if n, err := unix.Write(int(w.Fd()), filler); err != nil || n != size {
		t.Fatalf("fill the pipe: wrote %d of %d bytes: %v", n, size, err)
	}
	if err := unix.SetNonblock(int(w.Fd()), false); err != nil {
		t.Fatal(err)
	}
	cmd = s.command("send", "--lines", "sent", input)
	cmd.Stdout, cmd.Stderr = w, tty
	p = start(t, "pq send --lines", cmd, w, tty)
	out = readUntil(t, m, "% of the input read", 1)
	if !strings.Contains(out, "pq: 10 messages sent, ") || !strings.Contains(out, ", 100% of the input read") {
		t.Errorf("pq send --lines on a terminal drew %q, want 10 messages sent and all the input read", out)
	}
	if b, err := io.ReadAll(r); err != nil || strings.Count(string(b[len(filler):]), "\n") != 10 {
		t.Errorf("pq send printed %q (%v), want 10 ids", b[len(filler):], err)
	}
	if code := p.waitWithin(t, stepLimit); code != 0 {
		t.Fatalf("pq send --lines exited %d", code)
	}

	// A draining worker whose job waits for the test.
	release := filepath.Join(t.TempDir(), "release")
	s.run(t, []byte("a\nb\n"), []int{0}, "send", "--lines", "q")
	m, tty = openPTY(t)
	cmd = s.command("recv", "--exec", "while [ ! -e "+release+" ]; do sleep 0.01; done", "q")
	cmd.Stderr = tty
	p = start(t, "pq recv --exec", cmd, tty)
	out = readUntil(t, m, " left", 1)
	if !strings.Contains(out, "pq: 0 messages handled, 0/s, 2 left") {
		t.Errorf("a draining worker on a terminal drew %q, want 2 left", out)
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if code := p.waitWithin(t, stepLimit); code != 0 {
		t.Fatalf("pq recv --exec exited %d", code)
	}
	tty.Close()
	rest, _ := io.ReadAll(m)
	out += string(rest)
	if !strings.Contains(out, "\r\x1b[K2") || !strings.Contains(out, "acked on attempt 1") ||
		!(strings.HasSuffix(out, "\n") || strings.HasSuffix(out, "\r\x1b[K")) {
		t.Errorf("the worker's terminal shows %q, want the progress line cleared before each log line and at the end", out)
	}
}
