package cmd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"pq/spool"
)

// run runs the command on one claimed message and settles the claim by the
// command's exit status.
func (w *worker) run(j *job) {
	tail := &tailWriter{max: 10}
	cmd := exec.Command("/bin/sh", "-c", w.o.command)
	// The body is the claim's own locked descriptor: the command, and
	// anything it leaves running, holds the claim for as long as it keeps
	// stdin open, even if this worker dies.
	cmd.Stdin = j.c.File()
	cmd.Stdout = w.e.Out
	stderr, err := newStderrPipe(io.MultiWriter(lockedWriter(w.e.Err), tail))
	if err != nil {
		w.settle(j, outcome{status: jobCannotRun, cause: err.Error()}, tail)
		return
	}
	cmd.Stderr = stderr.w
	cmd.Env = w.env(j.c)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}

	// Start under the lock, so that a shutdown either finds the job
	// started and stops it, or stops it from starting.
	w.mu.Lock()
	if !j.interrupted {
		if err = cmd.Start(); err == nil {
			j.cmd = cmd
		}
	}
	started := j.cmd != nil
	w.mu.Unlock()
	stderr.started()
	var res outcome
	switch {
	case started:
		res = w.wait(cmd)
	case err != nil:
		res = outcome{status: jobCannotRun, cause: err.Error()}
	}
	stderr.wait() // the whole tail, before it is recorded
	w.settle(j, res, tail)
}

// outcome is how a job ended.
type outcome struct {
	status   int // exit status, or -1 for a signal or a timeout
	cause    string
	timedOut bool
}

// wait waits for the job, stopping its process group when it runs past
// --job-timeout.
func (w *worker) wait(cmd *exec.Cmd) outcome {
	var timedOut bool
	var mu sync.Mutex
	if w.o.JobTimeout > 0 {
		t := time.AfterFunc(w.o.JobTimeout, func() {
			mu.Lock()
			timedOut = true
			mu.Unlock()
			stopGroup(cmd.Process.Pid)
		})
		defer t.Stop()
	}
	err := cmd.Wait()
	// Whatever the command left behind in its group goes with it.
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	mu.Lock()
	defer mu.Unlock()
	if timedOut {
		return outcome{status: -1, cause: fmt.Sprintf("timed out after %s", w.o.JobTimeout), timedOut: true}
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return outcome{status: -1, cause: err.Error()}
	}
	st := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if st.Signaled() {
		return outcome{status: -1, cause: "killed by signal " + signalName(st.Signal())}
	}
	return outcome{status: st.ExitStatus(), cause: fmt.Sprintf("exit status %d", st.ExitStatus())}
}

// settle acks, retries or dead-letters a finished job's claim.
func (w *worker) settle(j *job, res outcome, tail *tailWriter) {
	c := j.c
	w.mu.Lock()
	interrupted := j.interrupted
	w.mu.Unlock()
	var err error
	switch {
	case interrupted:
		err = c.Release()
	case res.status == 0:
		w.acks <- c
		return
	case res.status == jobCannotRun || res.status == jobNotFound:
		// Stop claiming before the message is back in the queue.
		why := fmt.Sprintf("queue %s: the command cannot run (%s)", w.q.Name(), res.cause)
		if line := lastLine(tail.String()); line != "" {
			why += ": " + line
		}
		w.setFatal(withHint(errors.New(why),
			"the message was put back untouched; fix the command and start the worker again"))
		err = c.Release()
	case res.status == jobPermanent:
		err = c.DeadLetter(spool.Reason{Cause: res.cause + " (permanent failure)", Stderr: tail.String()})
		w.logf("%s: %s (permanent failure): dead-lettered", c.ID(), res.cause)
	case c.Attempt() >= w.o.MaxAttempts:
		err = c.DeadLetter(spool.Reason{Cause: res.cause, Stderr: tail.String()})
		w.logf("%s: %s on attempt %d of %d: dead-lettered", c.ID(), res.cause, c.Attempt(), w.o.MaxAttempts)
	default:
		delay := w.o.backoff(c.Attempt())
		err = c.Retry(delay)
		w.logf("%s: %s on attempt %d of %d: retry in %s", c.ID(), res.cause, c.Attempt(), w.o.MaxAttempts, delay)
	}
	if err != nil {
		w.setFatal(err)
	}
}

// backoff is the delay before the retry that follows failed attempt n:
// backoff_min doubled for each earlier failure, at most backoff_max.
func (o *execOptions) backoff(n int) time.Duration {
	d := o.BackoffMin
	for i := 1; i < n && d < o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, o.BackoffMax)
}

// signalName names a signal as kill -l does.
func signalName(s syscall.Signal) string {
	names := map[syscall.Signal]string{
		syscall.SIGHUP: "HUP", syscall.SIGINT: "INT", syscall.SIGQUIT: "QUIT", syscall.SIGABRT: "ABRT",
		syscall.SIGKILL: "KILL", syscall.SIGSEGV: "SEGV", syscall.SIGPIPE: "PIPE", syscall.SIGTERM: "TERM",
		syscall.SIGBUS: "BUS", syscall.SIGFPE: "FPE", syscall.SIGILL: "ILL", syscall.SIGUSR1: "USR1", syscall.SIGUSR2: "USR2",
	}
	if n, ok := names[s]; ok {
		return n
	}
	return fmt.Sprint(int(s))
}

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

// stderrMu serializes writes to a shared stderr from concurrent jobs.
var stderrMu sync.Mutex

// lockedWriter writes to w under stderrMu.
func lockedWriter(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		stderrMu.Lock()
		defer stderrMu.Unlock()
		return w.Write(p)
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

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
