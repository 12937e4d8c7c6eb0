package jetstream

import (
	"context"
	"fmt"
	"time"
)

// pauseFor is how long a pause lasts: until Resume, as far as anyone
// alive will see.
const pauseFor = 100 * 365 * 24 * time.Hour

// Pause pauses the queue's consumer: no receiver, on any host, gets a
// message of the queue until Resume. Sends still succeed, and claims
// already made may still be settled. The server keeps the pause.
func (q *Queue) Pause(ctx context.Context) error {
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	if _, err := q.b.js.PauseConsumer(ctx, q.stream, consumerName, time.Now().Add(pauseFor)); err != nil {
		return fmt.Errorf("pause %s: %w", q.name, err)
	}
	return nil
}

// Resume ends a pause; resuming a queue that is not paused changes
// nothing.
func (q *Queue) Resume(ctx context.Context) error {
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	if _, err := q.b.js.ResumeConsumer(ctx, q.stream, consumerName); err != nil {
		return fmt.Errorf("resume %s: %w", q.name, err)
	}
	return nil
}

// Paused reports whether the queue's consumer is paused.
func (q *Queue) Paused(ctx context.Context) (bool, error) {
	c, err := q.consumer(ctx)
	if err != nil {
		return false, err
	}
	return c.CachedInfo().Paused, nil
}
