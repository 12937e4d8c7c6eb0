package spool

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestDeleteRefusesHeldClaimsUnlessForced(t *testing.T) {
	q, _ := seeingQueue(t) // holds a live claim
	held, err := q.HeldClaims()
	if err != nil || len(held) != 1 {
		t.Fatalf("held claims: %v, %v; want one", held, err)
	}
	err = q.Delete(false)
	var he *HeldError
	if !errors.As(err, &he) || !errors.Is(err, ErrHeld) || !slices.Equal(he.IDs, held) {
		t.Fatalf("delete with a held claim: %v, want a HeldError naming %v", err, held)
	}
	if err := q.Check(); err != nil {
		t.Fatalf("the refused delete touched the queue: %v", err)
	}
	if p, _ := q.Paused(); p {
		t.Error("the refused delete left the queue paused")
	}
	if err := q.Delete(true); err != nil {
		t.Fatalf("forced delete: %v", err)
	}
	root := filepath.Dir(q.dir)
	if err := q.Check(); !errors.Is(err, ErrNoQueue) {
		t.Errorf("after the delete: %v, want ErrNoQueue", err)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 0 {
		t.Errorf("left in the spool root: %v", ents)
	}
	// The name is free for a new queue.
	if err := q.Create(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Send(strings.NewReader("again")); err != nil {
		t.Fatal(err)
	}
}

func TestDeleteOfAPausedQueueWithoutClaims(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	deadClaim(t, q, "a dead claim does not hold the queue")
	if err := q.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := q.Delete(false); err != nil {
		t.Fatal(err)
	}
	if qs, err := Queues(filepath.Dir(q.dir)); err != nil || len(qs) != 0 {
		t.Errorf("queues after the delete: %v, %v", qs, err)
	}
	if err := q.Delete(false); !errors.Is(err, ErrNoQueue) {
		t.Errorf("second delete: %v, want ErrNoQueue", err)
	}
}
