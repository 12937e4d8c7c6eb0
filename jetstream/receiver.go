package jetstream

import (
	"bytes"
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

// Test seams: how long one pull request of a waiting claim lasts, and how
// often a receiver sweeps the queue's max-deliveries advisories.
var (
	pollWait   = 5 * time.Second
	sweepEvery = 5 * time.Second
)

// CauseExpired is the cause recorded for a message dead-lettered because
// its time to live was over, as for a spool.
const CauseExpired = "expired"

// CauseTooManyAttempts is the cause recorded for a message that reached
// the consumer's delivery limit with nobody to dead-letter it.
const CauseTooManyAttempts = "too many attempts"

// Receiver claims messages from a queue's durable consumer. It is used by
// one goroutine at a time; its claims may be settled from any goroutine.
type Receiver struct {
	q          *Queue
	c          jetstream.Consumer
	ackWait    time.Duration
	maxDeliver int
	lastSweep  time.Time
	pending    jetstream.MessageBatch // a pull left by a cancelled claim
	stale      bool                   // pending was left by a claim that returned
	cut        bool                   // the last pull was cut short: pause
}

// Claim claims the next message. Without wait it returns an error
// matching queue.ErrEmpty when none is ready; with wait it waits until
// one is, or ctx is done. Now and then it first sweeps the queue's
// max-deliveries advisories (see [Queue.Sweep]). A message whose time to
// live is over is dead-lettered with the cause "expired" instead of being
// returned.
func (r *Receiver) Claim(ctx context.Context, wait bool) (queue.Claim, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.sweepIfDue(ctx)
		m, err := r.fetch(ctx, wait)
		if err != nil {
			return nil, err
		}
		if m == nil {
			if !wait {
				return nil, queue.ErrEmpty
			}
			if err := r.pauseIfCut(ctx); err != nil {
				return nil, err
			}
			continue
		}
		c, err := r.newClaim(m)
		if err != nil {
			return nil, err
		}
		if c.expired() {
			if err := c.DeadLetter(queue.Reason{Cause: CauseExpired, Untried: true}); err != nil {
				r.q.b.log.Warn("cannot move an expired message to the dead-letter queue", "queue", r.q.name, "id", c.ID(), "err", err)
			}
			continue
		}
		return c, nil
	}
}

// pauseIfCut waits a moment, or until ctx is done, after a pull that was
// cut short, so that a claim that waits does not spin while no server
// answers.
func (r *Receiver) pauseIfCut(ctx context.Context) error {
	if !r.cut {
		return nil
	}
	r.cut = false
	t := time.NewTimer(settlePause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// sweepIfDue sweeps the queue's advisories if the last sweep is old.
func (r *Receiver) sweepIfDue(ctx context.Context) {
	if time.Since(r.lastSweep) < sweepEvery {
		return
	}
	r.lastSweep = time.Now()
	if _, err := r.q.Sweep(ctx); err != nil && ctx.Err() == nil {
		r.q.b.log.Warn("cannot sweep the max-deliveries advisories", "queue", r.q.name, "err", err)
	}
}

// fetch pulls one message: nil when none came, at once without wait or
// within pollWait with it. A pull that a cancelled claim left waiting is
// used first: a message it brings was delivered already, and putting it
// back would count a delivery.
func (r *Receiver) fetch(ctx context.Context, wait bool) (jetstream.Msg, error) {
	if r.pending == nil {
		if !wait {
			return r.fetchNoWait()
		}
		batch, err := r.c.Fetch(1, jetstream.FetchMaxWait(pollWait))
		if err != nil {
			return nil, fmt.Errorf("claim from %s: %w", r.q.name, err)
		}
		r.pending = batch
	}
	stop := ctx.Done()
	if !wait {
		closed := make(chan struct{})
		close(closed)
		stop = closed
	}
	select {
	case m, ok := <-r.pending.Messages():
		return r.fromPending(m, ok, wait)
	default:
	}
	select {
	case m, ok := <-r.pending.Messages():
		return r.fromPending(m, ok, wait)
	case <-stop:
		// The pull stays: the next claim takes what it brings.
		r.stale = true
		if wait {
			return nil, ctx.Err()
		}
		return r.fetchNoWait()
	}
}

// fromPending returns m, which the pending pull brought (ok), or else
// what the pull's end means.
func (r *Receiver) fromPending(m jetstream.Msg, ok, wait bool) (jetstream.Msg, error) {
	batch, stale := r.pending, r.stale
	r.pending, r.stale = nil, false
	if ok {
		if stale {
			// Delivered while no claim waited: its ack wait has run
			// since. Start it again.
			m.InProgress()
		}
		return m, nil
	}
	if err := r.pullError(batch.Error(), wait); err != nil {
		return nil, err
	}
	if !wait {
		return r.fetchNoWait()
	}
	return nil, nil
}

// fetchNoWait pulls one message if one is ready. The server answers a
// pull that does not wait from a count of pending messages that it
// updates a moment after a send is acknowledged; so when it answers that
// none is, and the stream holds a message past the last one delivered,
// fetchNoWait pulls again, waiting for that message up to a bound.
func (r *Receiver) fetchNoWait() (jetstream.Msg, error) {
	m, err := r.pull(r.c.FetchNoWait(1))
	if m != nil || err != nil {
		return m, err
	}
	undelivered, err := r.undelivered()
	if err != nil || !undelivered {
		return nil, err
	}
	return r.pull(r.c.Fetch(1, jetstream.FetchMaxWait(time.Second)))
}

// pull returns the message that batch brings, if any.
func (r *Receiver) pull(batch jetstream.MessageBatch, err error) (jetstream.Msg, error) {
	if err != nil {
		return nil, fmt.Errorf("claim from %s: %w", r.q.name, err)
	}
	m, ok := <-batch.Messages()
	if ok {
		return m, nil
	}
	return nil, r.pullError(batch.Error(), false)
}

// pullError returns the error of a claim whose pull ended with err: none
// for a pull that found nothing, nor, for a claim that waits and so pulls
// again, for one that a leader change or a lost connection cut short; an
// error matching queue.ErrNoQueue for a consumer deleted meanwhile.
func (r *Receiver) pullError(err error, wait bool) error {
	switch {
	case err == nil, errors.Is(err, nats.ErrTimeout), errors.Is(err, jetstream.ErrNoMessages):
		return nil
	case errors.Is(err, jetstream.ErrConsumerDeleted), errors.Is(err, jetstream.ErrConsumerNotFound):
		return fmt.Errorf("claim from %s: %w: %w", r.q.name, queue.ErrNoQueue, err)
	case wait && (transient(err) || errors.Is(err, jetstream.ErrConsumerLeadershipChanged) || errors.Is(err, jetstream.ErrNoHeartbeat)):
		r.q.b.log.Debug("a pull was cut short; pulling again", "queue", r.q.name, "err", err)
		r.cut = true
		return nil
	}
	return fmt.Errorf("claim from %s: %w", r.q.name, err)
}

// undelivered reports whether the queue's stream holds a message that
// its consumer has not delivered yet.
func (r *Receiver) undelivered() (bool, error) {
	ctx, cancel := r.q.b.bound(context.Background())
	defer cancel()
	ci, err := r.c.Info(ctx)
	if err != nil {
		return false, fmt.Errorf("claim from %s: %w", r.q.name, err)
	}
	s, err := r.q.b.js.Stream(ctx, r.q.stream)
	if err != nil {
		return false, fmt.Errorf("claim from %s: %w", r.q.name, err)
	}
	st := s.CachedInfo().State
	return st.Msgs > 0 && st.LastSeq > ci.Delivered.Stream, nil
}

// releaseAll puts back every message that batch brings.
func releaseAll(batch jetstream.MessageBatch) {
	for m := range batch.Messages() {
		m.Nak()
	}
}

// newClaim wraps m.
func (r *Receiver) newClaim(m jetstream.Msg) (*Claim, error) {
	meta, err := m.Metadata()
	if err != nil {
		m.Nak()
		return nil, fmt.Errorf("claim from %s: %w", r.q.name, err)
	}
	return &Claim{r: r, m: m, meta: meta}, nil
}

// Close ends the receiver. Its claims stay valid. A message that a pull
// left by a cancelled claim brings is put back (which counts a delivery).
func (r *Receiver) Close() error {
	if r.pending != nil {
		go releaseAll(r.pending)
		r.pending = nil
	}
	return nil
}

// Claim is a message claimed from a queue's consumer. It lives as long as
// the consumer's ack wait after its claim or its last Extend: a claimer
// calls Extend every [Claim.ExtendEvery] to keep it.
type Claim struct {
	r    *Receiver
	m    jetstream.Msg
	meta *jetstream.MsgMetadata

	mu   sync.Mutex
	done bool
}

// ID returns the message's stream sequence in decimal.
func (c *Claim) ID() queue.ID { return ID(c.meta.Sequence.Stream) }

// Attempt returns the server's delivery count of the message, this
// delivery included. It counts every delivery: a claim released, or lost
// with its claimer, counts too.
func (c *Claim) Attempt() int { return int(c.meta.NumDelivered) }

// Sent returns the time the stream stored the message.
func (c *Claim) Sent() time.Time { return c.meta.Timestamp }

// Headers returns the message's headers in the order they were sent.
func (c *Claim) Headers() ([]queue.Header, error) { return getHeaders(c.m.Headers()) }

// Body returns a reader of the message's body.
func (c *Claim) Body() io.Reader { return bytes.NewReader(c.m.Data()) }

// ExtendEvery returns a third of the consumer's ack wait.
func (c *Claim) ExtendEvery() time.Duration { return c.r.ackWait / 3 }

// expired reports whether the message's time to live is over.
func (c *Claim) expired() bool {
	s := c.m.Headers().Get(hdrExpires)
	if s == "" {
		return false
	}
	ns, err := strconv.ParseInt(s, 10, 64)
	return err == nil && ns <= time.Now().UnixNano()
}

// Extend tells the server that the claimer still works on the message
// (InProgress), which restarts its ack wait, and waits for the server to
// confirm it.
func (c *Claim) Extend(ctx context.Context) error {
	c.mu.Lock()
	done := c.done
	c.mu.Unlock()
	if done {
		return fmt.Errorf("extend %s: the claim has ended", c.ID())
	}
	if err := c.reply(ctx, "+WPI"); err != nil {
		return fmt.Errorf("extend %s: %w", c.ID(), err)
	}
	return nil
}

// Ack removes the message from the queue, and waits for the server to
// confirm it.
func (c *Claim) Ack() error {
	return c.end("ack", func(ctx context.Context) error { return c.m.DoubleAck(ctx) })
}

// Retry puts the message back, to be delivered again once delay has
// passed (NakWithDelay), and waits for the server to confirm it.
func (c *Claim) Retry(delay time.Duration) error {
	return c.end("retry", func(ctx context.Context) error { return c.reply(ctx, nak(delay)) })
}

// Release puts the message back at once. The server counts the delivery
// all the same: it cannot take one back, so a released message comes
// back with one more attempt.
func (c *Claim) Release() error {
	return c.end("release", func(ctx context.Context) error { return c.reply(ctx, nak(0)) })
}

// nak returns the body of a negative ack with delay.
func nak(delay time.Duration) string {
	if delay <= 0 {
		return "-NAK"
	}
	return fmt.Sprintf(`-NAK {"delay": %d}`, delay.Nanoseconds())
}

// DeadLetter publishes the message to the queue's dead-letter stream with
// its headers and reason, waits for the stream to store it, and then
// terminates the claim, so that the server never delivers it again. A
// claimer that dies in between leaves a dead letter and a message that
// comes back; the dead letter it makes then is dropped by the dead-letter
// stream's dedup window.
func (c *Claim) DeadLetter(reason queue.Reason) error {
	if reason.Attempts == 0 {
		reason.Attempts = c.Attempt()
		if reason.Untried {
			reason.Attempts--
		}
	}
	if reason.Time.IsZero() {
		reason.Time = time.Now()
	}
	return c.end("dead-letter", func(ctx context.Context) error {
		if err := c.r.q.publishDead(ctx, c.meta.Sequence.Stream, c.meta.Timestamp, c.m.Headers(), c.m.Data(), reason); err != nil {
			return err
		}
		return c.reply(ctx, "+TERM")
	})
}

// end settles the claim with settle, once. A settlement that finds no
// server to answer it (a consumer leader that went down, and another not
// elected yet) is tried again within the backend's timeout: each is
// idempotent (an ack, a nak or a term said twice is said once; a dead
// letter published twice is stored once).
func (c *Claim) end(what string, settle func(context.Context) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return fmt.Errorf("%s %s: the claim has ended", what, c.ID())
	}
	deadline := time.Now().Add(c.r.q.b.timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), min(time.Until(deadline), settleTry))
		err := settle(ctx)
		cancel()
		if err == nil {
			c.done = true
			return nil
		}
		if !transient(err) || time.Until(deadline) < settlePause {
			return fmt.Errorf("%s %s: %w", what, c.ID(), err)
		}
		time.Sleep(settlePause)
	}
}

// How long one try to settle a claim may take, and the pause between two.
const (
	settleTry   = 2 * time.Second
	settlePause = 100 * time.Millisecond
)

// transient reports whether err may go away when a request is tried
// again: no server answered, in time or at all.
func transient(err error) bool {
	return errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrNoStreamResponse)
}

// reply sends body to the message's ack subject and waits for the
// server's answer.
func (c *Claim) reply(ctx context.Context, body string) error {
	_, err := c.r.q.b.nc.RequestWithContext(ctx, c.m.Reply(), []byte(body))
	return err
}

var _ queue.Extender = (*Claim)(nil)

// ClaimBatch claims up to n ready messages with one pull: at least one,
// or an error (matching queue.ErrEmpty when none is ready), never both. A pull that a cancelled claim left
// is used first, one message, as Claim does. Each message is delivered,
// and counted by the server, only when asked for, so a worker asks for no
// more than it has handlers free.
func (r *Receiver) ClaimBatch(ctx context.Context, n int) ([]queue.Claim, error) {
	if n <= 1 || r.pending != nil {
		return r.claimOne(ctx)
	}
	r.sweepIfDue(ctx)
	batch, err := r.c.FetchNoWait(n)
	if err != nil {
		return nil, fmt.Errorf("claim from %s: %w", r.q.name, err)
	}
	var out []queue.Claim
	for m := range batch.Messages() {
		c, err := r.newClaim(m)
		if err != nil {
			r.q.b.log.Warn("cannot claim a message", "queue", r.q.name, "err", err)
			continue // put back by newClaim
		}
		if c.expired() {
			if err := c.DeadLetter(queue.Reason{Cause: CauseExpired, Untried: true}); err != nil {
				r.q.b.log.Warn("cannot move an expired message to the dead-letter queue", "queue", r.q.name, "id", c.ID(), "err", err)
			}
			continue
		}
		out = append(out, c)
	}
	if err := r.pullError(batch.Error(), false); err != nil && len(out) == 0 {
		return nil, err
	}
	if len(out) == 0 {
		return r.claimOne(ctx) // what a pull just after a send misses
	}
	return out, nil
}

// claimOne is Claim without waiting, as a batch of one.
func (r *Receiver) claimOne(ctx context.Context) ([]queue.Claim, error) {
	c, err := r.Claim(ctx, false)
	if err != nil {
		return nil, err
	}
	return []queue.Claim{c}, nil
}

var _ queue.BatchClaimer = (*Receiver)(nil)
