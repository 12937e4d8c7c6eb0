package queue

import (
	"context"
	"io"
	"iter"
	"time"
)

// Entry is a message as a listing sees it, without its body.
type Entry struct {
	ID    ID
	State State
	// Size is the body's size in bytes.
	Size int64
	// Sent is when the message was sent.
	Sent time.Time
	// Attempts counts its deliveries that did not end in an ack.
	Attempts int
	// Due and Expires are its due time and its expiry; zero for none.
	Due, Expires time.Time
	// Priority is 0 to 9; Group its group, "" for none.
	Priority int
	Group    string
	// Headers counts its headers.
	Headers int
	// Sender names who sent it, "" where the backend cannot tell, and
	// SenderUID is that user's id, which the kernel vouches for.
	Sender    string
	SenderUID uint32
	// Cause is why a dead letter was dead-lettered; "" for another.
	Cause string
}

// Browser is a Queue whose messages can be listed without taking them.
type Browser interface {
	Queue
	// Browse lists the messages in the states given, in every state when
	// none is: the ready ones in the order receivers take them, then the
	// delayed, those in flight, and the dead letters. It changes
	// nothing, and sees messages come and go as it walks.
	Browse(ctx context.Context, states ...State) iter.Seq2[Entry, error]
}

// Peeked is a message looked at without taking it.
type Peeked struct {
	// Entry describes it.
	Entry Entry
	// Headers are its headers, in order.
	Headers []Header
	// Request says that it is a request, whose sender waits for a reply.
	Request bool
	// Size is the size of Body, which may differ from Entry.Size where
	// the backend stores bodies encrypted.
	Size int64
	// Body reads its body; close it when done.
	Body io.ReadCloser
}

// Peeker is a Queue whose messages can be read without taking them.
type Peeker interface {
	Queue
	// PeekMessage returns the message called id, in any state, or the
	// oldest ready one when id is "": an error matching ErrEmpty when
	// none is ready, ErrNoMessage when id names none.
	PeekMessage(ctx context.Context, id ID) (Peeked, error)
}
