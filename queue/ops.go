package queue

import (
	"context"
	"errors"
)

// What operators do to queues, as optional interfaces: pq rm, pq retry,
// pq pause and pq resume, and the listing of a backend's queues.

// ErrNoMessage reports an ID that names no message where one was looked
// for.
var ErrNoMessage = errors.New("no such message")

// ErrHeld reports a message, or a queue, that a consumer holds a claim
// on, which pq does not delete.
var ErrHeld = errors.New("held by a live consumer")

// Removal is what a removal of messages did.
type Removal struct {
	// Removed counts the messages deleted.
	Removed int
	// Held lists the messages left alone because a consumer holds them
	// (see [ErrHeld]), in the order met.
	Held []ID
	// Missing lists the IDs given that name no message of the queue, in
	// the order given.
	Missing []ID
}

// Remover is a Queue whose messages can be deleted by ID.
type Remover interface {
	Queue
	// Remove deletes the messages of the given IDs, in any state but
	// held by a consumer: see [Removal].
	Remove(ctx context.Context, ids ...ID) (Removal, error)
}

// Purger is a Queue whose messages can be deleted by state.
type Purger interface {
	Queue
	// Purge deletes the messages in the states given, in every state
	// when none is, but those held by a consumer: see [Removal].
	// progress, when not nil, is called with the counts so far as it
	// goes.
	Purge(ctx context.Context, states []State, progress func(removed, held int)) (Removal, error)
}

// Redriver is a Queue whose dead letters can go back into it.
type Redriver interface {
	Queue
	// Redrive puts the dead letters of the given IDs, or all of them
	// when none is given, back into the queue, and returns the IDs they
	// have there. An ID that is not a dead letter of the queue is an
	// error matching ErrNoMessage, and then nothing is moved.
	Redrive(ctx context.Context, ids ...ID) ([]ID, error)
}

// Pauser is a Queue that can be paused: no receiver claims from it until
// it is resumed. Sends still succeed.
type Pauser interface {
	Queue
	// Pause pauses the queue; pausing a paused queue changes nothing.
	Pause(ctx context.Context) error
	// Resume ends a pause; resuming a queue that is not paused changes
	// nothing.
	Resume(ctx context.Context) error
}

// Deleter is a Queue that can be deleted with all its messages.
type Deleter interface {
	Queue
	// Held lists the messages that consumers hold, which keep Delete
	// from deleting the queue unless it is forced.
	Held(ctx context.Context) ([]ID, error)
	// Delete deletes the queue and every message, dead letters
	// included. Without force it refuses, with an error matching
	// ErrHeld, while consumers hold messages.
	Delete(ctx context.Context, force bool) error
}

// Recoverer is a Queue that can be tidied after crashes by hand, as its
// receivers do by themselves as they go: pq recover.
type Recoverer interface {
	Queue
	// Recover does what there is to do and reports each thing done as
	// a verb ("recovered", "removed", "dead-lettered"...) and what.
	Recover(ctx context.Context, report func(verb, what string)) error
}

// Lister is a Backend that lists its queues.
type Lister interface {
	Backend
	// Queues returns the names of the backend's queues, sorted.
	Queues(ctx context.Context) ([]string, error)
}
