package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"pq/spool"
)

// Outcome is what became of a message that a worker claimed.
type Outcome string

// The outcomes, as logged under the key "outcome".
const (
	// Acked: the handler succeeded and the ack is committed.
	Acked Outcome = "acked"
	// Retried: the attempt failed; the message comes back after a backoff.
	Retried Outcome = "retry"
	// DeadLettered: the message went to the dead-letter queue.
	DeadLettered Outcome = "dead-lettered"
	// Interrupted: the worker stopped the handler (a shutdown, or
	// Interrupt) and put the message back untouched.
	Interrupted Outcome = "interrupted"
	// PutBack: the handler cannot run ([ErrCannotRun]); the message went
	// back untouched and the worker stops.
	PutBack Outcome = "put back"
)

// Result tells what became of one message, for Options.Settled.
type Result struct {
	// ID is the message's ID.
	ID spool.ID
	// Attempt is the delivery of the message this was: 1 the first time.
	Attempt int
	// Duration is how long the handler ran; 0 when it did not run.
	Duration time.Duration
	// Outcome is what became of the message.
	Outcome Outcome
	// Cause is why the attempt failed; "" when it was acked.
	Cause string
	// Backoff is the wait before the retry, for Retried.
	Backoff time.Duration
}

// level is the level a result is logged at: an ack is routine, a retry a
// warning, a dead letter an error.
func (r Result) level() slog.Level {
	switch r.Outcome {
	case Retried:
		return slog.LevelWarn
	case DeadLettered, PutBack:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// sentence says what happened in words, after the message's ID.
func (r Result) sentence(maxAttempts int, timedOut bool) string {
	took := ""
	if r.Duration > 0 && !timedOut {
		took = " after " + round(r.Duration).String()
	}
	switch r.Outcome {
	case Acked:
		return fmt.Sprintf("acked on attempt %d%s", r.Attempt, took)
	case Retried:
		return fmt.Sprintf("%s on attempt %d of %d%s: retry in %s", r.Cause, r.Attempt, maxAttempts, took, r.Backoff)
	case DeadLettered:
		if r.Duration == 0 { // never ran
			return fmt.Sprintf("%s (this would be attempt %d of %d): dead-lettered", r.Cause, r.Attempt, maxAttempts)
		}
		if strings.HasSuffix(r.Cause, "(permanent failure)") {
			return fmt.Sprintf("%s on attempt %d%s: dead-lettered", r.Cause, r.Attempt, took)
		}
		return fmt.Sprintf("%s on attempt %d of %d%s: dead-lettered", r.Cause, r.Attempt, maxAttempts, took)
	case Interrupted:
		return fmt.Sprintf("interrupted on attempt %d%s: put back", r.Attempt, took)
	}
	return fmt.Sprintf("%s on attempt %d%s: put back", r.Cause, r.Attempt, took)
}

// round rounds a duration for a person to read: to the millisecond, or the
// microsecond below one millisecond.
func round(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	if d < time.Minute {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// settled logs r and hands it to Options.Settled.
func (w *Worker) settled(r Result, timedOut bool) {
	attrs := []slog.Attr{
		slog.String("id", string(r.ID)),
		slog.Int("attempt", r.Attempt),
		slog.Float64("duration", r.Duration.Seconds()),
		slog.String("outcome", string(r.Outcome)),
	}
	if r.Cause != "" {
		attrs = append(attrs, slog.String("cause", r.Cause))
	}
	if r.Outcome == Retried {
		attrs = append(attrs, slog.Float64("backoff", r.Backoff.Seconds()))
	}
	w.log.LogAttrs(context.Background(), r.level(), r.sentence(w.o.MaxAttempts, timedOut), attrs...)
	if w.o.Settled != nil {
		w.o.Settled(r)
	}
}
