package jetstream

import (
	"bytes"
	"context"
	"io"

	"pq/queue"
)

// DeadLetters lists the queue's dead letters, oldest first, bodies
// included (see [Queue.Dead] for an iterator).
func (q *Queue) DeadLetters(ctx context.Context) ([]queue.DeadLetter, error) {
	var out []queue.DeadLetter
	for d, err := range q.Dead(ctx) {
		if err != nil {
			return out, err
		}
		body := d.Body
		out = append(out, queue.DeadLetter{ID: d.ID, Size: int64(len(body)), Headers: d.Headers, Reason: d.Reason,
			Open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }})
	}
	return out, nil
}

// Size returns the body's size in bytes.
func (c *Claim) Size() int64 { return int64(len(c.m.Data())) }

// Create creates the queue with [DefaultInitOptions] if it does not
// exist, and changes nothing of a queue that exists (see [queue.Creator]).
func (q *Queue) Create(ctx context.Context) error { return q.ensure(ctx) }

var _ queue.Creator = (*Queue)(nil)

var (
	_ queue.Lister   = (*Backend)(nil)
	_ queue.Remover  = (*Queue)(nil)
	_ queue.Redriver = (*Queue)(nil)
	_ queue.Pauser   = (*Queue)(nil)
)
