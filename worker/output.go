package worker

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	mu    sync.Mutex
	max   int
	lines [][]byte
	part  []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, b := range p {
		if len(t.part) < 4096 {
			t.part = append(t.part, b)
		}
		if b == '\n' {
			t.lines = append(t.lines, t.part)
			t.part = nil
			if len(t.lines) > t.max {
				t.lines = t.lines[1:]
			}
		}
	}
	return len(p), nil
}

// String returns the kept lines.
func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.Join(append(t.lines, t.part), nil))
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := bytes.Split(bytes.TrimRight([]byte(s), "\n"), []byte("\n"))
	return string(lines[len(lines)-1])
}

// SyncWriter serializes the writes to W, for a stream that several
// commands and a log share, such as a worker's stderr: give the same
// SyncWriter to [CommandOptions] and to the logger, and no line of one cuts
// into a line of another.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

// Write writes p to W, alone.
func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}

// stderrPipe carries a job's stderr to pq's stderr and to the tail kept for
// a dead letter. Its descriptors are plain blocking ones: the child gets the
// write end itself, and one goroutine blocked in read forwards what comes,
// which costs less per job than a pipe registered with the runtime's poller.
type stderrPipe struct {
	r, w *os.File
	to   io.Writer
	done chan struct{}
}

// newStderrPipe makes a pipe whose output goes to to.
func newStderrPipe(to io.Writer) (*stderrPipe, error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, fmt.Errorf("stderr pipe: %w", err)
	}
	return &stderrPipe{
		r:    os.NewFile(uintptr(fds[0]), "|stderr"),
		w:    os.NewFile(uintptr(fds[1]), "stderr|"),
		to:   to,
		done: make(chan struct{}),
	}, nil
}

// started closes the parent's write end, once the child has its copy or
// failed to start, and starts forwarding.
func (p *stderrPipe) started() {
	p.w.Close()
	go func() {
		defer close(p.done)
		defer p.r.Close()
		io.Copy(p.to, p.r)
	}()
}

// stderrLinger bounds how long a finished job's stderr is still read: a
// process that escaped the job's process group may hold it open forever.
var stderrLinger = 2 * time.Second

// wait returns when every process that held the write end has closed it,
// the job and whatever it left in its group, which the job's end kills; or
// after stderrLinger, leaving the forwarding to finish on its own.
func (p *stderrPipe) wait() {
	t := time.NewTimer(stderrLinger)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
	}
}
