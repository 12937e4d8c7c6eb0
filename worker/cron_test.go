package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"pq/spool"
)

// TestMaxTimeStopsClaiming: once MaxTime has passed the worker claims
// nothing more, and the handler that runs finishes and is acked.
func TestMaxTimeStopsClaiming(t *testing.T) {
	q := newQueue(t)
	send(t, q, "a", "b", "c")
	var runs atomic.Int32
	h := func(ctx context.Context, m *Message) error {
		runs.Add(1)
		time.Sleep(150 * time.Millisecond) // past MaxTime
		return ctx.Err()
	}
	o := Options{MaxAttempts: 1, MaxTime: 50 * time.Millisecond}
	w, err := New(q.Queue(), h, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := runBounded(t, t.Context(), w); err != nil {
		t.Fatal(err)
	}
	if n := runs.Load(); n != 1 {
		t.Errorf("the handler ran %d times, want once", n)
	}
	if s := stat(t, q); s != (spool.Stats{Ready: 2}) {
		t.Errorf("the queue holds %+v, want the first acked and two ready", s)
	}
}

// TestSlotsCapHandlersAcrossWorkers: two workers of three jobs each,
// sharing one slot, never run two handlers at once, and between them
// handle every message.
func TestSlotsCapHandlersAcrossWorkers(t *testing.T) {
	q := newQueue(t)
	send(t, q, "1", "2", "3", "4", "5", "6")
	var running, most, done atomic.Int32
	h := func(context.Context, *Message) error {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		done.Add(1)
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), testLimit)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		slots, err := q.Slots(1)
		if err != nil {
			t.Fatal(err)
		}
		w, err := New(q.Queue(), h, Options{Jobs: 3, MaxAttempts: 1, Slots: slots})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.Run(ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("the workers did not end within %v", testLimit)
	}
	if m := most.Load(); m != 1 {
		t.Errorf("%d handlers ran at once, want 1", m)
	}
	if d := done.Load(); d != 6 {
		t.Errorf("%d messages handled, want 6", d)
	}
}

// TestWaitingWorkerWaitsForASlot: with Wait, a worker that finds every
// slot taken waits for one, and runs the handler once it is freed.
func TestWaitingWorkerWaitsForASlot(t *testing.T) {
	q := newQueue(t)
	send(t, q, "a")
	slots, err := q.Slots(1)
	if err != nil {
		t.Fatal(err)
	}
	held, err := slots.Take() // another worker's job
	if err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{}, 1)
	h := func(context.Context, *Message) error { ran <- struct{}{}; return nil }
	w, err := New(q.Queue(), h, Options{MaxAttempts: 1, Wait: true, Slots: slots})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testLimit)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- w.Run(ctx) }()
	select {
	case <-ran:
		t.Fatal("the handler ran while every slot was taken")
	case <-time.After(50 * time.Millisecond):
	}
	held.Release()
	select {
	case <-ran:
	case <-ctx.Done():
		t.Fatal("the handler did not run once the slot was freed")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}
