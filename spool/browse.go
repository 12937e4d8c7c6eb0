package spool

import (
	"context"
	"iter"
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
