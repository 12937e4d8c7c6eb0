package jetstream

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/nats-io/nats.go"

	"pq/queue"
)

// Request/reply on NATS: a request is a message of the queue's stream whose
// header Pq-Reply-To names a subject of the requester's own (an inbox),
// which it listens on before it sends. The worker that handled it publishes
// the reply there as a NATS request, and the requester answers "ok" once it
// has it: a reply that nobody answers (the requester timed out, withdrew or
// died) is discarded, as on a spool. A request that is dead-lettered sends
// its requester a message with the header Pq-Dead-Letter and the reason's
// headers instead, and the requester's Wait fails with a
// *queue.DeadLetterError. Replies are not stored: a requester that is
// disconnected when its reply comes misses it.
const (
	// hdrReplyTo names the subject a request's reply goes to.
	hdrReplyTo = "Pq-Reply-To"
	// hdrDeadLetter marks what a requester gets when its request was
	// dead-lettered.
	hdrDeadLetter = "Pq-Dead-Letter"
)

// Request sends m as a request and returns it, listening for its reply.
func (q *Queue) Request(ctx context.Context, m queue.Message) (queue.Request, error) {
	inbox := q.b.nc.NewInbox()
	sub, err := q.b.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, fmt.Errorf("request to %s: %w", q.name, err)
	}
	id, err := q.send(ctx, m, inbox)
	if err != nil {
		sub.Unsubscribe()
		return nil, err
	}
	return &Request{id: id, sub: sub}, nil
}

// Request is a request sent to a queue on NATS, waiting for its reply.
type Request struct {
	id   queue.ID
	sub  *nats.Subscription
	once sync.Once
}

// ID returns the request's message ID.
func (r *Request) ID() queue.ID { return r.id }

// Wait waits for the reply, and confirms it to the replier.
func (r *Request) Wait(ctx context.Context) (io.ReadCloser, error) {
	msg, err := r.sub.NextMsgWithContext(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("request %s: %w", r.id, err)
	}
	if msg.Header.Get(hdrDeadLetter) != "" {
		return nil, &queue.DeadLetterError{ID: r.id, Reason: getReason(msg.Header)}
	}
	if msg.Reply != "" {
		if err := msg.Respond([]byte("ok")); err != nil {
			return nil, fmt.Errorf("request %s: confirm the reply: %w", r.id, err)
		}
	}
	return io.NopCloser(bytes.NewReader(msg.Data)), nil
}

// Withdraw stops listening: a reply that comes later is discarded. The
// request itself stays in the queue, and may still be handled.
func (r *Request) Withdraw() error {
	var err error
	r.once.Do(func() { err = r.sub.Unsubscribe() })
	return err
}

// IsRequest reports whether the message is a request.
func (c *Claim) IsRequest() bool { return c.m.Headers().Get(hdrReplyTo) != "" }

// Reply sends body to the requester and waits for it to confirm it: an
// error matching queue.ErrNoRequester when nobody listens any more.
func (c *Claim) Reply(ctx context.Context, body io.Reader) error {
	to := c.m.Headers().Get(hdrReplyTo)
	if to == "" {
		return fmt.Errorf("reply to %s: not a request", c.ID())
	}
	msg := nats.NewMsg(to)
	data, err := c.r.q.readBody(body, msg)
	if err != nil {
		return err
	}
	msg.Data = data
	ctx, cancel := c.r.q.b.bound(ctx)
	defer cancel()
	_, err = c.r.q.b.nc.RequestMsgWithContext(ctx, msg)
	if errors.Is(err, nats.ErrNoResponders) {
		return fmt.Errorf("reply to %s: %w", c.ID(), queue.ErrNoRequester)
	}
	if err != nil {
		return fmt.Errorf("reply to %s: %w", c.ID(), err)
	}
	return nil
}

// tellRequester tells the requester of a request, a message with headers
// h, that it was dead-lettered for r. It is a courtesy: a requester that
// does not hear it waits for its timeout.
func (q *Queue) tellRequester(h nats.Header, r queue.Reason, id queue.ID) {
	to := h.Get(hdrReplyTo)
	if to == "" {
		return
	}
	msg := nats.NewMsg(to)
	msg.Header.Set(hdrDeadLetter, "1")
	putReason(msg.Header, r, id)
	if err := q.b.nc.PublishMsg(msg); err != nil {
		q.b.log.Warn("cannot tell the requester of a dead letter", "queue", q.name, "id", string(id), "err", err)
	}
}

var (
	_ queue.Requester = (*Queue)(nil)
	_ queue.Replier   = (*Claim)(nil)
)
