package spool

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// limited returns a queue with the capacity settings given.
func limited(t *testing.T, kv map[string]string) *Queue {
	t.Helper()
	q := newQueue(t, Options{NoSync: true})
	if err := q.Set(kv); err != nil {
		t.Fatal(err)
	}
	return q
}

// A queue with max_messages takes that many and refuses the next with
// ErrFull until one leaves: acked or dead-lettered.
func TestMaxMessagesRefusesSendsWhileFull(t *testing.T) {
	q := limited(t, map[string]string{"max_messages": "3"})
	for i := range 3 {
		if _, err := q.Send(strings.NewReader("x")); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
	}
	if _, err := q.Send(strings.NewReader("x")); !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "max_messages") {
		t.Fatalf("fourth send: %v, want ErrFull naming max_messages", err)
	}
	r := q.NewReceiver()
	receiveBody(t, r)
	if _, err := q.Send(strings.NewReader("x")); err != nil {
		t.Fatalf("send after an ack: %v", err)
	}
	c, _ := r.Claim()
	c.DeadLetter(Reason{Cause: "test"})
	if _, err := q.Send(strings.NewReader("x")); err != nil {
		t.Fatalf("send after a dead letter: %v", err)
	}
	if c, _ := q.Counts(); c.Messages != 3 {
		t.Fatalf("counts %+v, want 3 messages", c)
	}
}

// A batch counts what it holds: it takes what fits and refuses the rest.
func TestABatchStopsAtMaxMessages(t *testing.T) {
	q := limited(t, map[string]string{"max_messages": "3"})
	b := q.NewBatch()
	defer b.Close()
	n := 0
	var err error
	for ; n < 5; n++ {
		if err = b.Add(strings.NewReader("x")); err != nil {
			break
		}
	}
	if n != 3 || !errors.Is(err, ErrFull) {
		t.Fatalf("added %d, then %v; want 3, then ErrFull", n, err)
	}
	if ids, err := b.Commit(); err != nil || len(ids) != 3 {
		t.Fatalf("commit: %d, %v", len(ids), err)
	}
}

// max_bytes counts bodies: a message that would pass it is refused after
// it was written, and nothing of it is left.
func TestMaxBytesRefusesTheMessageThatWouldPassIt(t *testing.T) {
	q := limited(t, map[string]string{"max_bytes": "10"})
	for range 2 {
		if _, err := q.Send(strings.NewReader("12345")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Send(strings.NewReader("1")); !errors.Is(err, ErrFull) || !strings.Contains(err.Error(), "max_bytes") {
		t.Fatalf("send past max_bytes: %v, want ErrFull naming max_bytes", err)
	}
	if ents, _ := os.ReadDir(q.tmp); len(ents) != 0 {
		t.Errorf("tmp/ holds %d files", len(ents))
	}
}

// The counts follow every change the queue's parties make: sends, claims,
// retries, acks, dead letters, redrives and moves; Recount finds the same.
func TestCountsFollowEveryChange(t *testing.T) {
	q := limited(t, map[string]string{"max_messages": "1000"})
	other := newQueue(t, Options{NoSync: true})
	other.Set(map[string]string{"max_messages": "1000"})
	b := q.NewBatch()
	for range 20 {
		b.Add(strings.NewReader("body"))
	}
	if _, err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	a := q.NewAtomicBatch()
	a.Add(strings.NewReader("a1"))
	a.Add(strings.NewReader("a2"))
	if _, err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	r := q.NewReceiver()
	for i := range 12 {
		c, err := r.Claim()
		if err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 0:
			q.Ack(c)
		case 1:
			c.Retry(0)
		case 2:
			c.DeadLetter(Reason{Cause: "test"})
		case 3:
			if _, err := c.MoveTo(other); err != nil {
				t.Fatal(err)
			}
			q.Ack(c)
		}
	}
	q.Redrive()
	for _, qq := range []*Queue{q, other} {
		kept, _ := qq.Counts()
		real, err := qq.Recount()
		if err != nil || kept != real {
			t.Errorf("%s: counts kept %+v, counted afresh %+v, %v", qq.name, kept, real, err)
		}
	}
	if c, _ := other.Counts(); c.Messages != 3 {
		t.Errorf("the queue moved to holds %+v, want 3 messages", c)
	}
}

// Recount sets drifted counts right, and without a limit removes them.
func TestRecountSetsCountsRight(t *testing.T) {
	q := limited(t, map[string]string{"max_messages": "10"})
	q.Send(strings.NewReader("abc"))
	os.WriteFile(filepath.Join(q.dir, countName), []byte("garbage, garbage!"), 0o600)
	if c, err := q.Recount(); err != nil || c != (Counts{1, 3}) {
		t.Fatalf("Recount() = %+v, %v; want 1 message of 3 bytes", c, err)
	}
	q.Set(map[string]string{"max_messages": "0"})
	if _, ok := q.Counts(); ok {
		t.Fatal("counts kept without a limit")
	}
}
