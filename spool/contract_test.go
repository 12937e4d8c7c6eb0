package spool_test

import (
	"testing"

	"pq/queue"
	"pq/queue/queuetest"
	"pq/spool"
)

// The spool keeps the contract of every backend.
func TestSpoolKeepsTheQueueContract(t *testing.T) {
	queuetest.Run(t, queuetest.Harness{
		New: func(t *testing.T) queue.Queue {
			q, err := spool.Open(t.TempDir(), "contract", spool.Options{})
			if err != nil {
				t.Fatal(err)
			}
			return q.Queue()
		},
		// A dead claimer's lock goes with its process: closing the
		// claim's file is what the kernel does then.
		Vanish: func(t *testing.T, c queue.Claim) { c.(*spool.Claim).File().Close() },
	})
}
