package cmd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"pq/config"
	"pq/spool"
)

// Exit statuses of a job that mean something to the worker.
const (
	// jobPermanent is the exit status by which a command says a message
	// can never succeed: it goes straight to the dead-letter queue.
	jobPermanent = 100
	// jobCannotRun and jobNotFound are the shell's statuses for a command
	// that could not run at all: a broken worker, not a bad message.
	jobCannotRun = 126
	jobNotFound  = 127
)

// killGrace is how long a job stopped with SIGTERM has before SIGKILL.
var killGrace = 3 * time.Second

// execOptions are the settings of a worker loop.
type execOptions struct {
	queue   string
	command string
	jobs    int
	wait    bool
	config.Worker
}

// worker runs a command once per message, up to jobs at a time.
type worker struct {
	e      *env
	q      *spool.Queue
	o      execOptions
	root   string
	acks   chan *spool.Claim
	ackErr chan error

	mu      sync.Mutex
	running map[*job]bool
	fatal   error // a command that cannot run at all stops the worker
	done    chan struct{}
}

// job is one run of the command on one claimed message.
type job struct {
	c           *spool.Claim
	cmd         *exec.Cmd
	interrupted bool // stopped by the worker's shutdown: not the message's fault
}

// runExec is pq recv --exec: it returns when no ready message is left
// (without --wait) or after a shutdown signal (with --wait).
func runExec(ctx context.Context, e *env, q *spool.Queue, o execOptions) error {
	root, err := filepath.Abs(e.root)
	if err != nil {
		return err
	}
	w := &worker{
		e: e, q: q, o: o, root: root,
		acks: make(chan *spool.Claim, 1024), ackErr: make(chan error, 1),
		running: map[*job]bool{}, done: make(chan struct{}, 1),
	}
	go w.acker()

	// Signals: the first stops claiming (ctx is cancelled by Main) and
	// gives running jobs --grace to finish; a second cuts that short.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	loopErr := w.loop(ctx)
	w.drain(sigs, ctx.Err() != nil)
	close(w.acks)
	ackErr := <-w.ackErr
	switch {
	case w.fatal != nil:
		return w.fatal
	case loopErr != nil:
		return loopErr
	default:
		return ackErr
	}
}

// loop claims messages and starts jobs until the queue is drained (without
// --wait), ctx is done, or a command cannot run.
func (w *worker) loop(ctx context.Context) error {
	r := w.q.NewReceiver()
	defer r.Close()
	slots := make(chan struct{}, w.o.jobs)
	next := time.Now() // the earliest start allowed by --rate
	for {
		if ctx.Err() != nil || w.stopped() {
			return nil
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		// A job that could not run may have stopped the worker while
		// we waited for its slot.
		if w.stopped() {
			<-slots
			return nil
		}
		if err := w.pace(ctx, &next); err != nil {
			<-slots
			return nil
		}
		busy := w.count()
		c, err := r.Claim()
		switch {
		case errors.Is(err, spool.ErrEmpty):
			<-slots
			if !w.idle(ctx, r, busy) {
				return nil
			}
			continue
		case err != nil:
			<-slots
			return err
		}
		j := &job{c: c}
		w.mu.Lock()
		w.running[j] = true
		w.mu.Unlock()
		go func() {
			w.run(j)
			w.mu.Lock()
			delete(w.running, j)
			w.mu.Unlock()
			<-slots
			select {
			case w.done <- struct{}{}:
			default: // a wake-up is already pending
			}
		}()
	}
}

// idle waits after finding the queue empty and reports whether to go on:
// without --wait the worker ends once it found the queue empty with no job
// running (busy is how many ran when it looked), since a running job may
// put its message back.
func (w *worker) idle(ctx context.Context, r *spool.Receiver, busy int) bool {
	if w.o.wait {
		return r.Wait(ctx) == nil
	}
	if busy == 0 {
		return false
	}
	if w.count() == 0 {
		return true // look once more, now that all are done
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return false
	}
	return true
}

// pace waits for the next start that --rate allows.
func (w *worker) pace(ctx context.Context, next *time.Time) error {
	if w.o.Rate <= 0 {
		return nil
	}
	if d := time.Until(*next); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	*next = time.Now().Add(time.Duration(float64(time.Second) / w.o.Rate))
	return nil
}

func (w *worker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

func (w *worker) stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fatal != nil
}

// drain waits for running jobs. After a shutdown signal it waits up to
// --grace, then stops what is left and puts those messages back; a second
// signal does that at once.
func (w *worker) drain(sigs chan os.Signal, shutdown bool) {
	var graceC <-chan time.Time
	if shutdown {
		// The signal that started the shutdown reached sigs too.
		select {
		case <-sigs:
		default:
		}
		t := time.NewTimer(w.o.Grace)
		defer t.Stop()
		graceC = t.C
	}
	for w.count() > 0 {
		select {
		case <-w.done:
		case <-graceC:
			w.interruptAll()
			graceC = nil
		case <-sigs:
			w.interruptAll()
		}
	}
}

// interruptAll stops every running job; their messages go back untouched.
func (w *worker) interruptAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for j := range w.running {
		j.interrupted = true
		if j.cmd != nil && j.cmd.Process != nil {
			stopGroup(j.cmd.Process.Pid)
		}
	}
}

// stopGroup sends SIGTERM to a job's process group, then SIGKILL after
// killGrace to whatever is left of it.
func stopGroup(pid int) {
	syscall.Kill(-pid, syscall.SIGTERM)
	time.AfterFunc(killGrace, func() { syscall.Kill(-pid, syscall.SIGKILL) })
}

// ackWindow is how long the acker gathers finished claims before it acks
// them with one fsync. An ack that waits is no risk: until it is durable, a
// crash can only deliver the message again.
var ackWindow = 10 * time.Millisecond

// acker acks finished claims in groups: the first one opens a window of
// ackWindow, and everything that finished by its end, up to ackBatch, is
// acked with one fsync of cur/.
func (w *worker) acker() {
	var first error
	for c := range w.acks {
		batch := []*spool.Claim{c}
		window := time.NewTimer(ackWindow)
	more:
		for len(batch) < ackBatch {
			select {
			case c, ok := <-w.acks:
				if !ok {
					break more
				}
				batch = append(batch, c)
			case <-window.C:
				break more
			}
		}
		window.Stop()
		if err := w.q.Ack(batch...); err != nil && first == nil {
			first = err
		}
	}
	w.ackErr <- first
}

// env returns the environment of a job.
func (w *worker) env(c *spool.Claim) []string {
	return append(os.Environ(),
		"PQ_QUEUE="+w.q.Name(),
		"PQ_ID="+string(c.ID()),
		"PQ_ATTEMPT="+strconv.Itoa(c.Attempt()),
		"PQ_FILE="+c.Path(),
		"PQ_ROOT="+w.root,
	)
}

// setFatal records the error that stops the worker, keeping the first.
func (w *worker) setFatal(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fatal == nil {
		w.fatal = err
	}
}

// logf prints a line about the worker's own doings on stderr.
func (w *worker) logf(format string, args ...any) {
	fmt.Fprintf(w.e.Err, "pq: %s: "+format+"\n", append([]any{w.q.Name()}, args...)...)
}
