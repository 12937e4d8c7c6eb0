// Package queuetest is the contract that every pq backend keeps: one suite
// of tests, run by each backend's own tests against its [queue.Queue], in
// the spirit of testing/fstest.
//
//	func TestContract(t *testing.T) {
//		queuetest.Run(t, queuetest.Harness{New: newQueue, Vanish: vanish})
//	}
package queuetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"pq/queue"
)

// Harness is what the suite needs from a backend's test.
type Harness struct {
	// New returns an empty queue of its own for one test, whose dedup
	// window is at least a minute. It may be called from parallel tests.
	New func(t *testing.T) queue.Queue
	// Vanish ends the claimer of c as if its process had died: c is never
	// settled, and the message must come back to another receiver within
	// Timeout.
	Vanish func(t *testing.T, c queue.Claim)
	// Timeout bounds every wait of the suite; 15 s when zero.
	Timeout time.Duration
}

// Run runs the contract suite as subtests of t.
func Run(t *testing.T, h Harness) {
	if h.Timeout == 0 {
		h.Timeout = 15 * time.Second
	}
	tests := []struct {
		name string
		run  func(*testing.T, Harness)
	}{
		{"AnEmptyQueueHasNothingToClaim", emptyQueue},
		{"ASentMessageIsClaimedWithItsBodyAndHeaders", sendClaimAck},
		{"AnAckedMessageIsGone", ackRemoves},
		{"AReleasedMessageComesBackAtOnce", releaseComesBack},
		{"ARetryCountsAnAttemptAndWaitsItsDelay", retryCounts},
		{"ADeadLetterKeepsItsReasonAndBody", deadLetter},
		{"AnExtendedClaimKeepsASecondClaimerOut", extendKeepsOut},
		{"AVanishedClaimersMessageComesBack", vanished},
		{"ASendWithADedupIDWithinTheWindowMakesNoSecondMessage", dedup},
		{"CancellingAWaitingClaimReturnsPromptly", cancelWait},
		{"AWaitingClaimGetsAMessageSentLater", waitGetsLater},
		{"StatCountsReadyAndClaimed", stat},
		{"MessagesComeInSendOrder", fifo},
		{"EightClaimersAckEachOfAThousandMessagesOnce", concurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, h) })
	}
}

// ctx returns a context that ends with the harness's timeout.
func (h Harness) ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	t.Cleanup(cancel)
	return ctx
}

// send sends body, with headers, and returns its ID.
func send(t *testing.T, ctx context.Context, q queue.Queue, body string, hs ...queue.Header) queue.ID {
	t.Helper()
	id, err := q.Send(ctx, queue.Message{Body: strings.NewReader(body), Headers: hs})
	if err != nil {
		t.Fatalf("send %q: %v", body, err)
	}
	if id == "" {
		t.Fatalf("send %q: empty ID", body)
	}
	return id
}

// receiver returns a receiver of q, closed at the end of the test.
func receiver(t *testing.T, ctx context.Context, q queue.Queue) queue.Receiver {
	t.Helper()
	r, err := q.NewReceiver(ctx)
	if err != nil {
		t.Fatalf("new receiver of %s: %v", q.Name(), err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// claim claims a message, waiting for it.
func claim(t *testing.T, ctx context.Context, r queue.Receiver) queue.Claim {
	t.Helper()
	c, err := r.Claim(ctx, true)
	if err != nil {
		t.Fatalf("claim: %v", err)
	}
	return c
}

// body reads c's body.
func body(t *testing.T, c queue.Claim) string {
	t.Helper()
	b, err := io.ReadAll(c.Body())
	if err != nil {
		t.Fatalf("read body of %s: %v", c.ID(), err)
	}
	return string(b)
}

// mustBeEmpty checks that nothing is ready in r's queue now.
func mustBeEmpty(t *testing.T, ctx context.Context, r queue.Receiver, why string) {
	t.Helper()
	c, err := r.Claim(ctx, false)
	if err == nil {
		t.Fatalf("%s: claimed %s (%q)", why, c.ID(), body(t, c))
	}
	if !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("%s: claim: %v, want an error matching ErrEmpty", why, err)
	}
}

func emptyQueue(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	send(t, ctx, q, "only")
	r := receiver(t, ctx, q)
	c := claim(t, ctx, r)
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
	mustBeEmpty(t, ctx, r, "after the only message was acked")
}

func sendClaimAck(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	hs := []queue.Header{{Key: "Trace", Value: "a1"}, {Key: "kind", Value: "photo resize"}}
	id := send(t, ctx, q, "hello\x00world\n", hs...)
	r := receiver(t, ctx, q)
	c := claim(t, ctx, r)
	if c.ID() != id {
		t.Errorf("claimed %s, sent %s", c.ID(), id)
	}
	if c.Attempt() != 1 {
		t.Errorf("first claim is attempt %d, want 1", c.Attempt())
	}
	if got := body(t, c); got != "hello\x00world\n" {
		t.Errorf("body %q", got)
	}
	got, err := c.Headers()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(hs) {
		t.Errorf("headers %v, want %v", got, hs)
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
}

func ackRemoves(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	send(t, ctx, q, "one")
	send(t, ctx, q, "two")
	r := receiver(t, ctx, q)
	first := claim(t, ctx, r)
	if err := first.Ack(); err != nil {
		t.Fatal(err)
	}
	second := claim(t, ctx, r)
	if got := body(t, second); got != "two" {
		t.Errorf("after acking the first, claimed %q, want two", got)
	}
	if err := second.Ack(); err != nil {
		t.Fatal(err)
	}
	mustBeEmpty(t, ctx, r, "after both were acked")
	s, err := q.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ready+s.Claimed+s.Delayed != 0 {
		t.Errorf("stat after acking all: %+v", s)
	}
}

func releaseComesBack(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	id := send(t, ctx, q, "again")
	r := receiver(t, ctx, q)
	if err := claim(t, ctx, r).Release(); err != nil {
		t.Fatal(err)
	}
	c := claim(t, ctx, r)
	if c.ID() != id || body(t, c) != "again" {
		t.Errorf("after release, claimed %s", c.ID())
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
}

func retryCounts(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	send(t, ctx, q, "flaky")
	r := receiver(t, ctx, q)
	const delay = 300 * time.Millisecond
	for attempt := 1; attempt <= 3; attempt++ {
		c := claim(t, ctx, r)
		if c.Attempt() != attempt {
			t.Fatalf("claim %d is attempt %d", attempt, c.Attempt())
		}
		if attempt == 3 {
			if err := c.Ack(); err != nil {
				t.Fatal(err)
			}
			break
		}
		retried := time.Now()
		if err := c.Retry(delay); err != nil {
			t.Fatal(err)
		}
		if time.Since(retried) < delay/2 {
			mustBeEmpty(t, ctx, r, "while the retry's delay runs")
		}
	}
}

func deadLetter(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	id := send(t, ctx, q, "poison", queue.Header{Key: "k", Value: "v"})
	r := receiver(t, ctx, q)
	c := claim(t, ctx, r)
	why := queue.Reason{Cause: "exit status 3", Stderr: "line one\nline two"}
	if err := c.DeadLetter(why); err != nil {
		t.Fatal(err)
	}
	mustBeEmpty(t, ctx, r, "after the only message was dead-lettered")
	dead, err := q.DeadLetters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("%d dead letters, want 1", len(dead))
	}
	d := dead[0]
	if d.ID != id || d.Reason.Cause != why.Cause || strings.TrimSuffix(d.Reason.Stderr, "\n") != why.Stderr || d.Reason.Attempts != 1 {
		t.Errorf("dead letter %s with reason %+v; want %s with %+v after 1 attempt", d.ID, d.Reason, id, why)
	}
	if d.Size != int64(len("poison")) || len(d.Headers) != 1 || d.Headers[0].Value != "v" {
		t.Errorf("dead letter of size %d with headers %v", d.Size, d.Headers)
	}
	f, err := d.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, err := io.ReadAll(f); err != nil || string(b) != "poison" {
		t.Errorf("dead letter body %q, %v", b, err)
	}
	if s, err := q.Stat(ctx); err != nil || s.Dead != 1 {
		t.Errorf("stat: %+v, %v; want 1 dead", s, err)
	}
}

func extendKeepsOut(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	send(t, ctx, q, "mine")
	c := claim(t, ctx, receiver(t, ctx, q))
	other := receiver(t, ctx, q)
	hold := 200 * time.Millisecond
	if x, ok := c.(queue.Extender); ok {
		hold = 6 * x.ExtendEvery() // twice as long as a claim lives unrenewed
	}
	tick := hold / 6
	for end := time.Now().Add(hold); time.Now().Before(end); {
		if err := c.Extend(ctx); err != nil {
			t.Fatal(err)
		}
		mustBeEmpty(t, ctx, other, "while the claim is extended")
		time.Sleep(tick) // the claim must outlive its renewals' period: time is what is tested
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
}

func vanished(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	id := send(t, ctx, q, "orphan")
	c := claim(t, ctx, receiver(t, ctx, q))
	h.Vanish(t, c)
	back := claim(t, ctx, receiver(t, ctx, q))
	if back.ID() != id || body(t, back) != "orphan" {
		t.Errorf("came back as %s", back.ID())
	}
	if err := back.Ack(); err != nil {
		t.Fatal(err)
	}
}

func dedup(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	sendKey := func(body, key string) queue.ID {
		id, err := q.Send(ctx, queue.Message{Body: strings.NewReader(body), DedupID: key})
		if err != nil {
			t.Fatalf("send %s with dedup id %s: %v", body, key, err)
		}
		return id
	}
	first := sendKey("a", "order-17")
	if again := sendKey("a, again", "order-17"); again != first {
		t.Errorf("a second send with the same dedup id made %s, want %s", again, first)
	}
	other := sendKey("b", "order-18")
	r := receiver(t, ctx, q)
	for _, want := range []queue.ID{first, other} {
		c := claim(t, ctx, r)
		if c.ID() != want {
			t.Errorf("claimed %s, want %s", c.ID(), want)
		}
		if err := c.Ack(); err != nil {
			t.Fatal(err)
		}
	}
	mustBeEmpty(t, ctx, r, "after the two distinct messages")
}

func cancelWait(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	send(t, ctx, q, "x") // the queue exists
	r := receiver(t, ctx, q)
	if err := claim(t, ctx, r).Ack(); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := r.Claim(wctx, true)
		done <- err
	}()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled claim returned %v, want context.Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a cancelled waiting claim did not return within 2s")
	}
}

func waitGetsLater(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	send(t, ctx, q, "first")
	r := receiver(t, ctx, q)
	if err := claim(t, ctx, r).Ack(); err != nil {
		t.Fatal(err)
	}
	got := make(chan queue.Claim, 1)
	errs := make(chan error, 1)
	go func() {
		c, err := r.Claim(ctx, true)
		if err != nil {
			errs <- err
			return
		}
		got <- c
	}()
	id := send(t, ctx, q, "later")
	select {
	case c := <-got:
		if c.ID() != id {
			t.Errorf("waiting claim got %s, want %s", c.ID(), id)
		}
		if err := c.Ack(); err != nil {
			t.Fatal(err)
		}
	case err := <-errs:
		t.Fatal(err)
	}
}

func stat(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	for i := range 3 {
		send(t, ctx, q, fmt.Sprint(i))
	}
	c := claim(t, ctx, receiver(t, ctx, q))
	s, err := q.Stat(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Ready != 2 || s.Claimed != 1 || s.Dead != 0 {
		t.Errorf("stat %+v, want 2 ready and 1 claimed", s)
	}
	if err := c.Ack(); err != nil {
		t.Fatal(err)
	}
}

func concurrent(t *testing.T, h Harness) {
	const claimers, messages = 8, 1000
	ctx, q := h.ctx(t), h.New(t)
	sent := sendMany(t, ctx, q, messages)
	acked := make(chan queue.ID, messages)
	errs := make(chan error, claimers)
	for range claimers {
		go func() { errs <- drain(ctx, q, acked) }()
	}
	for range claimers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(acked)
	seen := map[queue.ID]int{}
	for id := range acked {
		seen[id]++
	}
	for id := range sent {
		if seen[id] != 1 {
			t.Errorf("message %s acked %d times", id, seen[id])
		}
	}
	if len(seen) != messages {
		t.Errorf("%d messages acked, %d sent", len(seen), messages)
	}
}

// sendMany sends n numbered messages from 8 goroutines and returns their
// IDs.
func sendMany(t *testing.T, ctx context.Context, q queue.Queue, n int) map[queue.ID]bool {
	t.Helper()
	ids := make(chan queue.ID, n)
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := g; i < n; i += 8 {
				id, err := q.Send(ctx, queue.Message{Body: strings.NewReader(fmt.Sprint(i))})
				if err != nil {
					errs <- err
					return
				}
				ids <- id
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(ids)
	sent := map[queue.ID]bool{}
	for id := range ids {
		sent[id] = true
	}
	if len(sent) != n {
		t.Fatalf("%d distinct IDs for %d sends", len(sent), n)
	}
	return sent
}

// drain claims and acks until the queue is empty, reporting each ack.
func drain(ctx context.Context, q queue.Queue, acked chan<- queue.ID) error {
	r, err := q.NewReceiver(ctx)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		c, err := r.Claim(ctx, false)
		if errors.Is(err, queue.ErrEmpty) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := c.Ack(); err != nil {
			return fmt.Errorf("ack %s: %w", c.ID(), err)
		}
		acked <- c.ID()
	}
}

func fifo(t *testing.T, h Harness) {
	ctx, q := h.ctx(t), h.New(t)
	var sent []queue.ID
	for i := range 3 {
		sent = append(sent, send(t, ctx, q, fmt.Sprint("single ", i)))
	}
	if b, ok := q.(queue.BatchSender); ok {
		var msgs []queue.Message
		for i := range 5 {
			msgs = append(msgs, queue.Message{Body: strings.NewReader(fmt.Sprint("batched ", i))})
		}
		ids, err := b.SendBatch(ctx, msgs)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != len(msgs) {
			t.Fatalf("a batch of %d gave %d IDs", len(msgs), len(ids))
		}
		sent = append(sent, ids...)
	}
	r := receiver(t, ctx, q)
	for i, want := range sent {
		c := claim(t, ctx, r)
		if c.ID() != want {
			t.Errorf("claim %d is %s, want %s", i, c.ID(), want)
		}
		if err := c.Ack(); err != nil {
			t.Fatal(err)
		}
	}
}
