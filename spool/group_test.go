package spool

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// sendGroup sends body in group g.
func sendGroup(t *testing.T, q *Queue, g, body string) ID {
	t.Helper()
	id, err := q.SendWith(strings.NewReader(body), SendOptions{Group: g})
	if err != nil {
		t.Fatalf("send %q in group %q: %v", body, g, err)
	}
	return id
}

// claimBody claims with r and returns the claim and its body, or fails.
func claimBody(t *testing.T, r *Receiver) (*Claim, string) {
	t.Helper()
	c, err := r.Claim()
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return c, readAll(t, c)
}

func TestAGroupHandsOutOneMessageAtATimeInOrder(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendGroup(t, q, "g", "g1")
	sendGroup(t, q, "g", "g2")
	sendGroup(t, q, "h", "h1")
	q.Send(strings.NewReader("free"))
	a, b := q.NewReceiver(), q.NewReceiver()
	c1, body := claimBody(t, a)
	if body != "g1" {
		t.Fatalf("first claim %q, want g1", body)
	}
	// While g1 is claimed, another receiver passes by g2, and takes
	// what other groups and no group have.
	var got []string
	for range 2 {
		c, body := claimBody(t, b)
		got = append(got, body)
		defer q.Ack(c)
	}
	if !slices.Equal(got, []string{"h1", "free"}) {
		t.Fatalf("while g1 was claimed, another receiver got %q, want h1 and free", got)
	}
	if _, err := b.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty: g2 waits for g1", err)
	}
	if err := q.Ack(c1); err != nil {
		t.Fatal(err)
	}
	if _, body := claimBody(t, b); body != "g2" {
		t.Fatalf("after g1's ack got %q, want g2", body)
	}
}

func TestAGroupWaitsForItsMessageBackingOff(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendGroup(t, q, "g", "g1")
	sendGroup(t, q, "g", "g2")
	r := q.NewReceiver()
	c, _ := claimBody(t, r)
	if err := c.Retry(time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty: g2 waits while g1 backs off", err)
	}
	setClock(t, time.Now().Add(2*time.Hour))
	if got := drain(t, q.NewReceiver()); !slices.Equal(got, []string{"g1", "g2"}) {
		t.Fatalf("once g1 was due, received %q", got)
	}
}

func TestAGroupMovesOnPastADeadLetterAndARetryGoesBackInPlace(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	for _, b := range []string{"g1", "g2", "g3"} {
		sendGroup(t, q, "g", b)
	}
	r := q.NewReceiver()
	c, _ := claimBody(t, r)
	if err := c.DeadLetter(Reason{Cause: "test"}); err != nil {
		t.Fatal(err)
	}
	c2, body := claimBody(t, q.NewReceiver())
	if body != "g2" {
		t.Fatalf("after g1 was dead-lettered got %q, want g2", body)
	}
	if _, err := q.Redrive(); err != nil {
		t.Fatal(err)
	}
	if c, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v %v, want ErrEmpty while g2 is claimed", c, err)
	}
	q.Ack(c2)
	if got := drain(t, q.NewReceiver()); !slices.Equal(got, []string{"g1", "g3"}) {
		t.Fatalf("after g2, received %q: want the retried g1 back in its place before g3", got)
	}
}

func TestADeadClaimersGroupGoesOnWithItsMessageFirst(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendGroup(t, q, "g", "g1")
	sendGroup(t, q, "g", "g2")
	c, _ := claimBody(t, q.NewReceiver())
	// Its receiver dies: the kernel closes its descriptors.
	c.f.Close()
	c.group.f.Close()
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty: g1 is still in cur/, to be recovered", err)
	}
	if ids, err := q.Recover(); err != nil || len(ids) != 1 {
		t.Fatalf("recover: %v, %v", ids, err)
	}
	r := q.NewReceiver()
	c, body := claimBody(t, r)
	if body != "g1" || c.Attempt() != 2 {
		t.Fatalf("after recovery got %q (attempt %d), want g1 again", body, c.Attempt())
	}
	q.Ack(c)
	if _, body := claimBody(t, r); body != "g2" {
		t.Fatalf("then %q, want g2", body)
	}
}

func TestAReleasedMessageGoesFirstInItsGroup(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	sendGroup(t, q, "g", "g1")
	sendGroup(t, q, "g", "g2")
	r := q.NewReceiver()
	c, _ := claimBody(t, r)
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if got := drain(t, r); !slices.Equal(got, []string{"g1", "g2"}) {
		t.Fatalf("after a release received %q", got)
	}
}

func TestABadGroupIsRefused(t *testing.T) {
	q := newQueue(t, Options{})
	for _, g := range []string{"a,b", "a/b", ".x", strings.Repeat("x", 65), "é"} {
		if _, err := q.SendWith(strings.NewReader("x"), SendOptions{Group: g}); !errors.Is(err, ErrBadGroup) {
			t.Errorf("group %q: %v, want ErrBadGroup", g, err)
		}
	}
}

// Recovery that cannot name a dead claim's message in its group's file
// (another process holds the group's lock) leaves it in cur/, where it
// keeps the rest of its group waiting, and recovers it later: put back
// unnamed, it would let the next of its group go first.
func TestRecoveryLeavesAGroupsHeadInCurUntilItCanNameIt(t *testing.T) {
	saved := holdGroupWait
	holdGroupWait = 10 * time.Millisecond
	t.Cleanup(func() { holdGroupWait = saved })
	q := newQueue(t, Options{NoSync: true})
	for _, b := range []string{"a", "b"} {
		if _, err := q.SendWith(strings.NewReader(b), SendOptions{Group: "g"}); err != nil {
			t.Fatal(err)
		}
	}
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	c.f.Close() // its consumer dies
	c.group.release()
	g, ok, err := q.lockGroup("g")
	if err != nil || !ok {
		t.Fatalf("lock the group: %v, %v", ok, err)
	}
	if ids, err := q.Recover(); err != nil || len(ids) != 0 {
		t.Fatalf("Recover with the group's lock held elsewhere: %v, %v; want nothing recovered", ids, err)
	}
	g.release()
	if c, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim while the group's head waits in cur/: %v, %v; want ErrEmpty", c, err)
	}
	if ids, err := q.Recover(); err != nil || len(ids) != 1 {
		t.Fatalf("Recover once the lock is free: %v, %v", ids, err)
	}
	if got := receiveBody(t, q.NewReceiver()); got != "a" {
		t.Fatalf("first after recovery: %q, want a", got)
	}
}
