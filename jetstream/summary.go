package jetstream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// Summarize returns what `pq stat` shows of the queue: its counts (see
// [Queue.Stat]), the bytes its stream stores, the send time of its oldest
// ready message, whether it is paused, and its stream's replicas, from the
// consumer's and the streams' info and one direct get. With since, the
// sends counted are those since the backend last summarized the queue
// (pq stat --watch), from the stream's sequence numbers.
func (q *Queue) Summarize(ctx context.Context, since time.Time) (queue.Summary, error) {
	st, c, err := q.stat(ctx)
	if err != nil {
		return queue.Summary{}, err
	}
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	s, err := q.b.js.Stream(bctx, q.stream)
	if err != nil {
		return queue.Summary{}, fmt.Errorf("stat %s: %w", q.name, err)
	}
	info := s.CachedInfo()
	sum := queue.Summary{Ready: st.Ready, Inflight: st.Claimed, Dead: st.Dead, Bytes: int64(info.State.Bytes),
		Replicas: info.Config.Replicas, Paused: c.CachedInfo().Paused}
	if prev, ok := q.b.lastSeq(q.name, info.State.LastSeq); ok && !since.IsZero() && info.State.LastSeq >= prev {
		sum.SentAfter = int(info.State.LastSeq - prev)
	}
	if st.Ready > 0 {
		next := max(c.CachedInfo().Delivered.Stream+1, info.State.FirstSeq)
		raw, err := s.GetMsg(bctx, next, jetstream.WithGetMsgSubject(Subject(q.name)))
		if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return queue.Summary{}, fmt.Errorf("stat %s: %w", q.name, err)
		}
		if raw != nil {
			sum.OldestReady = raw.Time
		}
	}
	return sum, nil
}

// lastSeq records seq as the last sequence summarized of the queue called
// name, and returns the one recorded before, if any.
func (b *Backend) lastSeq(name string, seq uint64) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.seqs == nil {
		b.seqs = map[string]uint64{}
	}
	prev, ok := b.seqs[name]
	b.seqs[name] = seq
	return prev, ok
}

var _ queue.Summarizer = (*Queue)(nil)
