package spool

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSlotsCapHolders(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	s, err := q.Slots(2)
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Take()
	if err != nil {
		t.Fatal(err)
	}
	// Another Slots, as another process would have: the same files.
	s2, err := q.Slots(2)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s2.Take()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Take(); !errors.Is(err, ErrNoSlot) {
		t.Fatalf("a third Take of two slots = %v, want ErrNoSlot", err)
	}
	// Wait wakes up when a holder lets go (or dies: the kernel closes
	// its descriptors the same way).
	got := make(chan error, 1)
	go func() {
		sl, err := s.Wait(context.Background())
		sl.Release()
		got <- err
	}()
	if err := a.Release(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("Wait = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not take the slot released")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, _ := s.Take()
	if _, err := s.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait with every slot taken and ctx done = %v, want context.Canceled", err)
	}
	b.Release()
	c.Release()
	if _, err := q.Slots(0); err == nil {
		t.Error("Slots(0) succeeded")
	}
}
