package jetstream

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"pq/jetstream/natstest"
	"pq/queue"
	"pq/queue/queuetest"
)

// A NATS queue keeps the contract of every backend, with an ack wait of
// a second so that a vanished claimer's message comes back soon.
func TestJetStreamKeepsTheQueueContract(t *testing.T) {
	s := natstest.Start(t)
	b := dial(t, s.URL())
	var n atomic.Int64
	queuetest.Run(t, queuetest.Harness{
		New: func(t *testing.T) queue.Queue {
			name := fmt.Sprintf("contract.%d", n.Add(1))
			if err := b.Init(testCtx(t), name, InitOptions{AckWait: time.Second, DedupWindow: time.Minute}); err != nil {
				t.Fatal(err)
			}
			q, err := b.Queue(name)
			if err != nil {
				t.Fatal(err)
			}
			return q
		},
		// A claimer that died neither acks nor extends: its claim lapses
		// when the ack wait ends.
		Vanish: func(*testing.T, queue.Claim) {},
	})
}
