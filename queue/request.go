package queue

import (
	"context"
	"errors"
	"io"
	"strings"
)

// Requester is a Queue that sends requests, whose senders wait for a
// reply: request/reply over a queue.
type Requester interface {
	Queue
	// Request sends m as a request and returns it, to wait for its reply.
	Request(ctx context.Context, m Message) (Request, error)
}

// Request is a request sent, waiting for its reply.
type Request interface {
	// ID returns the request's message ID.
	ID() ID
	// Wait waits for the reply and returns a reader of its body; an
	// error matching ErrDeadLettered (a *DeadLetterError) when the
	// request was dead-lettered instead; ctx's error when ctx is done.
	Wait(ctx context.Context) (io.ReadCloser, error)
	// Withdraw gives the request up: it is not delivered if it can still
	// be kept from that, and its reply is discarded. Call it when done,
	// even after Wait returned a reply.
	Withdraw() error
}

// Replier is a Claim of a message that may be a request.
type Replier interface {
	Claim
	// IsRequest reports whether the message is a request.
	IsRequest() bool
	// Reply sends body as the request's reply, before the claim is
	// acked: an error matching ErrNoRequester when nobody waits for it
	// any more, and the reply is discarded.
	Reply(ctx context.Context, body io.Reader) error
}

// ErrDeadLettered reports a request that went to the dead-letter queue
// instead of being answered: see [DeadLetterError].
var ErrDeadLettered = errors.New("dead-lettered")

// ErrNoRequester reports a reply that nobody waits for: the requester
// timed out, withdrew or died, so the reply is discarded.
var ErrNoRequester = errors.New("nobody waits for this reply; discarded")

// DroppedSuffix ends the cause told to the requester of a request that
// was deleted as expired, rather than dead-lettered.
const DroppedSuffix = " (dropped: on_expiry = drop)"

// DeadLetterError is what [Request.Wait] returns when the request was
// dead-lettered: it matches ErrDeadLettered and carries the reason.
type DeadLetterError struct {
	ID     ID
	Reason Reason
}

// Error says which request was dead-lettered, and why.
func (e *DeadLetterError) Error() string {
	cause := e.Reason.Cause
	if cause == "" {
		cause = "no reason recorded"
	}
	if c, ok := strings.CutSuffix(cause, DroppedSuffix); ok {
		return "request " + string(e.ID) + " was dropped: " + c + " (on_expiry = drop)"
	}
	return "request " + string(e.ID) + " was dead-lettered: " + cause
}

// Unwrap returns ErrDeadLettered.
func (e *DeadLetterError) Unwrap() error { return ErrDeadLettered }
