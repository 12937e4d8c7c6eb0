package worker

import (
	"time"

	"pq/queue"
)

// ackBatch is the most claims acked with one fsync.
const ackBatch = 256

// ackWindow is how long the acker gathers finished claims before it acks
// them with one fsync. An ack that waits is no risk: until it is durable, a
// crash can only deliver the message again.
var ackWindow = 10 * time.Millisecond

// finished is a claim whose handler succeeded, and how long it ran.
type finished struct {
	c    queue.Claim
	took time.Duration
}

// acker acks finished claims in groups: the first one opens a window of
// ackWindow, and everything that finished by its end, up to ackBatch, is
// acked with one fsync of cur/. It sends the first error to ackErr when
// acks is closed.
func (w *Worker) acker() {
	var first error
	for f := range w.acks {
		batch := []finished{f}
		window := time.NewTimer(ackWindow)
	more:
		for len(batch) < ackBatch {
			select {
			case f, ok := <-w.acks:
				if !ok {
					break more
				}
				batch = append(batch, f)
			case <-window.C:
				break more
			}
		}
		window.Stop()
		claims := make([]queue.Claim, len(batch))
		for i, f := range batch {
			claims[i] = f.c
		}
		err := queue.AckAll(w.q, claims)
		if err != nil && first == nil {
			first = err
		}
		for _, f := range batch {
			if err == nil {
				w.settled(Result{ID: f.c.ID(), Attempt: f.c.Attempt(), Duration: f.took, Outcome: Acked}, false)
			}
		}
		w.unacked.Add(-int64(len(batch)))
		select {
		case w.done <- struct{}{}: // acked: their groups go on
		default:
		}
	}
	w.ackErr <- first
}
