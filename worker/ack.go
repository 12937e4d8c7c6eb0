package worker

import (
	"time"

	"pq/spool"
)

// ackBatch is the most claims acked with one fsync.
const ackBatch = 256

// ackWindow is how long the acker gathers finished claims before it acks
// them with one fsync. An ack that waits is no risk: until it is durable, a
// crash can only deliver the message again.
var ackWindow = 10 * time.Millisecond

// acker acks finished claims in groups: the first one opens a window of
// ackWindow, and everything that finished by its end, up to ackBatch, is
// acked with one fsync of cur/. It sends the first error to ackErr when
// acks is closed.
func (w *Worker) acker() {
	var first error
	for c := range w.acks {
		batch := []*spool.Claim{c}
		window := time.NewTimer(ackWindow)
	more:
		for len(batch) < ackBatch {
			select {
			case c, ok := <-w.acks:
				if !ok {
					break more
				}
				batch = append(batch, c)
			case <-window.C:
				break more
			}
		}
		window.Stop()
		if err := w.q.Ack(batch...); err != nil && first == nil {
			first = err
		}
		w.unacked.Add(-int64(len(batch)))
		select {
		case w.done <- struct{}{}: // acked: their groups go on
		default:
		}
	}
	w.ackErr <- first
}
