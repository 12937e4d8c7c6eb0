package spool

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestPausedQueueTakesSendsAndGivesNothingUntilResumed(t *testing.T) {
	q := newQueue(t, Options{})
	if _, err := q.Send(strings.NewReader("claimed before")); err != nil {
		t.Fatal(err)
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // pausing twice is pausing once
		if err := q.Pause(); err != nil {
			t.Fatal(err)
		}
	}
	id, err := q.Send(strings.NewReader("sent while paused"))
	if err != nil {
		t.Fatalf("send to a paused queue: %v", err)
	}
	r := q.NewReceiver()
	if _, err := r.Claim(); !errors.Is(err, ErrPaused) || !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim from a paused queue: %v, want ErrPaused and ErrEmpty", err)
	}
	if s, err := q.Summarize(time.Time{}); err != nil || !s.Paused || s.Ready != 1 || s.Inflight != 1 {
		t.Errorf("summary of the paused queue: %+v, %v; want paused, 1 ready, 1 in flight", s, err)
	}
	// The claim held across the pause goes on and ends as usual.
	if err := q.Ack(c); err != nil {
		t.Errorf("ack of a claim held across the pause: %v", err)
	}
	// The pause is a file, and survives this process: another Queue of
	// the same directory sees it.
	q2, _ := Open(filepath.Dir(q.dir), q.name, Options{})
	if p, err := q2.Paused(); err != nil || !p {
		t.Errorf("Paused() of a second Queue: %v, %v", p, err)
	}
	for range 2 {
		if err := q.Resume(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := r.Claim()
	if err != nil || got.ID() != id {
		t.Fatalf("claim after the resume: %v, %v; want %s", got, err, id)
	}
	q.Ack(got)
	if s, _ := q.Summarize(time.Time{}); s.Paused {
		t.Error("still paused after the resume")
	}
}

// TestWaitingReceiverIsHeldByAPauseAndWokenByTheResume runs a receiver
// that claims and waits as a worker does. Paused, it looks at a message
// sent to it and leaves it; resumed, it takes it at once, woken by
// inotify: the polls are set far beyond the test's bound.
func TestWaitingReceiverIsHeldByAPauseAndWokenByTheResume(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	defer func(p, r time.Duration) { pollEvery, recoverEvery = p, r }(pollEvery, recoverEvery)
	pollEvery, recoverEvery = time.Hour, time.Hour
	if err := q.Pause(); err != nil {
		t.Fatal(err)
	}
	looked := make(chan struct{}, 100)
	hooks = func(point, _ string) {
		if point == "claim-paused" {
			looked <- struct{}{}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan ID, 1)
	done := make(chan error, 1)
	go func() {
		r := q.NewReceiver()
		defer r.Close()
		for {
			c, err := r.Claim()
			if errors.Is(err, ErrEmpty) {
				if err := r.Wait(ctx); err != nil {
					done <- nil
					return
				}
				continue
			}
			if err != nil {
				done <- err
				return
			}
			got <- c.ID()
			q.Ack(c)
		}
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
		hooks = nil
	}()
	await(t, looked, "the receiver's first look")
	await(t, looked, "its look after setting up its watch")
	id, err := q.Send(strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	await(t, looked, "its look at the message sent while paused")
	select {
	case c := <-got:
		t.Fatalf("the paused queue gave %s", c)
	default:
	}
	if err := q.Resume(); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-got:
		if c != id {
			t.Errorf("took %s, want %s", c, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver did not take the message within 10s of the resume")
	}
}

// await waits up to 10 seconds for a value on ch.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("no sign within 10s of %s", what)
	}
}
