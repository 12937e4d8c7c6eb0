package jetstream

import (
	"bytes"
	"errors"
	"testing"

	"pq/queue"
)

// pq retry on NATS: a dead letter goes back into the queue as a new
// message with its body and headers, and leaves the dead-letter stream; an
// ID that is no dead letter moves nothing.
func TestRedriveSendsDeadLettersBackAsNewMessages(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	first := send(t, q, "one", queue.Header{Key: "k", Value: "v"})
	send(t, q, "two")
	r := receiver(t, q)
	for range 2 {
		if err := claim(t, r).DeadLetter(queue.Reason{Cause: "exit status 1"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Redrive(ctx, first, "999"); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("redrive of an unknown ID: %v, want ErrNoMessage", err)
	}
	if n := len(deadLetters(t, q)); n != 2 {
		t.Fatalf("a failed redrive left %d dead letters, want 2", n)
	}
	ids, err := q.Redrive(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] == first {
		t.Fatalf("redrive gave %v, want one new ID", ids)
	}
	c := claim(t, r)
	hs, _ := c.Headers()
	if c.ID() != ids[0] || body(t, c) != "one" || len(hs) != 1 || hs[0].Value != "v" || c.Attempt() != 1 {
		t.Errorf("redriven message %s %q %v attempt %d", c.ID(), body(t, c), hs, c.Attempt())
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	if dead := deadLetters(t, q); len(dead) != 1 || string(dead[0].Body) != "two" {
		t.Errorf("dead letters after the redrive: %v", dead)
	}
}

// A retry that died between sending a dead letter back and removing it
// from the dead letters sends it once when run again: the send carries a
// dedup ID made of the dead letter's sequence.
func TestARedriveRunAgainSendsOnce(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	send(t, q, "once")
	if err := claim(t, receiver(t, q)).DeadLetter(queue.Reason{Cause: "x"}); err != nil {
		t.Fatal(err)
	}
	d := deadLetters(t, q)[0]
	// What the first run sent before it died.
	if _, err := q.Send(ctx, queue.Message{Body: bytes.NewReader(d.Body), DedupID: redriveID(d)}); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Redrive(ctx); err != nil {
		t.Fatal(err)
	}
	if s, err := q.Stat(ctx); err != nil || s.Ready != 1 || s.Dead != 0 {
		t.Errorf("after the redrive run again: %+v, %v; want one ready message and no dead letter", s, err)
	}
}
