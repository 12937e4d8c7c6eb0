package jetstream

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"pq/queue"
)

// sendWindow is how many publishes of a batch may wait for their acks at
// once: below nats.go's own bound (4,000) on a connection. A variable for
// the tests.
var sendWindow = 1000

// SendBatch sends msgs in order, as [Queue.Send] does each, but without
// waiting for each ack before the next publish: up to 1,000 publishes are
// in flight at once, which costs one round trip to the stream for many
// messages instead of one each. It returns the IDs of the messages the
// stream acknowledged, in order, up to the first failure: a message refused
// before its publish (too big, a feature a NATS queue has not) stops the
// batch there, after the acks of those before it. A message whose ID is not
// returned may have been stored all the same. It fails when no ack comes
// for the backend's timeout.
func (q *Queue) SendBatch(ctx context.Context, msgs []queue.Message) ([]queue.ID, error) {
	if err := q.ensure(ctx); err != nil {
		return nil, err
	}
	w := &acks{q: q, ctx: ctx, timer: time.NewTimer(q.b.timeout), ids: make([]queue.ID, 0, len(msgs))}
	defer w.timer.Stop()
	for _, m := range msgs {
		if len(w.futures)-len(w.ids) >= sendWindow {
			if err := w.next(); err != nil {
				return w.ids, err
			}
		}
		msg, opts, err := q.prepare(m, "")
		if err != nil {
			return w.drain(err)
		}
		f, err := q.b.js.PublishMsgAsync(msg, opts...)
		if err != nil {
			return w.drain(q.sendError(err))
		}
		w.futures = append(w.futures, f)
	}
	return w.drain(nil)
}

// acks collects the acks of a batch's publishes, in order.
type acks struct {
	q       *Queue
	ctx     context.Context
	timer   *time.Timer // fires when no ack came for the backend's timeout
	futures []jetstream.PubAckFuture
	ids     []queue.ID // of futures[:len(ids)], acknowledged
}

// next waits for the ack of the first publish not acknowledged yet.
func (w *acks) next() error {
	f := w.futures[len(w.ids)]
	select {
	case ack := <-f.Ok():
		w.ids = append(w.ids, ID(ack.Sequence))
		w.timer.Reset(w.q.b.timeout)
		return nil
	case err := <-f.Err():
		return w.q.sendError(err)
	case <-w.ctx.Done():
		return fmt.Errorf("send to %s: %w", w.q.name, w.ctx.Err())
	case <-w.timer.C:
		return fmt.Errorf("send to %s: no ack from the server in %v: %w", w.q.name, w.q.b.timeout, nats.ErrTimeout)
	}
}

// drain waits for every ack outstanding and returns the IDs acknowledged
// with the first error: that of an ack, else cause.
func (w *acks) drain(cause error) ([]queue.ID, error) {
	for len(w.ids) < len(w.futures) {
		if err := w.next(); err != nil {
			return w.ids, err
		}
	}
	return w.ids, cause
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
