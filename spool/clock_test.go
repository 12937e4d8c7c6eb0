package spool

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const time1h = time.Hour

// putFile writes a message file with body at rel under the queue directory,
// making its parents.
func putFile(t *testing.T, q *Queue, rel, body string) string {
	t.Helper()
	path := filepath.Join(q.Dir(), rel)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// futureName returns a well-formed message name sent d from now.
func futureName(d time.Duration) (string, int64) {
	ns := time.Now().Add(d).UnixNano()
	return string(formatID(ns)), ns
}

func TestASendTimeInTheFutureHoldsNothingBack(t *testing.T) {
	q := newQueue(t, Options{})
	name, ns := futureName(365 * 24 * time.Hour) // a producer a year ahead
	putFile(t, q, filepath.Join(dirNew, bucket(ns), name), "from the future")
	r := q.NewReceiver()
	c, err := r.Claim()
	if err != nil {
		t.Fatalf("claim: %v, want the message stamped a year ahead", err)
	}
	if string(c.ID()) != name {
		t.Fatalf("claimed %s, want %s", c.ID(), name)
	}
	// Put back, it goes to the bucket of now, not of its send time.
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if got := messagesUnder(t, q.new); len(got) != 1 || !strings.HasPrefix(got[0], bucket(time.Now().UnixNano())[:7]) {
		t.Fatalf("put back into %v, want a bucket of now", got)
	}
	// Recovered, likewise.
	c, err = q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	c.f.Close() // its consumer dies
	if ids, err := q.Recover(); err != nil || len(ids) != 1 {
		t.Fatalf("Recover = %v, %v", ids, err)
	}
	if got := messagesUnder(t, q.new); len(got) != 1 || strings.HasPrefix(got[0], bucket(ns)[:7]) {
		t.Fatalf("recovered into %v, want a bucket of now", got)
	}
}

// messagesUnder lists the files under dir, relative to it.
func messagesUnder(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			out = append(out, rel)
		}
		return nil
	})
	return out
}

// A due time in a later bucket than now: the walk of .due/ must stop at a
// bucket whose time has not come, even for a file whose name carries no
// due time of its own.
func TestADelayedBucketIsNotEnteredBeforeItsTime(t *testing.T) {
	q := newQueue(t, Options{})
	name, _ := futureName(-time.Second)
	due := time.Now().Add(time.Hour).UnixNano()
	putFile(t, q, filepath.Join(dirDue, bucket(due), name), "later")
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim an hour before the bucket's time: %v, want ErrEmpty", err)
	}
	setClock(t, time.Unix(0, due).Add(time.Second))
	if c, err := q.NewReceiver().Claim(); err != nil || string(c.ID()) != name {
		t.Fatalf("claim after the bucket's time = %v, %v; want %s", c, err, name)
	}
}

// A due time later in the bucket of now: each file's own due time counts.
func TestADelayedMessageWaitsForItsOwnDueTime(t *testing.T) {
	start := time.Now().Truncate(10 * time.Millisecond)
	setClock(t, start.Add(time.Millisecond))
	q := newQueue(t, Options{})
	q.Send(strings.NewReader("x"))
	c, err := q.NewReceiver().Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Retry(5 * time.Millisecond); err != nil { // due in the same bucket
		t.Fatal(err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim before the due time: %v, want ErrEmpty", err)
	}
	setClock(t, start.Add(7*time.Millisecond))
	if c, err := q.NewReceiver().Claim(); err != nil || c.Attempt() != 2 {
		t.Fatalf("claim after the due time = %v, %v; want the message's second attempt", c, err)
	}
}

// TestAWaitingReceiverWakesWhenARetryFallsDue: with polling out of reach,
// only the receiver's own timer for the due time can wake it.
func TestAWaitingReceiverWakesWhenARetryFallsDue(t *testing.T) {
	noPolling(t)
	q := newQueue(t, Options{})
	q.Send(strings.NewReader("flaky"))
	w, ctx := waitingReceiver(t, q)
	c, err := w.Claim()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Retry(50 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	awaitClaim(t, ctx, w)
}

// noPolling puts a waiting receiver's polls out of reach for the test.
func noPolling(t *testing.T) {
	savedPoll, savedRecover := pollEvery, recoverEvery
	pollEvery, recoverEvery = time.Hour, time.Hour
	t.Cleanup(func() { pollEvery, recoverEvery = savedPoll, savedRecover })
}

// waitingReceiver returns a receiver of q whose watches are set up, and a
// context that bounds its waits.
func waitingReceiver(t *testing.T, q *Queue) (*Receiver, context.Context) {
	t.Helper()
	w := q.NewReceiver()
	t.Cleanup(func() { w.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := w.Wait(ctx); err != nil { // sets up the watches
		t.Fatal(err)
	}
	return w, ctx
}

// awaitClaim waits with w until it claims a message, and fails the test if
// a wait ends first.
func awaitClaim(t *testing.T, ctx context.Context, w *Receiver) *Claim {
	t.Helper()
	for {
		c, err := w.Claim()
		if err == nil {
			return c
		}
		if !errors.Is(err, ErrEmpty) {
			t.Fatal(err)
		}
		if err := w.Wait(ctx); err != nil {
			t.Fatalf("the waiting receiver never woke for the message: %v", err)
		}
	}
}

func TestAMessageBackingOffUnderAnOlderLayoutMovesToDue(t *testing.T) {
	q := newQueue(t, Options{})
	name, _ := futureName(-time.Minute)
	due := time.Now().Add(time.Hour).UnixNano()
	n := ParseName(name)
	n.Due = due
	putFile(t, q, filepath.Join(dirNew, bucket(due), n.String()), "retry later")
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim: %v, want ErrEmpty during the backoff", err)
	}
	if got := messagesUnder(t, q.due); len(got) != 1 {
		t.Fatalf(".due/ holds %v, want the message", got)
	}
}

func TestADelayedSendWaitsForItsTime(t *testing.T) {
	t0 := time.Now()
	setClock(t, t0)
	q := newQueue(t, Options{})
	late, err := q.SendWith(strings.NewReader("late"), SendOptions{Due: t0.Add(365 * 24 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	soon, _ := q.SendWith(strings.NewReader("soon"), SendOptions{Due: t0.Add(time.Second)})
	now1, _ := q.Send(strings.NewReader("now"))
	r := q.NewReceiver()
	if c, err := r.Claim(); err != nil || c.ID() != now1 {
		t.Fatalf("claim = %v, %v; want only the message sent without a delay", c, err)
	}
	if _, err := q.NewReceiver().Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim before the delays end: %v, want ErrEmpty", err)
	}
	if s, _ := q.Stat(); s.Delayed != 2 {
		t.Fatalf("Stat().Delayed = %d, want 2", s.Delayed)
	}
	setClock(t, t0.Add(time.Second))
	if c, err := q.NewReceiver().Claim(); err != nil || c.ID() != soon {
		t.Fatalf("claim once due = %v, %v; want %s", c, err, soon)
	}
	setClock(t, t0.Add(366*24*time.Hour))
	if c, err := q.NewReceiver().Claim(); err != nil || c.ID() != late {
		t.Fatalf("claim a year on = %v, %v; want %s", c, err, late)
	}
}

// TestAWaitingReceiverWakesWhenADelayedSendFallsDue: the send wakes the
// waiting receiver, which sets its timer for the due time; polling is out
// of reach.
func TestAWaitingReceiverWakesWhenADelayedSendFallsDue(t *testing.T) {
	noPolling(t)
	q := newQueue(t, Options{})
	w, ctx := waitingReceiver(t, q)
	due := time.Now().Add(50 * time.Millisecond)
	if _, err := q.SendWith(strings.NewReader("x"), SendOptions{Due: due}); err != nil {
		t.Fatal(err)
	}
	awaitClaim(t, ctx, w)
	if time.Now().Before(due) {
		t.Fatal("delivered before its due time")
	}
}

// An expired message is never delivered: the receiver that meets it moves
// it to the dead-letter queue, counting no attempt, and a redrive brings
// it back without its time to live.
func TestAnExpiredMessageIsDeadLetteredNotDelivered(t *testing.T) {
	t0 := time.Now()
	setClock(t, t0)
	q := newQueue(t, Options{})
	id, _ := q.SendWith(strings.NewReader("stale"), SendOptions{Expires: t0.Add(time.Second)})
	delayed, _ := q.SendWith(strings.NewReader("stale too"), SendOptions{Due: t0.Add(time.Minute), Expires: t0.Add(time.Second)})
	fresh, _ := q.SendWith(strings.NewReader("fresh"), SendOptions{Expires: t0.Add(time.Hour)})
	setClock(t, t0.Add(2*time.Minute))
	r := q.NewReceiver()
	if c, err := r.Claim(); err != nil || c.ID() != fresh {
		t.Fatalf("claim = %v, %v; want only the message still alive", c, err)
	}
	if c, err := r.Claim(); !errors.Is(err, ErrEmpty) {
		t.Fatalf("claim = %v, %v; want ErrEmpty", c, err)
	}
	dead, _ := q.DeadLetters()
	if len(dead) != 2 || dead[0].Name.ID != id || dead[1].Name.ID != delayed ||
		dead[0].Reason.Cause != CauseExpired || dead[0].Name.Attempts != 0 {
		t.Fatalf("dead letters %+v, want both expired messages, no attempt counted", dead)
	}
	if _, err := q.Redrive(id); err != nil {
		t.Fatal(err)
	}
	if got := receiveBody(t, q.NewReceiver()); got != "stale" {
		t.Fatalf("after a redrive got %q", got)
	}
}
