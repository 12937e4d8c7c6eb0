// Package cmd is pq's command line: it parses arguments, reads the
// configuration with package config, and calls packages spool and worker,
// which do the work. Each command has a file of its own. Errors come back to Main, which prints them as one line on stderr
// and maps them to the exit status.
package cmd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"pq/spool"
)

// Exit statuses, the same for every command.
const (
	// ExitOK is success.
	ExitOK = 0
	// ExitNothing means there was nothing to receive: the queue was
	// empty or paused, or a wait timed out (a request's too, which withdraws it);
	// and a reply that came second.
	ExitNothing = 1
	// ExitError is every error: bad usage, a bad queue name, an I/O
	// failure; and a message that pq rm or pq purge skipped, held by a
	// live consumer, or did not find.
	ExitError = 2
	// ExitFull means a send was refused because the queue had no room
	// (spool.ErrFull); what fitted was sent and its ids printed.
	ExitFull = 3
	// ExitDeadLettered ends a worker run with --fail-on-dead-letter that
	// dead-lettered a message, and otherwise went well.
	ExitDeadLettered = 4
)

// errNothing ends a command that found nothing to do with ExitNothing.
var errNothing = errors.New("nothing to receive")

// usageError is an error in the command line itself.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// hintError carries advice printed on a line of its own after the error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

// withHint attaches a hint to err.
func withHint(err error, format string, args ...any) error {
	return &hintError{err: err, hint: fmt.Sprintf(format, args...)}
}

// statusError is an error that ends a command with a status of its own,
// after its line.
type statusError struct {
	err  error
	code int
}

func (e *statusError) Error() string { return e.err.Error() }
func (e *statusError) Unwrap() error { return e.err }

// withStatus makes err end the command with code.
func withStatus(code int, err error) error { return &statusError{err: err, code: code} }

// problems are errors about separate things, such as the messages that
// pq rm could not delete: each gets a line of its own, and together they
// end the command with ExitError.
type problems []error

func (p problems) Error() string   { return errors.Join(p...).Error() }
func (p problems) Unwrap() []error { return p }

// report prints err for a user and returns the exit status it maps to.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, errNothing) {
		return ExitNothing
	}
	var ps problems
	if errors.As(err, &ps) {
		for _, p := range ps {
			fmt.Fprintf(stderr, "pq: error: %s\n", oneLine(p.Error()))
		}
		return ExitError
	}
	fmt.Fprintf(stderr, "pq: error: %s\n", oneLine(err.Error()))
	var h *hintError
	if errors.As(err, &h) {
		fmt.Fprintf(stderr, "pq: hint: %s\n", oneLine(h.hint))
	} else if errors.Is(err, fs.ErrPermission) {
		fmt.Fprintln(stderr, "pq: hint: the queue belongs to another user, or is shared with a group you are not in, or in a mode that does not let its members do this (see 'pq init --group')")
	}
	var s *statusError
	if errors.As(err, &s) {
		return s.code
	}
	if errors.Is(err, spool.ErrFull) {
		return ExitFull
	}
	return ExitError
}

// oneLine folds a message onto one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}
