package jetstream

import (
	"errors"
	"testing"

	"pq/queue"
)

// Deleting a queue removes its streams: it is no queue any more, and a
// new send makes a new, empty one.
func TestADeletedQueueIsGone(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	send(t, q, "gone")
	if err := claim(t, receiver(t, q)).DeadLetter(queue.Reason{Cause: "x"}); err != nil {
		t.Fatal(err)
	}
	send(t, q, "gone too")
	if err := q.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Stat(ctx); !errors.Is(err, queue.ErrNoQueue) {
		t.Fatalf("stat of a deleted queue: %v, want ErrNoQueue", err)
	}
	if names, err := q.b.Queues(ctx); err != nil || len(names) != 0 {
		t.Fatalf("queues after the delete: %v, %v", names, err)
	}
	send(t, q, "new")
	if s, err := q.Stat(ctx); err != nil || s.Ready != 1 || s.Dead != 0 {
		t.Errorf("the queue made again: %+v, %v; want one ready message and no dead letter", s, err)
	}
}
