package spool

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// sendAt sends body with priority p and fails the test on error.
func sendAt(t testing.TB, q *Queue, p int, body string) ID {
	t.Helper()
	id, err := q.SendWith(strings.NewReader(body), SendOptions{Priority: &p})
	if err != nil {
		t.Fatalf("send %q at priority %d: %v", body, p, err)
	}
	return id
}

// drain claims and acks every ready message with r, returning the bodies in
// the order they came.
func drain(t *testing.T, r *Receiver) []string {
	t.Helper()
	var got []string
	eachClaim(t, r, func(c *Claim) {
		got = append(got, readAll(t, c))
		if err := r.q.Ack(c); err != nil {
			t.Fatal(err)
		}
	})
	return got
}

func TestTheHighestPriorityComesFirstAndFIFOWithinOne(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendAt(t, q, 4, "4a")
	sendAt(t, q, 0, "0a")
	sendAt(t, q, 9, "9a")
	sendAt(t, q, 4, "4b")
	sendAt(t, q, 9, "9b")
	sendAt(t, q, 7, "7a")
	sendAt(t, q, 0, "0b")
	got := drain(t, q.NewReceiver())
	want := []string{"9a", "9b", "7a", "4a", "4b", "0a", "0b"}
	if !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q", got, want)
	}
}

func TestABadPriorityIsRefused(t *testing.T) {
	q := newQueue(t, Options{})
	for _, p := range []int{-1, 10} {
		if _, err := q.SendWith(strings.NewReader("x"), SendOptions{Priority: &p}); err == nil || !strings.Contains(err.Error(), ErrBadPriority.Error()) {
			t.Errorf("priority %d: %v, want ErrBadPriority", p, err)
		}
	}
	assertNoFiles(t, q.tmp)
}

func TestAReceiverHearsAHigherPriorityAtOnce(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	for i := range 5 {
		sendAt(t, q, 2, "low"+string(rune('0'+i)))
	}
	r := q.NewReceiver()
	c, err := r.Claim()
	if err != nil || readAll(t, c) != "low0" {
		t.Fatalf("first claim: %v", err)
	}
	q.Ack(c)
	// The walk of priority 2 is under way and cached; a message of
	// priority 9, and then one of priority 4, arrive behind it.
	sendAt(t, q, 9, "urgent")
	c, err = r.Claim()
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, c); got != "urgent" {
		t.Fatalf("claimed %q after a priority 9 arrived, want it", got)
	}
	q.Ack(c)
	sendAt(t, q, DefaultPriority, "default")
	if got := drain(t, r); !slices.Equal(got, []string{"default", "low1", "low2", "low3", "low4"}) {
		t.Fatalf("then received %q", got)
	}
}

func TestPrioritiesSurviveRetryRecoveryDelayAndRedrive(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendAt(t, q, 1, "low")
	sendAt(t, q, 8, "retried")
	sendAt(t, q, 8, "recovered")
	sendAt(t, q, 8, "dead")
	p := 8
	if _, err := q.SendWith(strings.NewReader("delayed"), SendOptions{Priority: &p, Due: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	r := q.NewReceiver()
	for _, settle := range []func(*Claim) error{
		func(c *Claim) error { return c.Retry(0) },
		func(c *Claim) error { return c.f.Close() }, // its consumer dies
		func(c *Claim) error { return c.DeadLetter(Reason{Cause: "test"}) },
	} {
		c, err := r.Claim()
		if err != nil {
			t.Fatal(err)
		}
		if err := settle(c); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Redrive(); err != nil {
		t.Fatal(err)
	}
	setClock(t, time.Now().Add(2*time.Hour)) // the delayed one falls due
	got := drain(t, q.NewReceiver())
	want := []string{"retried", "recovered", "dead", "delayed", "low"}
	if !slices.Equal(got, want) {
		t.Fatalf("received %q, want %q: every message of priority 8 before the one of 1", got, want)
	}
}

func TestAPriorityTreeRaisesTheFormatAndIsRemovedOnceDrained(t *testing.T) {
	q := newQueue(t, Options{})
	stamp := func() string {
		b, err := os.ReadFile(filepath.Join(q.Dir(), formatName))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sendAt(t, q, DefaultPriority, "plain")
	if got := stamp(); got != formatText(baseFormat) {
		t.Fatalf("stamp %q after a plain send, want format 1 kept for older readers", got)
	}
	sendAt(t, q, 6, "urgent")
	if got := stamp(); got != formatText(priorityFormat) {
		t.Fatalf("stamp %q after a priority send, want format 2", got)
	}
	tree := filepath.Join(q.new, "p6")
	if got := messagesUnder(t, tree); len(got) != 1 {
		t.Fatalf("the tree of priority 6 holds %v, want the message", got)
	}
	setClock(t, time.Now().Add(2*time.Hour)) // every bucket is idle
	if got := drain(t, q.NewReceiver()); !slices.Equal(got, []string{"urgent", "plain"}) {
		t.Fatalf("received %q", got)
	}
	drain(t, q.NewReceiver())
	if _, err := os.Lstat(tree); !os.IsNotExist(err) {
		t.Fatalf("the drained tree of priority 6 is still there: %v", err)
	}
	sendAt(t, q, 6, "again") // a sender makes it again
	if got := drain(t, q.NewReceiver()); !slices.Equal(got, []string{"again"}) {
		t.Fatalf("received %q", got)
	}
}

func TestAForeignFileInAPriorityTreeIsAMessageOfThatPriority(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendAt(t, q, DefaultPriority, "plain")
	putFile(t, q, filepath.Join(dirNew, "p9", "dropped-by-hand"), "by hand")
	putFile(t, q, filepath.Join(dirNew, "p4", "odd"), "in a tree that is no tree")
	got := drain(t, q.NewReceiver())
	if len(got) != 3 || got[0] != "by hand" {
		t.Fatalf("received %q, want the file in p9 first and all three", got)
	}
}

func TestAMessagePutBackBehindTheWalkComesNext(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendAt(t, q, 8, "high")
	for _, b := range []string{"a", "b", "c"} {
		sendAt(t, q, 2, b)
	}
	r := q.NewReceiver()
	high, err := r.Claim()
	if err != nil || readAll(t, high) != "high" {
		t.Fatalf("first claim: %v", err)
	}
	a, err := r.Claim() // the walk is in priority 2 now
	if err != nil || readAll(t, a) != "a" {
		t.Fatalf("second claim: %v", err)
	}
	// Another process's worker fails both: a retry without backoff puts
	// each back at its place, behind this receiver's walk.
	if err := high.Retry(0); err != nil {
		t.Fatal(err)
	}
	if err := a.Retry(0); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, r); !slices.Equal(got, []string{"high", "a", "b", "c"}) {
		t.Fatalf("received %q after two retries, want the retried ones first, each at its place", got)
	}
}
