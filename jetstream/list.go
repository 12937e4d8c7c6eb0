package jetstream

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// State is where a message is, as a listing sees it: ready (never
// delivered), in flight (delivered and not acked: claimed, backing off
// after a retry, or left by a claimer that died until its ack wait ends)
// or dead (in the dead-letter stream). A NATS queue has no delayed state.
type State = queue.State

// The states of a NATS queue's messages.
const (
	StateReady    = queue.StateReady
	StateInflight = queue.StateInflight
	StateDead     = queue.StateDead
)

// Entry is a message in a queue's stream, as a listing sees it.
type Entry struct {
	ID      queue.ID
	Seq     uint64
	State   State
	Sent    time.Time // when the stream stored it
	Headers []queue.Header
	Body    []byte
}

// Messages returns the messages in the queue's stream in sequence order,
// which is send order, as an iterator: one direct get each, since a
// work-queue stream allows no second consumer to browse it. Each is
// ready or inflight by where the consumer's deliveries had got to when
// the listing began; dead letters are listed by [Queue.DeadLetters]. A
// listing changes nothing, and sees messages come and go as it walks.
func (q *Queue) Messages(ctx context.Context) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		c, err := q.consumer(ctx)
		if err != nil {
			yield(Entry{}, err)
			return
		}
		delivered := c.CachedInfo().Delivered.Stream
		for raw, err := range q.walk(ctx, q.stream, Subject(q.name)) {
			if err != nil {
				yield(Entry{}, err)
				return
			}
			if !yield(entry(raw, delivered)) {
				return
			}
		}
	}
}

// entry makes an Entry of raw, a message of a queue's stream whose
// consumer had delivered up to sequence delivered.
func entry(raw *jetstream.RawStreamMsg, delivered uint64) (Entry, error) {
	hs, err := getHeaders(raw.Header)
	e := Entry{ID: ID(raw.Sequence), Seq: raw.Sequence, State: StateReady, Sent: raw.Time, Headers: hs, Body: raw.Data}
	if raw.Sequence <= delivered {
		e.State = StateInflight
	}
	return e, err
}

// Peek returns the message called id in the queue's stream, or else in
// its dead-letter stream: an error matching ErrNoMessage when it is in
// neither.
func (q *Queue) Peek(ctx context.Context, id queue.ID) (Entry, error) {
	seq, err := ParseID(id)
	if err != nil {
		return Entry{}, err
	}
	c, err := q.consumer(ctx)
	if err != nil {
		return Entry{}, err
	}
	bctx, cancel := q.b.bound(ctx)
	defer cancel()
	s, err := q.b.js.Stream(bctx, q.stream)
	if err != nil {
		return Entry{}, fmt.Errorf("peek %s: %w", id, err)
	}
	raw, err := s.GetMsg(bctx, seq)
	if err == nil {
		return entry(raw, c.CachedInfo().Delivered.Stream)
	}
	if !errors.Is(err, jetstream.ErrMsgNotFound) {
		return Entry{}, fmt.Errorf("peek %s: %w", id, err)
	}
	for d, err := range q.Dead(ctx) {
		if err != nil {
			return Entry{}, err
		}
		if d.ID == id {
			return Entry{ID: id, Seq: seq, State: StateDead, Sent: d.Stored, Headers: d.Headers, Body: d.Body}, nil
		}
	}
	return Entry{}, fmt.Errorf("%s in %s: %w", id, q.name, ErrNoMessage)
}
