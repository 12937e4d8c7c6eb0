package jetstream

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// TestKilledOnLastAttempt: a worker that dies on the message's last
// delivery leaves it in the queue's stream, where the server never
// delivers it again; the advisory it publishes is swept, and the message
// ends in the dead-letter stream.
func TestKilledOnLastAttempt(t *testing.T) {
	q := newQueue(t, "q", InitOptions{AckWait: time.Second, MaxDeliver: 2})
	advisories := make(chan *nats.Msg, 4)
	sub, err := q.b.nc.ChanSubscribe(advisorySubject("q"), advisories)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	id := send(t, q, "doomed")
	r := receiver(t, q)
	if err := claim(t, r).Release(); err != nil {
		t.Fatal(err)
	}
	c := claim(t, r)
	if c.Attempt() != 2 {
		t.Fatalf("attempt = %d, want 2", c.Attempt())
	}
	// The worker is killed: nobody acks, extends or dead-letters c. The
	// server gives up on the message when a receiver pulls after the
	// last delivery's ack wait, and publishes the advisory.
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		if c, err := r.Claim(ctx, true); err == nil {
			t.Errorf("claimed %s attempt %d, past the delivery limit", c.ID(), c.Attempt())
		}
	}()
	select {
	case <-advisories:
	case <-ctx.Done():
		t.Fatal("no max-deliveries advisory")
	}
	cancel()
	<-done
	// A receiver sweeps by itself when it claims, if that one did not.
	wantEmpty(t, receiver(t, q))
	ds := deadLetters(t, q)
	if len(ds) != 1 {
		t.Fatalf("%d dead letters, want 1", len(ds))
	}
	d := ds[0]
	if d.ID != id || string(d.Body) != "doomed" || d.Reason.Cause != CauseTooManyAttempts || d.Reason.Attempts != 2 {
		t.Errorf("dead letter = %+v; want %s, doomed, too many attempts after 2", d, id)
	}
	for e, err := range q.Messages(testCtx(t)) {
		t.Errorf("left in the queue: %+v, %v", e, err)
	}
	// A late ack of the killed claim changes nothing.
	c.Ack()
	if n := len(deadLetters(t, q)); n != 1 {
		t.Errorf("%d dead letters after a late ack, want 1", n)
	}
}

// TestSweepTwice: two sweepers of one advisory make one dead letter.
func TestSweepTwice(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	send(t, q, "x")
	a := maxDeliveries{StreamSeq: 1, Deliveries: 5}
	var wg sync.WaitGroup
	moved := make([]bool, 2)
	for i := range moved {
		wg.Go(func() {
			ok, err := q.sweepOne(testCtx(t), a)
			if err != nil {
				t.Error(err)
			}
			moved[i] = ok
		})
	}
	wg.Wait()
	if !moved[0] && !moved[1] {
		t.Error("neither sweeper moved the message")
	}
	if n := len(deadLetters(t, q)); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
	if ok, err := q.sweepOne(testCtx(t), a); ok || err != nil {
		t.Errorf("a third sweep = %v, %v; want nothing done", ok, err)
	}
}

// TestDeadLetterTwice: a claimer that dead-letters a message and dies
// before terminating it makes, with the next claimer that dead-letters
// it, one dead letter.
func TestDeadLetterTwice(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	send(t, q, "x")
	c := claim(t, receiver(t, q)).(*Claim)
	for range 2 {
		if err := q.publishDead(testCtx(t), 1, c.meta.Timestamp, c.m.Headers(), c.m.Data(), getReason(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(deadLetters(t, q)); n != 1 {
		t.Errorf("%d dead letters, want 1", n)
	}
}
