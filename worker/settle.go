package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"pq/queue"
	"pq/seal"
	"pq/spool"
)

// causeTooMany is the cause recorded for a message dead-lettered because it
// came with Options.MaxAttempts failed attempts or more.
const causeTooMany = "too many attempts"

// run runs the handler on one claimed message and settles the claim by its
// result.
func (w *Worker) run(ctx context.Context, j *job) {
	hctx := ctx
	if w.o.JobTimeout > 0 {
		var cancel context.CancelFunc
		hctx, cancel = context.WithTimeout(ctx, w.o.JobTimeout)
		defer cancel()
	}
	start := time.Now()
	stop := w.keep(j.c)
	err := w.call(hctx, j)
	stop()
	timedOut := err != nil && errors.Is(hctx.Err(), context.DeadlineExceeded)
	w.settle(j, err, timedOut, time.Since(start))
}

// keep renews a claim that lapses unless extended ([queue.Extender]) at
// every ExtendEvery, until the returned function is called. A renewal that
// fails is logged: the claim may lapse, and the message then goes to
// another consumer, at least once.
func (w *Worker) keep(c queue.Claim) (stop func()) {
	x, ok := c.(queue.Extender)
	if !ok || x.ExtendEvery() <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(x.ExtendEvery())
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if err := x.Extend(context.Background()); err != nil {
					w.log.Warn(fmt.Sprintf("cannot extend the claim: %v", err), slog.String("id", string(c.ID())))
				}
			}
		}
	}()
	return func() { close(done); <-ended }
}

// call runs the handler, turning a panic into a failed attempt.
func (w *Worker) call(ctx context.Context, j *job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return w.h(ctx, newMessage(w.q, j.c))
}

// settle acks, puts back, retries or dead-letters a finished job's claim.
// A handler that succeeded is acked even if the worker stopped it or it ran
// out of time just as it finished: its work is done.
func (w *Worker) settle(j *job, herr error, timedOut bool, took time.Duration) {
	c := j.c
	if herr == nil {
		w.unacked.Add(1)
		w.acks <- finished{c: c, took: took}
		return
	}
	w.mu.Lock()
	interrupted := j.interrupted
	w.mu.Unlock()
	cause, stderr := herr.Error(), ""
	var f *Failure
	if errors.As(herr, &f) {
		stderr = f.Stderr
	}
	r := Result{ID: c.ID(), Attempt: c.Attempt(), Duration: took, Cause: cause}
	var err error
	switch {
	case interrupted || errors.Is(herr, ErrInterrupted) && w.shuttingDown():
		r.Outcome, r.Cause = Interrupted, ""
		err = c.Release()
	case timedOut:
		r.Cause = fmt.Sprintf("timed out after %s", w.o.JobTimeout)
		err = w.fail(c, &r, stderr)
	case errors.Is(herr, ErrCannotRun):
		// Stop claiming before the message is back in the queue.
		w.setFatal(fmt.Errorf("queue %s: %w", w.q.Name(), herr))
		r.Outcome = PutBack
		err = c.Release()
	case errors.Is(herr, seal.ErrCorrupt):
		// Opened at the claim, then failed midway: it was not tried.
		r.Outcome, r.Cause = DeadLettered, spool.CauseCannotDecrypt
		err = c.DeadLetter(spool.Reason{Cause: r.Cause, Untried: true})
	case errors.Is(herr, ErrPermanent):
		r.Outcome, r.Cause = DeadLettered, cause+" (permanent failure)"
		err = c.DeadLetter(spool.Reason{Cause: r.Cause, Stderr: stderr})
	default:
		err = w.fail(c, &r, stderr)
	}
	if err != nil {
		w.setFatal(err)
		return
	}
	w.settled(r, timedOut)
}

// fail settles a failed attempt: a retry after the backoff, or a dead letter
// after the last attempt.
func (w *Worker) fail(c queue.Claim, r *Result, stderr string) error {
	if c.Attempt() >= w.o.MaxAttempts {
		r.Outcome = DeadLettered
		return c.DeadLetter(spool.Reason{Cause: r.Cause, Stderr: stderr})
	}
	r.Outcome, r.Backoff = Retried, w.backoff(c.Attempt())
	return c.Retry(r.Backoff)
}

// deadLetterPoison dead-letters a claim that came with MaxAttempts failed
// attempts or more, without running the handler: a message that kills its
// worker, or the machine, comes back through recovery each time.
func (w *Worker) deadLetterPoison(c queue.Claim) {
	if err := c.DeadLetter(spool.Reason{Cause: causeTooMany, Untried: true}); err != nil {
		w.setFatal(err)
		return
	}
	w.settled(Result{ID: c.ID(), Attempt: c.Attempt(), Outcome: DeadLettered, Cause: causeTooMany}, false)
}

// backoff is the delay before the retry that follows failed attempt n:
// BackoffMin doubled for each earlier failure, at most BackoffMax.
func (w *Worker) backoff(n int) time.Duration {
	d := w.o.BackoffMin
	for i := 1; i < n && d < w.o.BackoffMax; i++ {
		d *= 2
	}
	return min(d, w.o.BackoffMax)
}
