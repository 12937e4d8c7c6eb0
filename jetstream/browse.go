package jetstream

import (
	"context"
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
