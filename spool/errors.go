package spool

import (
	"errors"
	"fmt"

	"pq/queue"
)

// ErrEmpty reports that a queue holds no message ready to be claimed.
var ErrEmpty = queue.ErrEmpty

// ErrBadName reports a queue name that pq refuses: see [ValidName].
var ErrBadName = queue.ErrBadName

// ErrNoQueue reports that a queue directory does not exist.
var ErrNoQueue = queue.ErrNoQueue

// ErrNotQueue reports a directory that exists but lacks a queue's
// subdirectories.
var ErrNotQueue = errors.New("not a queue directory")

// errGone reports that a message was taken by another process between the
// moment it was listed and the moment it was claimed.
var errGone = errors.New("message taken by another process")

// ErrNoMessage reports an ID that names no message where one was looked for.
var ErrNoMessage = queue.ErrNoMessage

// ErrFormat reports a queue whose on-disk format this pq does not know,
// such as one written by a newer pq.
var ErrFormat = errors.New("unknown queue format")

// ErrBadHeader reports a header that pq refuses: see [Header].
var ErrBadHeader = queue.ErrBadHeader

// ErrBadSetting reports a queue setting that pq refuses: see [Settings].
var ErrBadSetting = errors.New("bad queue setting")

// ErrNetworkFS reports a queue that a receiver refuses because its
// directory is on a network file system: see [Queue.CheckNetworkFS].
var ErrNetworkFS = errors.New("network file system")

// ErrDeadLettered reports a request that went to the dead-letter queue
// instead of being answered: see [DeadLetterError].
var ErrDeadLettered = queue.ErrDeadLettered

// ErrNoRequester reports a reply that nobody waits for: the request's
// reply place is gone (its requester timed out, withdrew or died), so the
// reply is discarded.
var ErrNoRequester = queue.ErrNoRequester

// ErrReplied reports a reply to a request that already has one: the first
// reply stands.
var ErrReplied = errors.New("the request has been replied to already")

// DeadLetterError is what [Request.Wait] returns when the request was
// dead-lettered: it matches ErrDeadLettered and carries the reason.
type DeadLetterError = queue.DeadLetterError

// droppedSuffix ends the cause told to the requester of a request that
// was deleted as expired, on a queue whose on_expiry is drop, rather than
// dead-lettered.
const droppedSuffix = queue.DroppedSuffix

// ErrSameQueue reports a move of a message to the queue it is in.
var ErrSameQueue = errors.New("cannot move a message to its own queue")

// ErrPaused reports a queue that is paused (see [Queue.Pause]): nothing
// is claimed from it until it is resumed. [Receiver.Claim] returns it
// wrapped with ErrEmpty.
var ErrPaused = errors.New("queue paused")

// ErrHeld reports a message, or a queue, that a live consumer holds a
// claim on: pq deletes no such message (see [HeldError]).
var ErrHeld = queue.ErrHeld

// HeldError is what [Queue.Delete] returns when live consumers hold
// claims in the queue: it matches ErrHeld and names the messages.
type HeldError struct {
	Queue string
	IDs   []ID
}

// Error says how many claims are held, and the first one.
func (e *HeldError) Error() string {
	if len(e.IDs) == 1 {
		return "queue " + e.Queue + ": message " + string(e.IDs[0]) + " is " + ErrHeld.Error()
	}
	return fmt.Sprintf("queue %s: %d messages are %s, the first %s", e.Queue, len(e.IDs), ErrHeld, e.IDs[0])
}

// Unwrap returns ErrHeld.
func (e *HeldError) Unwrap() error { return ErrHeld }
