package jetstream

import (
	"errors"
	"fmt"
	"pq/queue"
)

// ErrTooBig reports a message larger than the server takes in one piece.
// pq never splits a message.
var ErrTooBig = errors.New("message too big")

// ErrOldServer reports a NATS server older than [MinServerVersion].
var ErrOldServer = errors.New("NATS server too old")

// ErrURLCredentials reports a URL that holds a user, a password or a
// token: credentials come from a creds file only.
var ErrURLCredentials = errors.New("credentials in a URL")

// ErrNoJetStream reports a server or account without JetStream.
var ErrNoJetStream = errors.New("JetStream not enabled")

// ErrNoMessage reports a sequence number at which a stream holds no
// message.
var ErrNoMessage = queue.ErrNoMessage

// hinted is an error that comes with advice for the user.
type hinted struct {
	err  error
	hint string
}

func (e *hinted) Error() string { return e.err.Error() }
func (e *hinted) Unwrap() error { return e.err }

// withHint returns err with hint.
func withHint(err error, format string, args ...any) error {
	return &hinted{err: err, hint: fmt.Sprintf(format, args...)}
}

// Hint returns the advice that comes with err, an error of this package,
// for a line of its own after the error ("pq: hint: ..."): what to do
// about an old server, a message too big, a queue never initialized...
// It returns "" when there is none.
func Hint(err error) string {
	var h *hinted
	if errors.As(err, &h) {
		return h.hint
	}
	return ""
}
