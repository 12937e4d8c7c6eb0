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

// A summary tells what pq stat shows: the counts, the bytes, the oldest
// ready message, the replicas, a pause, and with since the sends since
// the backend's last summary of the queue.
func TestSummarizeCountsSendsBetweenSummaries(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	send(t, q, "one")
	first, err := q.Summarize(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Ready != 1 || first.Replicas != 1 || first.Bytes == 0 || first.OldestReady.IsZero() || first.Paused {
		t.Errorf("first summary %+v", first)
	}
	send(t, q, "two")
	send(t, q, "three")
	if err := q.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	next, err := q.Summarize(ctx, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if next.SentAfter != 2 || next.Ready != 3 || !next.Paused {
		t.Errorf("second summary %+v, want 2 sent since the first, 3 ready, paused", next)
	}
}
