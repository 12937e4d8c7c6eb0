package queue

import (
	"context"
	"time"
)

// Summary is what `pq stat` shows of a queue.
type Summary struct {
	Ready    int
	Delayed  int
	Inflight int
	Dead     int
	// Bytes is the size of the messages, in every state but dead.
	Bytes int64
	// OldestReady is the send time of the oldest ready message; zero
	// when none is ready.
	OldestReady time.Time
	// SentAfter counts the messages sent after the time given to
	// Summarize, and not yet acked.
	SentAfter int
	// Paused says whether the queue is paused (see [Pauser]).
	Paused bool
	// Replicas is how many servers keep the queue; 0 where the question
	// does not arise, as for a spool on one disk.
	Replicas int
}

// Total returns the number of messages in every state.
func (s Summary) Total() int { return s.Ready + s.Delayed + s.Inflight + s.Dead }

// Summarizer is a Queue that tells more of itself than Stat: its bytes,
// the age of its oldest message, whether it is paused.
type Summarizer interface {
	Queue
	// Summarize summarizes the queue; since, when not zero, is the
	// time from which SentAfter counts sends.
	Summarize(ctx context.Context, since time.Time) (Summary, error)
}
