package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// deadMsgID returns the Nats-Msg-Id of the dead letter of the message at
// seq stored at stored: the same for every claimer and sweeper that
// dead-letters that message, so that the dead-letter stream keeps one.
func deadMsgID(seq uint64, stored time.Time) string {
	return "pq-dead-" + strconv.FormatUint(seq, 10) + "-" + strconv.FormatInt(stored.UnixNano(), 10)
}

// publishDead stores the message at seq, with headers h and body data, in
// the queue's dead-letter stream with reason, and waits for the stream to
// confirm it. The server's own headers are left out. Stderr is cut, from
// its start, to what fits in one message.
func (q *Queue) publishDead(ctx context.Context, seq uint64, stored time.Time, h nats.Header, data []byte, r queue.Reason) error {
	msg := nats.NewMsg(deadSubject(q.name))
	for k, vs := range h {
		if !strings.HasPrefix(strings.ToLower(k), "nats-") {
			msg.Header[k] = append([]string(nil), vs...)
		}
	}
	msg.Data = data
	putReason(msg.Header, r, ID(seq))
	if over := int64(headerSize(msg.Header)+len(data)) - q.b.nc.MaxPayload(); over > 0 && r.Stderr != "" {
		cut := min(int(over)*3/4+4, len(r.Stderr)) // base64 makes 4 bytes of 3
		r.Stderr = r.Stderr[cut:]
		putReason(msg.Header, r, ID(seq))
	}
	_, err := q.b.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(q.dead), jetstream.WithMsgID(deadMsgID(seq, stored)))
	if err != nil {
		return fmt.Errorf("publish to %s: %w", q.dead, err)
	}
	q.tellRequester(h, r, ID(seq))
	return nil
}

// maxDeliveries is the part of a max-deliveries advisory that a sweep
// reads.
type maxDeliveries struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// Sweep moves to the dead-letter stream the messages that reached the
// consumer's delivery limit with nobody to dead-letter them: a worker
// killed on its last attempt leaves its message in the queue's stream,
// where the server never delivers it again, and publishes an advisory,
// which the queue's advisory stream keeps. Sweep reads those advisories,
// and for each message still there, publishes it to the dead-letter
// stream with the cause "too many attempts", then deletes it from the
// queue's stream. Two sweepers make one dead letter. Receivers sweep now
// and then by themselves; Sweep returns how many messages it moved.
func (q *Queue) Sweep(ctx context.Context) (int, error) {
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	c, err := q.b.js.Consumer(ctx, advisoryStreamName(q.name), consumerName)
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", q.name, err)
	}
	batch, err := c.FetchNoWait(100)
	if err != nil {
		return 0, fmt.Errorf("sweep %s: %w", q.name, err)
	}
	moved, first := 0, error(nil)
	for m := range batch.Messages() {
		var a maxDeliveries
		if err := json.Unmarshal(m.Data(), &a); err != nil || a.StreamSeq == 0 {
			m.Term() // not an advisory pq can read: never again
			continue
		}
		ok, err := q.sweepOne(ctx, a)
		if err != nil {
			m.Nak()
			first = cmpOr(first, err)
			continue
		}
		if err := m.DoubleAck(ctx); err != nil {
			first = cmpOr(first, err)
		}
		if ok {
			moved++
			q.b.log.Info("swept a message past its delivery limit to the dead-letter queue", "queue", q.name, "id", ID(a.StreamSeq), "attempts", a.Deliveries)
		}
	}
	if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, nats.ErrTimeout) {
		first = cmpOr(first, err)
	}
	if first != nil {
		return moved, fmt.Errorf("sweep %s: %w", q.name, first)
	}
	return moved, nil
}

// cmpOr returns a unless it is nil, then b.
func cmpOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// sweepOne dead-letters the message that advisory a is about, if it is
// still in the queue's stream, and reports whether it was.
func (q *Queue) sweepOne(ctx context.Context, a maxDeliveries) (bool, error) {
	s, err := q.b.js.Stream(ctx, q.stream)
	if err != nil {
		return false, err
	}
	raw, err := s.GetMsg(ctx, a.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil // acked late, or swept already
	}
	if err != nil {
		return false, err
	}
	r := queue.Reason{Time: time.Now(), Attempts: int(a.Deliveries), Cause: CauseTooManyAttempts}
	if err := q.publishDead(ctx, raw.Sequence, raw.Time, raw.Header, raw.Data, r); err != nil {
		return false, err
	}
	if err := s.DeleteMsg(ctx, raw.Sequence); err != nil {
		if _, gerr := s.GetMsg(ctx, raw.Sequence); !errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return false, err
		}
	}
	return true, nil
}

// DeadLetter is a message in a queue's dead-letter stream.
type DeadLetter struct {
	// ID is the ID the message had in its queue.
	ID queue.ID
	// Seq is its sequence in the dead-letter stream.
	Seq uint64
	// Reason says why it is there.
	Reason queue.Reason
	// Headers are the message's headers, in the order they were sent.
	Headers []queue.Header
	// Body is the message's body.
	Body []byte
	// Sent is when the dead-letter stream stored it.
	Stored time.Time
}

// Dead returns the queue's dead letters, oldest first, one request
// each, as an iterator: a loop that breaks early pays only for what it
// saw.
func (q *Queue) Dead(ctx context.Context) iter.Seq2[DeadLetter, error] {
	return func(yield func(DeadLetter, error) bool) {
		for raw, err := range q.walk(ctx, q.dead, deadSubject(q.name)) {
			if err != nil {
				yield(DeadLetter{}, err)
				return
			}
			hs, err := getHeaders(raw.Header)
			d := DeadLetter{ID: queue.ID(raw.Header.Get(hdrID)), Seq: raw.Sequence, Reason: getReason(raw.Header),
				Headers: hs, Body: raw.Data, Stored: raw.Time}
			if !yield(d, err) {
				return
			}
		}
	}
}

// walk yields the messages of stream on subject in sequence order, one
// direct get each.
func (q *Queue) walk(ctx context.Context, stream, subject string) iter.Seq2[*jetstream.RawStreamMsg, error] {
	return func(yield func(*jetstream.RawStreamMsg, error) bool) {
		bctx, cancel := q.b.bound(ctx)
		s, err := q.b.js.Stream(bctx, stream)
		cancel()
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			yield(nil, fmt.Errorf("queue %s: %w", q.name, queue.ErrNoQueue))
			return
		}
		if err != nil {
			yield(nil, fmt.Errorf("list %s: %w", stream, err))
			return
		}
		for seq := uint64(1); ; {
			bctx, cancel := q.b.bound(ctx)
			raw, err := s.GetMsg(bctx, seq, jetstream.WithGetMsgSubject(subject))
			cancel()
			if errors.Is(err, jetstream.ErrMsgNotFound) {
				return
			}
			if err != nil {
				yield(nil, fmt.Errorf("list %s: %w", stream, err))
				return
			}
			if !yield(raw, nil) {
				return
			}
			seq = raw.Sequence + 1
		}
	}
}

// Recover sweeps the queue's max-deliveries advisories (see [Queue.Sweep])
// and reports how many messages it moved, as "dead-lettered N".
func (q *Queue) Recover(ctx context.Context, report func(verb, what string)) error {
	n, err := q.Sweep(ctx)
	if n > 0 {
		report("dead-lettered", strconv.Itoa(n))
	}
	return err
}

var _ queue.Recoverer = (*Queue)(nil)
