package jetstream

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"

	"pq/queue"
)

// Browse lists the queue's messages as queue.Entry values: the ready
// ones, then those in flight, each in send order (two walks of the
// stream, one direct get per message), then the dead letters. A NATS
// queue has no delayed state (a message backing off is in flight), no
// priorities, groups, nor senders that the kernel vouches for.
func (q *Queue) Browse(ctx context.Context, states ...queue.State) iter.Seq2[queue.Entry, error] {
	wants := func(s queue.State) bool { return len(states) == 0 || slices.Contains(states, s) }
	return func(yield func(queue.Entry, error) bool) {
		for _, st := range []State{StateReady, StateInflight} {
			if !wants(st) {
				continue
			}
			for m, err := range q.Messages(ctx) {
				if err != nil {
					yield(queue.Entry{}, err)
					return
				}
				if m.State == st && !yield(queue.Entry{ID: m.ID, State: m.State, Size: int64(len(m.Body)), Sent: m.Sent,
					Priority: queue.DefaultPriority, Headers: len(m.Headers)}, nil) {
					return
				}
			}
		}
		if !wants(StateDead) {
			return
		}
		for d, err := range q.Dead(ctx) {
			if err != nil {
				yield(queue.Entry{}, err)
				return
			}
			if !yield(queue.Entry{ID: d.ID, State: StateDead, Size: int64(len(d.Body)), Sent: d.Stored,
				Attempts: d.Reason.Attempts, Priority: queue.DefaultPriority, Headers: len(d.Headers), Cause: d.Reason.Cause}, nil) {
				return
			}
		}
	}
}

var _ queue.Browser = (*Queue)(nil)

// PeekMessage reads the message called id, in the queue's stream or its
// dead letters, or the oldest ready one when id is "", without taking it.
func (q *Queue) PeekMessage(ctx context.Context, id queue.ID) (queue.Peeked, error) {
	var m Entry
	var err error
	if id != "" {
		m, err = q.Peek(ctx, id)
	} else {
		m, err = q.oldestReady(ctx)
	}
	if err != nil {
		return queue.Peeked{}, err
	}
	return queue.Peeked{
		Entry: queue.Entry{ID: m.ID, State: m.State, Size: int64(len(m.Body)), Sent: m.Sent,
			Priority: queue.DefaultPriority, Headers: len(m.Headers)},
		Headers: m.Headers, Size: int64(len(m.Body)), Body: io.NopCloser(bytes.NewReader(m.Body)),
	}, nil
}

// oldestReady returns the oldest ready message: an error matching
// queue.ErrEmpty when none is ready.
func (q *Queue) oldestReady(ctx context.Context) (Entry, error) {
	for m, err := range q.Messages(ctx) {
		if err != nil {
			return m, err
		}
		if m.State == StateReady {
			return m, nil
		}
	}
	return Entry{}, fmt.Errorf("queue %s: %w", q.name, queue.ErrEmpty)
}

var _ queue.Peeker = (*Queue)(nil)
