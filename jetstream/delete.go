package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// Held returns the IDs of the messages in flight: delivered and not acked,
// whether a consumer works on them, backs off after a failure, or died
// and its ack wait has not ended (the server does not tell them apart).
// It reads the window between the consumer's ack floor and its last
// delivery, one direct get each.
func (q *Queue) Held(ctx context.Context) ([]queue.ID, error) {
	c, err := q.consumer(ctx)
	if err != nil {
		return nil, err
	}
	ci := c.CachedInfo()
	if ci.NumAckPending == 0 {
		return nil, nil
	}
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	s, err := q.b.js.Stream(bctx, q.stream)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", q.name, err)
	}
	var held []queue.ID
	for seq := ci.AckFloor.Stream + 1; seq <= ci.Delivered.Stream; seq++ {
		if q.has(ctx, s, seq) {
			held = append(held, ID(seq))
		}
	}
	return held, nil
}

// Delete deletes the queue: its stream, with every message, its
// dead-letter stream and its advisory stream. Without force it refuses,
// with an error matching queue.ErrHeld, while messages are in flight (see
// [Queue.Held]); with force, the claims still held end with it: their
// settles fail.
func (q *Queue) Delete(ctx context.Context, force bool) error {
	if !force {
		held, err := q.Held(ctx)
		if err != nil {
			return err
		}
		if len(held) > 0 {
			return fmt.Errorf("delete %s: %w: %d in flight (claimed, or backing off after a failure)", q.name, queue.ErrHeld, len(held))
		}
	}
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	for _, s := range []string{q.stream, q.dead, advisoryStreamName(q.name)} {
		if err := q.b.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete %s: %w", q.name, err)
		}
	}
	q.mu.Lock()
	q.ready = false
	q.mu.Unlock()
	return nil
}

var _ queue.Deleter = (*Queue)(nil)
