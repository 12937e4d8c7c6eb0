package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// Summary is what `pq stat` shows of a queue: its counts ([Queue.Stat]),
// the bytes its stream holds, the send time of its oldest ready message,
// and its stream's replicas.
type Summary struct {
	queue.Stats
	// Bytes is what the queue's stream stores, headers included, for the
	// messages ready and in flight.
	Bytes int64
	// OldestReady is when the stream stored the oldest message that was
	// never delivered; zero when there is none.
	OldestReady time.Time
	// Replicas is how many servers keep the queue's stream.
	Replicas int
	// Paused says whether the queue is paused (see [Queue.Pause]).
	Paused bool
	// LastSeq is the sequence of the last message sent to the queue:
	// the difference between two summaries counts the sends between.
	LastSeq uint64
}

// Summarize returns the queue's Summary: the consumer's and the streams'
// info, and one direct get for the oldest ready message.
func (q *Queue) Summarize(ctx context.Context) (Summary, error) {
	st, err := q.Stat(ctx)
	if err != nil {
		return Summary{}, err
	}
	c, err := q.consumer(ctx)
	if err != nil {
		return Summary{}, err
	}
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	s, err := q.b.js.Stream(bctx, q.stream)
	if err != nil {
		return Summary{}, fmt.Errorf("stat %s: %w", q.name, err)
	}
	info := s.CachedInfo()
	sum := Summary{Stats: st, Bytes: int64(info.State.Bytes), Replicas: info.Config.Replicas, Paused: c.CachedInfo().Paused, LastSeq: info.State.LastSeq}
	if st.Ready > 0 {
		next := max(c.CachedInfo().Delivered.Stream+1, info.State.FirstSeq)
		raw, err := s.GetMsg(bctx, next, jetstream.WithGetMsgSubject(Subject(q.name)))
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return Summary{}, fmt.Errorf("stat %s: %w", q.name, err)
		}
		if raw != nil {
			sum.OldestReady = raw.Time
		}
	}
	return sum, nil
}
