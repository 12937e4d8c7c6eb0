package jetstream

import (
	"errors"
	"slices"
	"testing"

	"pq/queue"
)

func TestRedrive(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	hs := []queue.Header{{Key: "k", Value: "v"}}
	send(t, q, "a", hs...)
	send(t, q, "b")
	r := receiver(t, q)
	for range 2 {
		c := claim(t, r)
		c.Retry(0)
		if err := claim(t, r).DeadLetter(queue.Reason{Cause: "boom"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Redrive(testCtx(t), "1", "77"); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Redrive of an unknown ID = %v, want ErrNoMessage", err)
	}
	if n := len(deadLetters(t, q)); n != 2 {
		t.Fatalf("%d dead letters after a refused redrive, want 2", n)
	}
	ids, err := q.Redrive(testCtx(t), "1")
	if err != nil || len(ids) != 1 {
		t.Fatalf("Redrive(1) = %v, %v", ids, err)
	}
	c := claim(t, r)
	got, _ := c.Headers()
	if c.ID() != ids[0] || body(t, c) != "a" || c.Attempt() != 1 || !slices.Equal(got, hs) {
		t.Errorf("redriven message %s %q attempt %d headers %q", c.ID(), body(t, c), c.Attempt(), got)
	}
	if ds := deadLetters(t, q); len(ds) != 1 || ds[0].ID != "2" {
		t.Errorf("dead letters after redriving 1: %+v", ds)
	}
}

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
