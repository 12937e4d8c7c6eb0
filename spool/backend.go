package spool

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"time"

	"pq/queue"
)

// Backend is a spool root as a [queue.Backend]: package worker, and every
// command, run over it as they run over NATS JetStream.
type Backend struct {
	root string
	opts Options
}

// NewBackend returns the spool root as a backend whose queues are opened
// with opts.
func NewBackend(root string, opts Options) *Backend {
	return &Backend{root: root, opts: opts}
}

// Open returns the queue called name. It touches no disk: the first send
// creates the queue.
func (b *Backend) Open(_ context.Context, name string) (queue.Queue, error) {
	q, err := Open(b.root, name, b.opts)
	if err != nil {
		return nil, err
	}
	return q.Queue(), nil
}

// Queues lists the spool's queues (see [Queues]).
func (b *Backend) Queues(context.Context) ([]string, error) { return Queues(b.root) }

// Close does nothing: a spool holds nothing open between operations.
func (b *Backend) Close() error { return nil }

// Queue returns q as a [queue.Queue]. [Unwrap] gives q back.
func (q *Queue) Queue() queue.Queue { return &backendQueue{q: q} }

// Unwrap returns the spool queue behind a [queue.Queue] of this package,
// for what only a spool has (groups, batches, moves, replies, sharing):
// false for a queue of another backend.
func Unwrap(q queue.Queue) (*Queue, bool) {
	b, ok := q.(*backendQueue)
	if !ok {
		return nil, false
	}
	return b.q, true
}

// backendQueue is a Queue behind the queue.Queue interface.
type backendQueue struct {
	q       *Queue
	created sync.Once
}

// Name returns the queue's name.
func (b *backendQueue) Name() string { return b.q.Name() }

// Send sends m, creating the queue first if it does not exist.
func (b *backendQueue) Send(_ context.Context, m queue.Message) (ID, error) {
	if err := b.create(); err != nil {
		return "", err
	}
	return b.q.SendWith(m.Body, sendOptions(m))
}

// SendDedup is Send that also tells whether m, with a DedupID, was a
// duplicate (see [Queue.SendDedup]).
func (b *backendQueue) SendDedup(_ context.Context, m queue.Message) (ID, bool, error) {
	if err := b.create(); err != nil {
		return "", false, err
	}
	return b.q.SendDedup(m.Body, sendOptions(m))
}

// create creates the queue, once, if it does not exist.
func (b *backendQueue) create() error {
	var err error
	b.created.Do(func() {
		if err = b.q.Check(); errors.Is(err, ErrNoQueue) {
			err = b.q.Create()
		}
	})
	return err
}

// SendBatch sends msgs as one batch: one fsync for them all.
func (b *backendQueue) SendBatch(ctx context.Context, msgs []queue.Message) ([]ID, error) {
	if len(msgs) == 0 {
		return nil, nil
	}
	if len(msgs) == 1 || msgs[0].DedupID != "" {
		id, err := b.Send(ctx, msgs[0])
		if err != nil {
			return nil, err
		}
		ids, err := b.SendBatch(ctx, msgs[1:])
		return append([]ID{id}, ids...), err
	}
	bt := b.q.NewBatch()
	defer bt.Close()
	for _, m := range msgs {
		if err := bt.AddWith(m.Body, sendOptions(m)); err != nil {
			ids, _ := bt.Commit()
			return ids, err
		}
	}
	return bt.Commit()
}

// sendOptions are the SendOptions of m.
func sendOptions(m queue.Message) SendOptions {
	return SendOptions{Due: m.Due, Expires: m.Expires, Headers: m.Headers,
		Priority: m.Priority, Group: m.Group, DedupID: m.DedupID}
}

// Stat counts the queue's messages (see [Queue.Stat]).
func (b *backendQueue) Stat(context.Context) (Stats, error) { return b.q.Stat() }

// DeadLetters lists dlq/, oldest first.
func (b *backendQueue) DeadLetters(context.Context) ([]queue.DeadLetter, error) {
	dead, err := b.q.DeadLetters()
	if err != nil {
		return nil, err
	}
	out := make([]queue.DeadLetter, len(dead))
	for i, d := range dead {
		out[i] = queue.DeadLetter{ID: d.Name.ID, Size: d.Size, Headers: d.Headers, Reason: d.Reason,
			Open: func() (io.ReadCloser, error) { return os.Open(d.Path) }}
	}
	return out, nil
}

// NewReceiver returns a receiver of an existing queue: an error matching
// ErrNoQueue when it does not exist, and one matching ErrNetworkFS when it
// is on a network file system (see [Queue.CheckNetworkFS]).
func (b *backendQueue) NewReceiver(context.Context) (queue.Receiver, error) {
	if err := b.q.Check(); err != nil {
		return nil, err
	}
	if err := b.q.CheckNetworkFS(); err != nil {
		return nil, err
	}
	return &backendReceiver{r: b.q.NewReceiver()}, nil
}

// AckAll acks claims with one fsync; each must be a *Claim of this queue.
func (b *backendQueue) AckAll(claims []queue.Claim) error {
	cs := make([]*Claim, len(claims))
	for i, c := range claims {
		cs[i] = c.(*Claim)
	}
	return b.q.Ack(cs...)
}

// backendReceiver is a Receiver behind the queue.Receiver interface.
type backendReceiver struct{ r *Receiver }

// Claim claims the next message, waiting for one with wait.
func (b *backendReceiver) Claim(ctx context.Context, wait bool) (queue.Claim, error) {
	for {
		c, err := b.r.Claim()
		if err == nil {
			return c, nil
		}
		if !wait || !errors.Is(err, ErrEmpty) {
			return nil, err
		}
		if err := b.r.Wait(ctx); err != nil {
			return nil, err
		}
	}
}

// Close ends the receiver (see [Receiver.Close]).
func (b *backendReceiver) Close() error { return b.r.Close() }

// Wait waits until a message may be ready (see [Receiver.Wait]), so that a
// worker can wait between claims.
func (b *backendReceiver) Wait(ctx context.Context) error { return b.r.Wait(ctx) }

// Remove deletes messages by ID (see [Queue.Remove]).
func (b *backendQueue) Remove(_ context.Context, ids ...ID) (Removal, error) {
	return b.q.Remove(ids...)
}

// Purge deletes messages by state (see [Queue.Purge]).
func (b *backendQueue) Purge(_ context.Context, states []State, progress func(removed, held int)) (Removal, error) {
	return b.q.Purge(PurgeOptions{States: states, Progress: progress})
}

// Redrive puts dead letters back (see [Queue.Redrive]); they keep their
// IDs.
func (b *backendQueue) Redrive(_ context.Context, ids ...ID) ([]ID, error) {
	return b.q.Redrive(ids...)
}

// Held lists the claims that live consumers hold (see
// [Queue.HeldClaims]).
func (b *backendQueue) Held(context.Context) ([]ID, error) { return b.q.HeldClaims() }

// Delete deletes the queue (see [Queue.Delete]).
func (b *backendQueue) Delete(_ context.Context, force bool) error { return b.q.Delete(force) }

// Summarize summarizes the queue (see [Queue.Summarize]).
func (b *backendQueue) Summarize(_ context.Context, since time.Time) (Summary, error) {
	return b.q.Summarize(since)
}

// Pause pauses the queue (see [Queue.Pause]).
func (b *backendQueue) Pause(context.Context) error { return b.q.Pause() }

// Resume ends a pause (see [Queue.Resume]).
func (b *backendQueue) Resume(context.Context) error { return b.q.Resume() }

// Extend does nothing: a spool claim lives as long as its lock, which is
// as long as the claimer's process holds the claim's file open.
func (c *Claim) Extend(context.Context) error { return nil }

// Ack acks the claim alone (see [Queue.Ack]).
func (c *Claim) Ack() error { return c.q.Ack(c) }

// Ensure the adapters keep to the interfaces.
var (
	_ queue.Backend     = (*Backend)(nil)
	_ queue.Lister      = (*Backend)(nil)
	_ queue.Remover     = (*backendQueue)(nil)
	_ queue.Redriver    = (*backendQueue)(nil)
	_ queue.Pauser      = (*backendQueue)(nil)
	_ queue.Deleter     = (*backendQueue)(nil)
	_ queue.Purger      = (*backendQueue)(nil)
	_ queue.Summarizer  = (*backendQueue)(nil)
	_ queue.Recoverer   = (*backendQueue)(nil)
	_ queue.BatchAcker  = (*backendQueue)(nil)
	_ queue.BatchSender = (*backendQueue)(nil)
	_ queue.DedupSender = (*backendQueue)(nil)
	_ queue.Claim       = (*Claim)(nil)
	_ queue.Waiter      = (*backendReceiver)(nil)
)
