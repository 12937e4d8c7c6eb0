package jetstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// timeFormat is how pq's headers write times.
const timeFormat = time.RFC3339Nano

func parseTime(s string) (time.Time, error) { return time.Parse(timeFormat, s) }

// Queue is one queue: a stream with work-queue retention, its dead-letter
// stream, and its one durable consumer. It is safe for concurrent use.
type Queue struct {
	b      *Backend
	name   string
	stream string
	dead   string

	mu    sync.Mutex
	ready bool // the queue's stream is known to exist
}

// Name returns the queue's name.
func (q *Queue) Name() string { return q.name }

// ID returns the ID of the message at sequence seq of the queue's stream:
// the sequence in decimal.
func ID(seq uint64) queue.ID { return queue.ID(strconv.FormatUint(seq, 10)) }

// ParseID returns the stream sequence that id names.
func ParseID(id queue.ID) (uint64, error) {
	seq, err := strconv.ParseUint(string(id), 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("%w: %q is not a message ID of a NATS queue (a stream sequence number)", ErrNoMessage, id)
	}
	return seq, nil
}

// Send makes one message durable in the queue's stream and returns its
// ID, creating the queue with [DefaultInitOptions] if it does not exist.
// A send whose DedupID was sent within the queue's dedup window makes
// nothing and returns the first message's ID. Priority, Group and Due
// are refused with an error matching queue.ErrUnsupported.
func (q *Queue) Send(ctx context.Context, m queue.Message) (queue.ID, error) {
	return q.send(ctx, m, "")
}

// send is Send, of a request whose reply goes to the subject replyTo
// when that is not empty.
func (q *Queue) send(ctx context.Context, m queue.Message, replyTo string) (queue.ID, error) {
	ack, err := q.publish(ctx, m, replyTo)
	if err != nil {
		return "", err
	}
	return ID(ack.Sequence), nil
}

// SendDedup is Send that also tells whether the send was a duplicate of
// one with the same DedupID within the dedup window (see
// [queue.DedupSender]).
func (q *Queue) SendDedup(ctx context.Context, m queue.Message) (queue.ID, bool, error) {
	ack, err := q.publish(ctx, m, "")
	if err != nil {
		return "", false, err
	}
	return ID(ack.Sequence), ack.Duplicate, nil
}

// publish stores m, a request whose reply goes to replyTo when that is
// not empty, and returns the stream's acknowledgement.
func (q *Queue) publish(ctx context.Context, m queue.Message, replyTo string) (*jetstream.PubAck, error) {
	msg, opts, err := q.prepare(m, replyTo)
	if err != nil {
		return nil, err
	}
	if err := q.ensure(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	ack, err := q.b.js.PublishMsg(ctx, msg, opts...)
	if err != nil {
		return nil, q.sendError(err)
	}
	return ack, nil
}

var _ queue.DedupSender = (*Queue)(nil)

// prepare returns the NATS message of m, a request whose reply goes to
// replyTo when that is not empty, and the options of its publish, or an
// error when m asks for what a NATS queue cannot do or is too big.
func (q *Queue) prepare(m queue.Message, replyTo string) (*nats.Msg, []jetstream.PublishOpt, error) {
	if err := unsupported(m); err != nil {
		return nil, nil, err
	}
	if err := checkHeaders(m.Headers); err != nil {
		return nil, nil, err
	}
	msg := nats.NewMsg(Subject(q.name))
	putHeaders(msg.Header, m.Headers)
	if replyTo != "" {
		msg.Header.Set(hdrReplyTo, replyTo)
	}
	if !m.Expires.IsZero() {
		msg.Header.Set(hdrExpires, strconv.FormatInt(m.Expires.UnixNano(), 10))
	}
	body, err := q.readBody(m.Body, msg)
	if err != nil {
		return nil, nil, err
	}
	msg.Data = body
	// No Nats-Expected-Stream header: the server would check it for
	// every message, a quarter of a bulk send's time, and it guards
	// nothing that ensure has not: the queue's stream exists, and the
	// server lets no other stream take its subject while it does.
	var opts []jetstream.PublishOpt
	if m.DedupID != "" {
		opts = append(opts, jetstream.WithMsgID(m.DedupID))
	}
	return msg, opts, nil
}

// unsupported refuses what a NATS queue cannot do.
func unsupported(m queue.Message) error {
	switch {
	case m.Priority != nil:
		return queue.Unsupported("--priority", backendName)
	case m.Group != "":
		return queue.Unsupported("--group", backendName)
	case !m.Due.IsZero():
		return queue.Unsupported("--delay/--at", backendName)
	}
	return nil
}

// readBody reads body whole, failing with ErrTooBig when it would not fit
// in one NATS message beside msg's headers.
func (q *Queue) readBody(body io.Reader, msg *nats.Msg) ([]byte, error) {
	if body == nil {
		return nil, nil
	}
	limit := q.b.nc.MaxPayload() - int64(headerSize(msg.Header))
	data, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("send to %s: %w", q.name, err)
	}
	if int64(len(data)) <= limit {
		return data, nil
	}
	rest, err := io.Copy(io.Discard, body)
	if err != nil {
		return nil, fmt.Errorf("send to %s: %w", q.name, err)
	}
	return nil, tooBig(int64(len(data))+rest, limit)
}

// tooBig returns the error of a body of size bytes over limit.
func tooBig(size, limit int64) error {
	return withHint(fmt.Errorf("%w: %d bytes, the server takes %d (its max_payload, less the headers)", ErrTooBig, size, max(limit, 0)),
		"send a reference (a path or URL) to the data instead, or raise max_payload in the server's configuration (up to 8 MB; 1 MB by default)")
}

// headerSize returns the size of h on the wire, near enough.
func headerSize(h nats.Header) int {
	n := len("NATS/1.0\r\n\r\n")
	for k, vs := range h {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// sendError turns a publish error into one of this package.
func (q *Queue) sendError(err error) error {
	if errors.Is(err, nats.ErrMaxPayload) || errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum) {
		return withHint(fmt.Errorf("send to %s: %w: %w", q.name, ErrTooBig, err),
			"send a reference (a path or URL) to the data instead, or raise the stream's or the server's limit")
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errCodeAccountResources, errCodeStorageResources, errCodeStoreFailed:
			return fmt.Errorf("send to %s: %w: %w", q.name, queue.ErrFull, err)
		}
	}
	return fmt.Errorf("send to %s: %w", q.name, err)
}

// Error codes of the JetStream API that say a stream, an account or a
// server has no room (the last one also covers other failures to store).
const (
	errCodeAccountResources jetstream.ErrorCode = 10002
	errCodeStorageResources jetstream.ErrorCode = 10047
	errCodeStoreFailed      jetstream.ErrorCode = 10077
)

// ensure creates the queue with the default settings, once, if it does
// not exist.
func (q *Queue) ensure(ctx context.Context) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.ready {
		return nil
	}
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	_, err := q.b.js.Stream(ctx, q.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		err = q.b.create(ctx, q.name)
	}
	if err != nil {
		return fmt.Errorf("queue %s: %w", q.name, err)
	}
	q.ready = true
	return nil
}

// consumer returns the queue's consumer, or an error matching
// queue.ErrNoQueue, with a hint, when the queue was never initialized.
func (q *Queue) consumer(ctx context.Context) (jetstream.Consumer, error) {
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	c, err := q.b.js.Consumer(ctx, q.stream, consumerName)
	if errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, withHint(fmt.Errorf("queue %s: %w", q.name, queue.ErrNoQueue),
			"create it with 'pq init %s': the stream %s and its consumer %s", q.name, q.stream, consumerName)
	}
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", q.name, err)
	}
	return c, nil
}

// Stat counts the queue's messages. Ready is what the consumer has never
// delivered; Claimed is what it delivered and was not acked yet, which
// holds, beside live claims, the messages backing off after a retry and
// those whose claimer died, waiting for their ack wait to end: the server
// does not tell them apart. Delayed is always 0. Dead is what the
// dead-letter stream holds.
func (q *Queue) Stat(ctx context.Context) (queue.Stats, error) {
	s, _, err := q.stat(ctx)
	return s, err
}

// stat is Stat, which also returns the consumer, whose cached info is as
// fresh as the counts: two requests in all.
func (q *Queue) stat(ctx context.Context) (queue.Stats, jetstream.Consumer, error) {
	c, err := q.consumer(ctx)
	if err != nil {
		return queue.Stats{}, nil, err
	}
	ci := c.CachedInfo() // the lookup's answer
	s := queue.Stats{Ready: int(ci.NumPending), Claimed: ci.NumAckPending}
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	ds, err := q.b.js.Stream(ctx, q.dead)
	if err != nil {
		return queue.Stats{}, nil, fmt.Errorf("stat %s: %w", q.name, err)
	}
	s.Dead = int(ds.CachedInfo().State.Msgs)
	return s, c, nil
}

// Check reports whether the queue exists, with one request: an error
// matching queue.ErrNoQueue, with a hint, when it does not.
func (q *Queue) Check(ctx context.Context) error {
	_, err := q.consumer(ctx)
	return err
}

// Replicas returns how many replicas the queue's stream has, so that
// `pq stat` can warn when it has one.
func (q *Queue) Replicas(ctx context.Context) (int, error) {
	ctx, cancel := q.b.bound(ctx)
	defer cancel()
	s, err := q.b.js.Stream(ctx, q.stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, fmt.Errorf("queue %s: %w", q.name, queue.ErrNoQueue)
	}
	if err != nil {
		return 0, fmt.Errorf("queue %s: %w", q.name, err)
	}
	return s.CachedInfo().Config.Replicas, nil
}

// NewReceiver returns a receiver bound to the queue's consumer, which
// [Backend.Init] or the queue's first send made: an error matching
// queue.ErrNoQueue, with a hint, when there is none. It never creates nor
// changes the consumer.
func (q *Queue) NewReceiver(ctx context.Context) (queue.Receiver, error) {
	c, err := q.consumer(ctx)
	if err != nil {
		return nil, err
	}
	ci := c.CachedInfo()
	return &Receiver{q: q, c: c, ackWait: ci.Config.AckWait, maxDeliver: ci.Config.MaxDeliver}, nil
}

var _ queue.Queue = (*Queue)(nil)
