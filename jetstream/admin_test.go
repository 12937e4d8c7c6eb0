package jetstream

import (
	"errors"
	"slices"
	"testing"

	"pq/queue"
)

func TestRemovePurgeDelete(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	for range 3 {
		send(t, q, "x")
	}
	if err := q.Remove(testCtx(t), "2", "9"); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Remove(2, 9) = %v, want ErrNoMessage for 9", err)
	}
	var left []queue.ID
	for e, err := range q.Messages(testCtx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		left = append(left, e.ID)
	}
	if !slices.Equal(left, []queue.ID{"1", "3"}) {
		t.Errorf("left after Remove(2): %q", left)
	}
	if err := q.Purge(testCtx(t), true); err != nil {
		t.Fatal(err)
	}
	wantEmpty(t, receiver(t, q))
	if err := q.b.Delete(testCtx(t), "q"); err != nil {
		t.Fatal(err)
	}
	if err := q.b.Delete(testCtx(t), "q"); !errors.Is(err, queue.ErrNoQueue) {
		t.Errorf("a second Delete = %v, want ErrNoQueue", err)
	}
	if names, err := q.b.Queues(testCtx(t)); err != nil || len(names) != 0 {
		t.Errorf("Queues after Delete = %q, %v", names, err)
	}
}
