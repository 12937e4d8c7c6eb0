package jetstream

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Delete deletes the queue: its stream, with every message, its
// dead-letter stream and its advisory stream. Claims still held end with
// it: their settles fail.
func (q *Queue) Delete(ctx context.Context) error {
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
