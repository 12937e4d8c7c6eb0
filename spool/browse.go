package spool

import (
	"context"
	"fmt"
	"io"
	"iter"
	"os"
	"time"

	"pq/queue"
)

// Browse lists the queue's messages (see [Queue.Messages]) as
// queue.Entry values, each with its headers counted and, for a dead
// letter, its cause.
func (b *backendQueue) Browse(_ context.Context, states ...State) iter.Seq2[queue.Entry, error] {
	return func(yield func(queue.Entry, error) bool) {
		for m, err := range b.q.Messages(states...) {
			if err != nil {
				yield(queue.Entry{}, err)
				return
			}
			if !yield(b.q.entry(m)) {
				return
			}
		}
	}
}

// entry is the queue.Entry of m.
func (q *Queue) entry(m Entry) (queue.Entry, error) {
	e := queue.Entry{ID: m.Name.ID, State: m.State, Size: m.Size, Sent: m.Sent(), Attempts: m.Name.Attempts,
		Priority: m.Name.Priority, Group: m.Name.Group, Sender: SenderName(m.UID), SenderUID: m.UID}
	if m.Name.Due != 0 {
		e.Due = time.Unix(0, m.Name.Due)
	}
	if m.Name.Expires != 0 {
		e.Expires = time.Unix(0, m.Name.Expires)
	}
	hs, err := q.Headers(m)
	if err != nil {
		return e, err
	}
	e.Headers = len(hs)
	if m.State == StateDead {
		r, err := q.Reason(m)
		if err != nil {
			return e, err
		}
		e.Cause = r.Cause
	}
	return e, nil
}

var _ queue.Browser = (*backendQueue)(nil)

// PeekMessage reads the message called id, or the next ready one, without
// taking it (see [Queue.Peek]); a body of an encrypted queue is
// decrypted, which needs the queue's identity.
func (b *backendQueue) PeekMessage(_ context.Context, id ID) (queue.Peeked, error) {
	q := b.q
	if err := q.CheckIdentity(); err != nil {
		return queue.Peeked{}, err
	}
	rs, err := q.Recipients()
	if err != nil {
		return queue.Peeked{}, err
	}
	m, f, err := q.Peek(id)
	if err != nil {
		return queue.Peeked{}, err
	}
	p, err := q.peeked(m, f, rs != nil)
	if err != nil {
		f.Close()
		return queue.Peeked{}, fmt.Errorf("peek %s: %w", m.Name.ID, err)
	}
	return p, nil
}

// peeked is the queue.Peeked of m, whose file f is open.
func (q *Queue) peeked(m Entry, f *os.File, sealed bool) (queue.Peeked, error) {
	fi, err := f.Stat()
	if err != nil {
		return queue.Peeked{}, err
	}
	body, size, err := q.OpenPlain(f, fi.Size(), sealed)
	if err != nil {
		return queue.Peeked{}, err
	}
	e, err := q.entry(m)
	if err != nil {
		return queue.Peeked{}, err
	}
	hs, err := q.Headers(m)
	if err != nil {
		return queue.Peeked{}, err
	}
	return queue.Peeked{Entry: e, Headers: hs, Request: m.Name.Request, Size: size,
		Body: readCloser{Reader: body, Closer: f}}, nil
}

// readCloser reads from a Reader and closes a Closer.
type readCloser struct {
	io.Reader
	io.Closer
}

var _ queue.Peeker = (*backendQueue)(nil)
