package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// Redrive sends dead letters back to the queue as new messages, with
// their headers and bodies and none of their reasons, and removes them
// from the dead-letter stream. It moves those whose IDs (in the queue,
// as [DeadLetter.ID] gives them) are given, or all of them when none is,
// and returns the new IDs, in the order of the dead letters. An ID that
// is not a dead letter's is an error matching ErrNoMessage, and then
// nothing is moved. A redrive cut short and done again within the dedup
// window sends each message once.
func (q *Queue) Redrive(ctx context.Context, ids ...queue.ID) ([]queue.ID, error) {
	var todo []DeadLetter
	want := map[queue.ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	for d, err := range q.Dead(ctx) {
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 || want[d.ID] {
			delete(want, d.ID)
			todo = append(todo, d)
		}
	}
	for id := range want {
		return nil, fmt.Errorf("redrive %s in %s: %w (not a dead letter)", id, q.name, ErrNoMessage)
	}
	var out []queue.ID
	for _, d := range todo {
		id, err := q.redrive(ctx, d)
		if err != nil {
			return out, err
		}
		out = append(out, id)
	}
	return out, nil
}

// redrive sends d back and deletes it from the dead-letter stream.
func (q *Queue) redrive(ctx context.Context, d DeadLetter) (queue.ID, error) {
	if err := q.ensure(ctx); err != nil {
		return "", err
	}
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	msg := nats.NewMsg(Subject(q.name))
	putHeaders(msg.Header, d.Headers)
	msg.Data = d.Body
	ack, err := q.b.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(q.stream),
		jetstream.WithMsgID("pq-redrive-"+strconv.FormatUint(d.Seq, 10)+"-"+strconv.FormatInt(d.Stored.UnixNano(), 10)))
	if err != nil {
		return "", q.sendError(err)
	}
	if err := q.deleteSeq(ctx, q.dead, d.Seq); err != nil {
		return ID(ack.Sequence), fmt.Errorf("redrive %s: %w", d.ID, err)
	}
	return ID(ack.Sequence), nil
}

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
