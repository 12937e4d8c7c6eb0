package jetstream

import (
	"context"
	"strconv"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// batchWindow bounds how many publishes of a batch wait for their
// acknowledgement at once.
const batchWindow = 512

// SendBatch sends msgs in order, publishing without waiting for each
// acknowledgement before the next (up to a window of them), and returns
// the IDs of the messages up to the first that failed, in order: all of
// them when the error is nil. A message whose ID is not returned may have
// been stored all the same; a send with a DedupID can be tried again
// safely.
func (q *Queue) SendBatch(ctx context.Context, msgs []queue.Message) ([]queue.ID, error) {
	if err := q.ensure(ctx); err != nil {
		return nil, err
	}
	ids := make([]queue.ID, 0, len(msgs))
	var inflight []jetstream.PubAckFuture
	wait := func() error {
		f := inflight[0]
		inflight = inflight[1:]
		select {
		case ack := <-f.Ok():
			ids = append(ids, ID(ack.Sequence))
			return nil
		case err := <-f.Err():
			return q.sendError(err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var err error
	for _, m := range msgs {
		var msg *nats.Msg
		var opts []jetstream.PublishOpt
		if msg, opts, err = q.natsMsg(m, ""); err != nil {
			break
		}
		f, perr := q.b.js.PublishMsgAsync(msg, opts...)
		if perr != nil {
			err = q.sendError(perr)
			break
		}
		inflight = append(inflight, f)
		for err == nil && len(inflight) >= batchWindow {
			err = wait()
		}
		if err != nil {
			return ids, err
		}
	}
	// Those published before a message that could not be are durable too.
	for len(inflight) > 0 {
		if werr := wait(); werr != nil {
			return ids, werr
		}
	}
	return ids, err
}

// natsMsg checks m and makes the NATS message that sends it, a request
// whose reply goes to the subject replyTo when that is not empty.
func (q *Queue) natsMsg(m queue.Message, replyTo string) (*nats.Msg, []jetstream.PublishOpt, error) {
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
	opts := []jetstream.PublishOpt{jetstream.WithExpectStream(q.stream)}
	if m.DedupID != "" {
		opts = append(opts, jetstream.WithMsgID(m.DedupID))
	}
	return msg, opts, nil
}

var _ queue.BatchSender = (*Queue)(nil)

// AckAll acks claims concurrently, each confirmed by the server, and
// returns the first error, having tried every claim.
func (q *Queue) AckAll(claims []queue.Claim) error {
	errs := make([]error, len(claims))
	var wg sync.WaitGroup
	slots := make(chan struct{}, 64)
	for i, c := range claims {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			errs[i] = c.Ack()
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

var _ queue.BatchAcker = (*Queue)(nil)
