package jetstream

import (
	"context"
	"testing"
	"time"
)

// A paused queue hands out nothing, to a receiver that waits too, until it
// is resumed; then the waiting receiver gets the message at once.
func TestAPausedQueueHandsOutNothingUntilResumed(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	send(t, q, "held")
	if err := q.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if p, err := q.Paused(ctx); err != nil || !p {
		t.Fatalf("Paused: %v, %v", p, err)
	}
	r := receiver(t, q)
	wantEmpty(t, r)
	got := make(chan string, 1)
	go func() {
		c, err := r.Claim(ctx, true)
		if err != nil {
			got <- err.Error()
			return
		}
		got <- body(t, c)
		c.Ack()
	}()
	wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	select {
	case b := <-got:
		t.Fatalf("a waiting receiver got %q from a paused queue", b)
	case <-wctx.Done(): // nothing for half a second: time is what is tested
	}
	if err := q.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if b := <-got; b != "held" {
		t.Errorf("after the resume: %q", b)
	}
}
