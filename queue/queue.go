// Package queue says what a pq backend must do, so that the worker loop and
// every command run the same over a spool directory (package spool) and
// over NATS JetStream (package jetstream).
//
// The interface is small on purpose: send, claim, extend, ack, retry,
// release, dead-letter and count. What only some backends can do is an
// optional interface that a caller looks for with a type assertion, as
// io/fs does for file systems: a [BatchAcker] acks many claims at once, for
// example. A backend that cannot do what a caller asks returns an error
// matching [ErrUnsupported] that names the feature and the backend.
//
// Package queuetest holds the contract suite that every backend runs.
package queue

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// ID names a message within its queue. Its form is the backend's: a spool
// ID is a send time, a process and a host; a JetStream ID is the stream's
// sequence number.
type ID string

// Header is a key and a value that travel with a message outside its body,
// as `pq send -H KEY=VALUE` gives it. Keys that begin with "pq-" (in any
// case) are pq's own, and no message sent by a user may carry one.
type Header struct {
	// Key matches [A-Za-z0-9][A-Za-z0-9_-]{0,63}.
	Key string
	// Value is UTF-8 text without NUL or newline.
	Value string
}

// DefaultPriority is the priority of a message sent without one, on a
// backend without priorities too: the middle of 0 to 9.
const DefaultPriority = 4

// Message is what a sender gives a queue.
type Message struct {
	// Body is read to its end.
	Body io.Reader
	// Headers travel with the body, in order.
	Headers []Header
	// DedupID, when not empty, makes the send idempotent: a second send
	// with the same DedupID within the queue's dedup window makes no
	// message and returns the first one's ID.
	DedupID string
	// Due, when not zero, is the time before which the message is not
	// delivered.
	Due time.Time
	// Expires, when not zero, is the time from which the message is never
	// delivered: it is dead-lettered as expired.
	Expires time.Time
	// Priority, when not nil, is the message's priority, 0 to 9.
	Priority *int
	// Group, when not empty, puts the message in a group whose messages
	// are handed out one at a time, in send order.
	Group string
}

// Reason says why a message was dead-lettered.
type Reason struct {
	// Time is when the message was dead-lettered.
	Time time.Time
	// Attempts is how many deliveries the message had.
	Attempts int
	// Cause is what ended the last one, such as "exit status 3",
	// "killed by signal TERM" or "timed out after 30s".
	Cause string
	// Stderr holds the last lines its handler wrote to stderr.
	Stderr string
	// Untried says the message was dead-lettered without being handled,
	// as a poison message is: the claim that ends here counts no attempt.
	Untried bool
}

// Stats counts a queue's messages by state.
type Stats struct {
	// Ready messages can be claimed now.
	Ready int
	// Delayed messages are backing off after a failure, or otherwise
	// due later.
	Delayed int
	// Claimed messages are held by a consumer, live or dead.
	Claimed int
	// Dead messages are in the dead-letter queue.
	Dead int
}

// Backend opens the queues of one root: a spool directory or a JetStream
// account.
type Backend interface {
	// Open returns the queue called name. It may not check that the
	// queue exists: the first send creates a queue where the backend
	// allows it, and a receiver of a queue that does not exist finds it
	// empty or gets an error matching ErrNoQueue.
	Open(ctx context.Context, name string) (Queue, error)
	// Close releases what the backend holds, such as a connection.
	Close() error
}

// Queue is one queue. It is safe for concurrent use.
type Queue interface {
	// Name returns the queue's name.
	Name() string
	// Send makes one message durable and returns its ID.
	Send(ctx context.Context, m Message) (ID, error)
	// NewReceiver returns a receiver of the queue's messages. Close it
	// when done.
	NewReceiver(ctx context.Context) (Receiver, error)
	// Stat counts the queue's messages.
	Stat(ctx context.Context) (Stats, error)
	// DeadLetters lists the queue's dead letters, oldest first.
	DeadLetters(ctx context.Context) ([]DeadLetter, error)
}

// DeadLetter is a message in a queue's dead-letter queue.
type DeadLetter struct {
	// ID is the message's ID in its queue.
	ID ID
	// Size is the body's size in bytes.
	Size int64
	// Headers are the message's headers, as sent.
	Headers []Header
	// Reason says why it was dead-lettered; zero when none was recorded.
	Reason Reason
	// Open returns a reader of the body.
	Open func() (io.ReadCloser, error)
}

// Receiver claims messages, one at a time, each for one consumer alone. A
// Receiver is used by one goroutine at a time; its claims may be settled
// from any goroutine.
type Receiver interface {
	// Claim claims the next ready message. Without wait it returns an
	// error matching ErrEmpty at once when none is ready; with wait it
	// blocks until one is, or until ctx is done, and then returns ctx's
	// error.
	Claim(ctx context.Context, wait bool) (Claim, error)
	// Close ends the receiver. Claims it made stay valid.
	Close() error
}

// BatchClaimer is a Receiver that claims up to n ready messages at the
// cost of one, for a worker with n handlers free: a backend whose every
// claim is a round trip to a server.
type BatchClaimer interface {
	Receiver
	// ClaimBatch claims up to n ready messages without waiting: at
	// least one, or an error matching ErrEmpty when none is ready.
	ClaimBatch(ctx context.Context, n int) ([]Claim, error)
}

// Waiter is a Receiver that can wait for a message without claiming it,
// as a spool's can: whoever uses it then waits between claims itself, and
// may do other work while it waits.
type Waiter interface {
	Receiver
	// Wait blocks until a message may be ready, or ctx is done; then
	// claim again.
	Wait(ctx context.Context) error
}

// Claim is a message claimed by one consumer. Exactly one of Ack, Retry,
// Release and DeadLetter ends it; until then no other consumer gets the
// message, as long as the claimer lives (and, where the backend needs it,
// calls Extend).
type Claim interface {
	// ID returns the message's ID.
	ID() ID
	// Attempt returns which delivery of the message this is: 1 the first
	// time.
	Attempt() int
	// Headers returns the message's headers, in the order they were sent.
	Headers() ([]Header, error)
	// Size returns the body's size in bytes.
	Size() int64
	// Body returns a reader of the message's body from its first byte.
	Body() io.Reader
	// Extend tells the backend that the claimer still lives, for a
	// backend whose claims lapse unless renewed; see [Extender].
	Extend(ctx context.Context) error
	// Ack ends the claim: the message was handled and is removed.
	Ack() error
	// Retry ends the claim of a message whose handling failed: it comes
	// back, with one more attempt counted, once delay has passed.
	Retry(delay time.Duration) error
	// Release ends the claim without counting an attempt where the
	// backend can: the message comes back at once, as it was.
	Release() error
	// DeadLetter ends the claim by moving the message to the queue's
	// dead-letter queue with reason.
	DeadLetter(reason Reason) error
}

// Extender is a Claim that says how often Extend must be called to keep it:
// a claim lapses, and its message goes to another consumer, when Extend is
// not called for that long. A Claim that is not an Extender lives as long
// as its claimer's process.
type Extender interface {
	Claim
	// ExtendEvery returns the longest time between two calls of Extend.
	ExtendEvery() time.Duration
}

// BatchAcker is a Queue that acks many claims together, at the cost of
// one. Every claim given to it came from one of the queue's receivers.
type BatchAcker interface {
	Queue
	// AckAll acks claims; it returns the first error, having tried every
	// claim.
	AckAll(claims []Claim) error
}

// Creator is a Queue that can be created empty, before anything is sent
// to it, as a receiver that waits on a queue that does not exist yet
// wants: a first send creates a queue all the same.
type Creator interface {
	Queue
	// Create creates the queue with default settings if it does not
	// exist, and changes nothing of a queue that exists.
	Create(ctx context.Context) error
}

// DedupSender is a Queue that tells, of a send with a DedupID, whether it
// was a duplicate, which made no message.
type DedupSender interface {
	Queue
	// SendDedup is Send, and reports whether m was a duplicate: then
	// the ID is the first message's.
	SendDedup(ctx context.Context, m Message) (ID, bool, error)
}

// BatchSender is a Queue that sends many messages at the cost of fewer
// fsyncs or round trips than one Send each.
type BatchSender interface {
	Queue
	// SendBatch sends msgs, in order, and returns the IDs of those that
	// are durable, in order: all of them when the error is nil. A
	// message whose ID is not returned may have been sent all the same.
	SendBatch(ctx context.Context, msgs []Message) ([]ID, error)
}

// AckAll acks claims of q: together where q is a BatchAcker, else one by
// one. It returns the first error, having tried every claim.
func AckAll(q Queue, claims []Claim) error {
	if b, ok := q.(BatchAcker); ok {
		return b.AckAll(claims)
	}
	var first error
	for _, c := range claims {
		if err := c.Ack(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// ErrEmpty reports that no message is ready.
var ErrEmpty = errors.New("no message ready")

// ErrNoQueue reports a queue that does not exist.
var ErrNoQueue = errors.New("no such queue")

// ErrUnsupported reports a feature that a backend cannot have: see
// [Unsupported].
var ErrUnsupported = errors.New("not supported")

// ErrFull reports a send refused because the queue, or the disk or server
// under it, has no room.
var ErrFull = errors.New("queue full")

// Unsupported returns an error matching ErrUnsupported that names the
// feature, such as "--atomic", and the backend, such as "nats".
func Unsupported(feature, backend string) error {
	return fmt.Errorf("%s is %w on %s", feature, ErrUnsupported, backend)
}
