package spool

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDeadLetterKeepsTheBodyAndSaysWhy(t *testing.T) {
	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("bad\x00input"))
	c, _ := q.NewReceiver().Claim()
	err := c.DeadLetter(Reason{Cause: "exit status 3", Stderr: "parse error\nline 2\n"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("a dead letter was delivered: %v", err)
	}
	dead, err := q.DeadLetters()
	if err != nil || len(dead) != 1 {
		t.Fatalf("DeadLetters() = %v, %v", dead, err)
	}
	d := dead[0]
	body, _ := os.ReadFile(d.Path)
	switch {
	case d.Name.ID != id || d.Name.Attempts != 1:
		t.Errorf("name %v, want %s with 1 attempt", d.Name, id)
	case string(body) != "bad\x00input":
		t.Errorf("body %q", body)
	case d.Reason.Cause != "exit status 3" || d.Reason.Attempts != 1 || d.Reason.Stderr != "parse error\nline 2\n":
		t.Errorf("reason %+v", d.Reason)
	case time.Since(d.Reason.Time) > time.Hour || d.Reason.Time.After(time.Now()):
		t.Errorf("reason time %v", d.Reason.Time)
	}
}

func TestRedriveResetsAttemptsAndKeepsOrder(t *testing.T) {
	q := newQueue(t, Options{})
	var ids []ID
	for _, b := range []string{"one", "two", "three"} {
		id, _ := q.Send(strings.NewReader(b))
		ids = append(ids, id)
	}
	// Dead-letter them in reverse order, after failed attempts.
	r := q.NewReceiver()
	var claims []*Claim
	for range ids {
		c, err := r.Claim()
		if err != nil {
			t.Fatal(err)
		}
		claims = append(claims, c)
	}
	for i := len(claims) - 1; i >= 0; i-- {
		claims[i].DeadLetter(Reason{Cause: "exit status 1"})
	}

	if _, err := q.Redrive("no-such-id"); !errors.Is(err, ErrNoMessage) {
		t.Fatalf("Redrive of an unknown id: %v", err)
	}
	moved, err := q.Redrive(ids[2])
	if err != nil || len(moved) != 1 {
		t.Fatalf("Redrive(%s) = %v, %v", ids[2], moved, err)
	}
	if moved, err = q.Redrive(); err != nil || len(moved) != 2 {
		t.Fatalf("Redrive() = %v, %v", moved, err)
	}
	r = q.NewReceiver()
	for i, want := range []string{"one", "two", "three"} {
		c, err := r.Claim()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(c.Body())
		if string(b) != want || c.Attempt() != 1 || c.ID() != ids[i] {
			t.Fatalf("got %q attempt %d, want %q attempt 1", b, c.Attempt(), want)
		}
		q.Ack(c)
	}
	assertEmptyDir(t, q.dlq)
}

func TestCleanTmpRemovesOnlyOldLeftovers(t *testing.T) {
	q := newQueue(t, Options{})
	old := filepath.Join(q.tmp, "crashed-sender")
	fresh := filepath.Join(q.tmp, "sending-now")
	os.WriteFile(old, []byte("half"), 0o600)
	os.WriteFile(fresh, []byte("half"), 0o600)
	long := time.Now().Add(-48 * time.Hour)
	os.Chtimes(old, long, long)

	removed, err := q.CleanTmp(36 * time.Hour)
	if err != nil || len(removed) != 1 || removed[0] != "crashed-sender" {
		t.Fatalf("CleanTmp = %v, %v", removed, err)
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Fatal("a fresh tmp file was removed")
	}
}

func TestWaitingReceiverRecoversADeadClaimWhenItsFileCloses(t *testing.T) {
	// Only the close of the dead consumer's descriptor can wake the
	// waiter in time: polling is pushed out of reach.
	savedPoll, savedRecover := pollEvery, recoverEvery
	pollEvery, recoverEvery = time.Hour, time.Hour
	t.Cleanup(func() { pollEvery, recoverEvery = savedPoll, savedRecover })

	q := newQueue(t, Options{})
	id, _ := q.Send(strings.NewReader("work"))
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	w := q.NewReceiver()
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.Wait(ctx); err != nil { // sets up the watches
		t.Fatal(err)
	}
	if _, err := w.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim while the message is held: %v", err)
	}
	c.f.Close() // the consumer dies

	for {
		if err := w.Wait(ctx); err != nil {
			t.Fatalf("the waiting receiver never saw the dead claim: %v", err)
		}
		got, err := w.Claim()
		if errors.Is(err, ErrEmpty) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if got.ID() != id || got.Attempt() != 2 {
			t.Fatalf("got %s attempt %d, want %s attempt 2", got.ID(), got.Attempt(), id)
		}
		return
	}
}
