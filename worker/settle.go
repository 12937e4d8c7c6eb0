package worker

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	err := w.call(hctx, j)
	timedOut := err != nil && errors.Is(hctx.Err(), context.DeadlineExceeded)
	w.settle(j, err, timedOut)
}

// call runs the handler, turning a panic into a failed attempt.
func (w *Worker) call(ctx context.Context, j *job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return w.h(ctx, &Message{q: w.q, c: j.c})
}

// settle acks, puts back, retries or dead-letters a finished job's claim.
// A handler that succeeded is acked even if the worker stopped it or it ran
// out of time just as it finished: its work is done.
func (w *Worker) settle(j *job, herr error, timedOut bool) {
	c := j.c
	if herr == nil {
		w.unacked.Add(1)
		w.acks <- c
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
	var err error
	switch {
	case interrupted:
		err = c.Release()
	case timedOut:
		cause = fmt.Sprintf("timed out after %s", w.o.JobTimeout)
		err = w.fail(c, cause, stderr)
	case errors.Is(herr, ErrInterrupted) && w.shuttingDown():
		err = c.Release()
	case errors.Is(herr, ErrCannotRun):
		// Stop claiming before the message is back in the queue.
		w.setFatal(fmt.Errorf("queue %s: %w", w.q.Name(), herr))
		err = c.Release()
	case errors.Is(herr, ErrPermanent):
		err = c.DeadLetter(spool.Reason{Cause: cause + " (permanent failure)", Stderr: stderr})
		w.logf(c, cause, "%s: %s (permanent failure): dead-lettered", c.ID(), cause)
	default:
		err = w.fail(c, cause, stderr)
	}
	if err != nil {
		w.setFatal(err)
	}
}

// fail settles a failed attempt: a retry after the backoff, or a dead letter
// after the last attempt.
func (w *Worker) fail(c *spool.Claim, cause, stderr string) error {
	n, most := c.Attempt(), w.o.MaxAttempts
	if n >= most {
		err := c.DeadLetter(spool.Reason{Cause: cause, Stderr: stderr})
		w.logf(c, cause, "%s: %s on attempt %d of %d: dead-lettered", c.ID(), cause, n, most)
		return err
	}
	delay := w.backoff(n)
	err := c.Retry(delay)
	w.logf(c, cause, "%s: %s on attempt %d of %d: retry in %s", c.ID(), cause, n, most, delay)
	return err
}

// deadLetterPoison dead-letters a claim that came with MaxAttempts failed
// attempts or more, without running the handler: a message that kills its
// worker, or the machine, comes back through recovery each time.
func (w *Worker) deadLetterPoison(c *spool.Claim) {
	err := c.DeadLetter(spool.Reason{Cause: causeTooMany, Untried: true})
	w.logf(c, causeTooMany, "%s: %s (this would be attempt %d of %d): dead-lettered",
		c.ID(), causeTooMany, c.Attempt(), w.o.MaxAttempts)
	if err != nil {
		w.setFatal(err)
	}
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

// logf logs what happened to claim c.
func (w *Worker) logf(c *spool.Claim, cause, format string, args ...any) {
	w.log.Warn(fmt.Sprintf(format, args...), "id", string(c.ID()), "attempt", c.Attempt(), "cause", cause)
}
