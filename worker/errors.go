package worker

import "errors"

// ErrPermanent marks a handler's error as a permanent failure: the message
// can never succeed, so it goes straight to the dead-letter queue, whatever
// its attempt count. See [Permanent].
var ErrPermanent = errors.New("permanent failure")

// ErrCannotRun marks a handler's error as a broken handler rather than a bad
// message, such as a command that is not found: the message goes back
// untouched, with no attempt counted, and the worker stops with the error.
var ErrCannotRun = errors.New("the handler cannot run")

// ErrInterrupted marks a handler's error as the effect of a signal meant for
// the whole worker, such as a command killed by SIGTERM that reached it
// together with the worker (systemd's KillMode=control-group). When the
// worker is shutting down, or starts to within 250 ms, the message goes
// back untouched with no attempt counted; otherwise it is a failed attempt
// like any other.
var ErrInterrupted = errors.New("interrupted")

// ErrBadOptions reports Options that a worker cannot run with.
var ErrBadOptions = errors.New("bad worker options")

// Failure is an error that tells more about a failed attempt than its text:
// the output to keep with a dead letter, and what kind of failure it is.
// [Command] returns one for every run that did not exit 0.
type Failure struct {
	// Cause is the failure in a few words, such as "exit status 3" or
	// "killed by signal TERM". It is logged and recorded with a dead
	// letter.
	Cause string
	// Stderr holds the last lines the handler wrote as diagnostics,
	// recorded with a dead letter.
	Stderr string
	// Kind is nil for an ordinary failure, or one of ErrPermanent,
	// ErrCannotRun and ErrInterrupted.
	Kind error
}

// Error returns the cause.
func (f *Failure) Error() string { return f.Cause }

// Unwrap returns the kind, so that errors.Is(err, ErrPermanent) and the
// like see it.
func (f *Failure) Unwrap() error { return f.Kind }

// Permanent returns err marked as a permanent failure: its text is err's,
// and errors.Is(Permanent(err), ErrPermanent) holds. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err}
}

type permanentError struct{ err error }

func (e *permanentError) Error() string   { return e.err.Error() }
func (e *permanentError) Unwrap() []error { return []error{e.err, ErrPermanent} }
