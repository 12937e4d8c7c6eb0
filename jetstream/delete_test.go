package jetstream

import (
	"errors"
	"testing"

	"pq/queue"
)

// Deleting a queue removes its streams: it is no queue any more, and a
// new send makes a new, empty one. Unless forced, a queue with a message
// in flight is not deleted.
func TestADeletedQueueIsGone(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	send(t, q, "gone")
	if err := claim(t, receiver(t, q)).DeadLetter(queue.Reason{Cause: "x"}); err != nil {
		t.Fatal(err)
	}
	send(t, q, "gone too")
	send(t, q, "held")
	claim(t, receiver(t, q)) // "gone too", held
	if held, err := q.Held(ctx); err != nil || len(held) != 1 {
		t.Fatalf("Held: %v, %v; want one", held, err)
	}
	if err := q.Delete(ctx, false); !errors.Is(err, queue.ErrHeld) {
		t.Fatalf("delete while a claim is held: %v, want ErrHeld", err)
	}
	if err := q.Delete(ctx, true); err != nil {
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

// pq rm on NATS deletes ready messages and dead letters by ID, leaves one
// in flight alone, and names what it did not find; pq purge empties what
// is ready and dead, and leaves what is in flight.
func TestRemoveAndPurgeLeaveWhatIsInFlight(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	dead, held := send(t, q, "dead"), send(t, q, "held")
	ready := send(t, q, "ready")
	kept := send(t, q, "kept")
	r := receiver(t, q)
	if err := claim(t, r).DeadLetter(queue.Reason{Cause: "x"}); err != nil {
		t.Fatal(err)
	}
	c := claim(t, r) // held, in flight
	got, err := q.Remove(ctx, dead, held, ready, "99")
	if err != nil {
		t.Fatal(err)
	}
	if got.Removed != 2 || len(got.Held) != 1 || got.Held[0] != held || len(got.Missing) != 1 || got.Missing[0] != "99" {
		t.Fatalf("Remove: %+v; want 2 removed, %s held, 99 missing", got, held)
	}
	send(t, q, "ready again")
	if c := claim(t, r); c.ID() != kept {
		t.Fatalf("claimed %s, want %s", c.ID(), kept)
	} else if err := c.DeadLetter(queue.Reason{Cause: "y"}); err != nil {
		t.Fatal(err)
	}
	got, err = q.Purge(ctx, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got.Removed != 2 || len(got.Held) != 1 {
		t.Errorf("Purge: %+v; want the ready one and the dead letter removed, one held", got)
	}
	if err := c.Ack(); err != nil {
		t.Errorf("the claim held through the purge: %v", err)
	}
	if s, err := q.Stat(ctx); err != nil || s.Ready+s.Claimed+s.Dead != 0 {
		t.Errorf("after all: %+v, %v", s, err)
	}
}
