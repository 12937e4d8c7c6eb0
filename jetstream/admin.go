package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// Remove deletes the messages called ids from the queue's stream (a
// message held by a claimer too: its ack then finds nothing to do). An ID
// of no message in the stream is an error matching ErrNoMessage, after
// the others were removed.
func (q *Queue) Remove(ctx context.Context, ids ...queue.ID) error {
	var missing []string
	for _, id := range ids {
		seq, err := ParseID(id)
		if err != nil {
			return err
		}
		err = q.deleteSeq(ctx, q.stream, seq)
		if errors.Is(err, ErrNoMessage) {
			missing = append(missing, string(id))
			continue
		}
		if err != nil {
			return fmt.Errorf("remove %s from %s: %w", id, q.name, err)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("remove %s from %s: %w", strings.Join(missing, ", "), q.name, ErrNoMessage)
	}
	return nil
}

// deleteSeq deletes the message at seq from stream: an error matching
// ErrNoMessage when there is none.
func (q *Queue) deleteSeq(ctx context.Context, stream string, seq uint64) error {
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	s, err := q.b.js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	if err := s.DeleteMsg(ctx, seq); err != nil {
		if _, gerr := s.GetMsg(ctx, seq); errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("%d: %w", seq, ErrNoMessage)
		}
		return err
	}
	return nil
}

// Purge removes every message of the queue's stream, claimed ones too, and
// with dead, every dead letter.
func (q *Queue) Purge(ctx context.Context, dead bool) error {
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	streams := []string{q.stream}
	if dead {
		streams = append(streams, q.dead)
	}
	for _, name := range streams {
		s, err := q.b.js.Stream(ctx, name)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("%s: %w", q.name, queue.ErrNoQueue)
		}
		if err == nil {
			err = s.Purge(ctx)
		}
		if err != nil {
			return fmt.Errorf("purge %s: %w", q.name, err)
		}
	}
	return nil
}

// Delete deletes the queue: its streams and consumers, with every message
// and dead letter. Deleting a queue that does not exist is an error
// matching queue.ErrNoQueue.
func (b *Backend) Delete(ctx context.Context, name string) error {
	if err := ValidName(name); err != nil {
		return err
	}
	ctx, cancel := b.bound(ctx)
	defer cancel()
	err := b.js.DeleteStream(ctx, StreamName(name))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%s: %w", name, queue.ErrNoQueue)
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", name, err)
	}
	for _, s := range []string{DeadStreamName(name), advisoryStreamName(name)} {
		if err := b.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("delete %s: %w", name, err)
		}
	}
	return nil
}
