package jetstream

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"pq/queue"
)

func TestSendClaimAck(t *testing.T) {
	q := newQueue(t, "jobs.high", InitOptions{})
	hs := []queue.Header{{Key: "b", Value: "2"}, {Key: "a", Value: " lead"}, {Key: "c", Value: "x\ry"}, {Key: "d", Value: ""}, {Key: "e", Value: "trail\t "}}
	id := send(t, q, "hello", hs...)
	if id != "1" {
		t.Errorf("ID = %q, want 1", id)
	}
	r := receiver(t, q)
	c := claim(t, r)
	if c.ID() != id || c.Attempt() != 1 || body(t, c) != "hello" {
		t.Errorf("claim = %s attempt %d body %q; want %s attempt 1 hello", c.ID(), c.Attempt(), body(t, c), id)
	}
	got, err := c.Headers()
	if err != nil || !slices.Equal(got, hs) {
		t.Errorf("Headers = %q, %v; want %q", got, err, hs)
	}
	if e, ok := c.(queue.Extender); !ok || e.ExtendEvery() != 10*time.Second {
		t.Errorf("not an Extender renewed every 10s (a third of 30s)")
	}
	st, err := q.Stat(testCtx(t))
	if err != nil || st != (queue.Stats{Claimed: 1}) {
		t.Errorf("Stat with a claim = %+v, %v", st, err)
	}
	if err := c.Ack(); err != nil {
		t.Fatalf("Ack: %v", err)
	}
	if err := c.Ack(); err == nil {
		t.Error("a second Ack did not fail")
	}
	wantEmpty(t, r)
	st, err = q.Stat(testCtx(t))
	if err != nil || st != (queue.Stats{}) {
		t.Errorf("Stat after ack = %+v, %v", st, err)
	}
}

func TestClaimRightAfterSend(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	r := receiver(t, q)
	for i := range 20 {
		id := send(t, q, "x")
		c, err := r.Claim(testCtx(t), false)
		if err != nil {
			t.Fatalf("send %d: Claim(no wait) right after: %v", i, err)
		}
		if c.ID() != id {
			t.Fatalf("claimed %s, want %s", c.ID(), id)
		}
		c.Ack()
	}
}

func TestRetryCountsAttempts(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	send(t, q, "x")
	r := receiver(t, q)
	c := claim(t, r)
	if err := c.Retry(0); err != nil {
		t.Fatal(err)
	}
	c = claim(t, r)
	if c.Attempt() != 2 {
		t.Errorf("attempt after a retry = %d, want 2", c.Attempt())
	}
	start := time.Now()
	if err := c.Retry(500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	wantEmpty(t, r)
	c = claim(t, r)
	if d := time.Since(start); d < 400*time.Millisecond || c.Attempt() != 3 {
		t.Errorf("after Retry(500ms): claimed after %s, attempt %d; want >= 500ms, 3", d, c.Attempt())
	}
	if err := c.Release(); err != nil {
		t.Fatal(err)
	}
	if c = claim(t, r); c.Attempt() != 4 {
		t.Errorf("attempt after a release = %d, want 4 (the server counts it)", c.Attempt())
	}
}

func TestDeadLetter(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	hs := []queue.Header{{Key: "k", Value: "v"}}
	id := send(t, q, "body", hs...)
	r := receiver(t, q)
	c := claim(t, r)
	when := time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC)
	reason := queue.Reason{Time: when, Cause: "exit status 3", Stderr: "line 1\nline 2\n"}
	if err := c.DeadLetter(reason); err != nil {
		t.Fatal(err)
	}
	wantEmpty(t, r)
	ds := deadLetters(t, q)
	if len(ds) != 1 {
		t.Fatalf("%d dead letters, want 1", len(ds))
	}
	d := ds[0]
	reason.Attempts = 1
	if d.ID != id || string(d.Body) != "body" || !slices.Equal(d.Headers, hs) || d.Reason != reason {
		t.Errorf("dead letter = %+v; want id %s, body, %q, %+v", d, id, hs, reason)
	}
	st, err := q.Stat(testCtx(t))
	if err != nil || st != (queue.Stats{Dead: 1}) {
		t.Errorf("Stat = %+v, %v; want 1 dead", st, err)
	}
	e, err := q.Peek(testCtx(t), id)
	if err != nil || e.State != StateDead || string(e.Body) != "body" {
		t.Errorf("Peek(%s) = %+v, %v; want the dead letter", id, e, err)
	}
}

func TestDeadLetterUntried(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	send(t, q, "x")
	c := claim(t, receiver(t, q))
	if err := c.DeadLetter(queue.Reason{Cause: "poison", Untried: true}); err != nil {
		t.Fatal(err)
	}
	d := deadLetters(t, q)[0]
	if !d.Reason.Untried || d.Reason.Attempts != 0 || d.Reason.Time.IsZero() {
		t.Errorf("reason = %+v; want untried, 0 attempts, a time", d.Reason)
	}
}

func TestExtendKeepsOthersOut(t *testing.T) {
	q := newQueue(t, "q", InitOptions{AckWait: time.Second})
	send(t, q, "x")
	r1, r2 := receiver(t, q), receiver(t, q)
	c := claim(t, r1).(queue.Extender)
	if c.ExtendEvery() > 400*time.Millisecond {
		t.Fatalf("ExtendEvery = %s, want a third of 1s", c.ExtendEvery())
	}
	for range 5 { // 1.5 s, past the ack wait
		time.Sleep(c.ExtendEvery())
		if err := c.Extend(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		wantEmpty(t, r2)
	}
	// The claimer vanishes: its message comes back after the ack wait.
	c2 := claim(t, r2)
	if c2.ID() != c.ID() || c2.Attempt() != 2 {
		t.Errorf("after the claimer stopped: %s attempt %d; want %s attempt 2", c2.ID(), c2.Attempt(), c.ID())
	}
}

func TestDedup(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	var ids []queue.ID
	for _, b := range []string{"first", "second"} {
		id, err := q.Send(ctx, queue.Message{Body: strings.NewReader(b), DedupID: "k1"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if ids[0] != ids[1] {
		t.Errorf("dedup sends got %q, want one ID", ids)
	}
	r := receiver(t, q)
	if c := claim(t, r); body(t, c) != "first" {
		t.Errorf("body = %q, want first", body(t, c))
	}
	wantEmpty(t, r)
}

func TestCancelWaitingClaim(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	r := receiver(t, q)
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() {
		_, err := r.Claim(ctx, true)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let it wait
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Claim = %v, want context.Canceled", err)
		}
		if d := time.Since(start); d > 100*time.Millisecond {
			t.Errorf("Claim returned %s after the cancel", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Claim did not return after its context was cancelled")
	}
	// Nothing was lost: a message sent now is claimed at once.
	send(t, q, "x")
	if c := claim(t, r); c.Attempt() != 1 {
		t.Errorf("attempt = %d, want 1", c.Attempt())
	}
}

func TestNoQueue(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	other, err := q.b.Queue("never")
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.NewReceiver(testCtx(t))
	if !errors.Is(err, queue.ErrNoQueue) || !strings.Contains(Hint(err), "pq init never") {
		t.Errorf("NewReceiver of a queue never made = %v (hint %q); want ErrNoQueue with a hint to run pq init", err, Hint(err))
	}
	if _, err := other.Stat(testCtx(t)); !errors.Is(err, queue.ErrNoQueue) {
		t.Errorf("Stat = %v, want ErrNoQueue", err)
	}
}

func TestSendCreatesQueue(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	fresh, _ := q.b.Queue("fresh.one")
	send(t, fresh, "x")
	if n, err := fresh.Replicas(testCtx(t)); err != nil || n != 1 {
		t.Errorf("Replicas = %d, %v; want 1", n, err)
	}
	c := claim(t, receiver(t, fresh))
	if body(t, c) != "x" {
		t.Errorf("body = %q", body(t, c))
	}
	names, err := q.b.Queues(testCtx(t))
	if err != nil || !slices.Equal(names, []string{"fresh.one", "q"}) {
		t.Errorf("Queues = %q, %v", names, err)
	}
}

func TestInitOwnsConfig(t *testing.T) {
	q := newQueue(t, "q", InitOptions{AckWait: 2 * time.Second})
	ctx := testCtx(t)
	if err := q.b.Init(ctx, "q", InitOptions{AckWait: 3 * time.Second, MaxDeliver: 7}); err != nil {
		t.Fatalf("Init again: %v", err)
	}
	r := receiver(t, q).(*Receiver)
	if r.ackWait != 3*time.Second || r.maxDeliver != 7 {
		t.Errorf("receiver sees ack wait %s, max deliver %d; want the last Init's", r.ackWait, r.maxDeliver)
	}
	// A send to an existing queue leaves its settings alone.
	send(t, q, "x")
	fresh, _ := q.b.Queue("q")
	send(t, fresh, "y")
	if r := receiver(t, q).(*Receiver); r.ackWait != 3*time.Second {
		t.Errorf("ack wait after sends = %s, want 3s", r.ackWait)
	}
}

func TestUnsupported(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	p := 3
	for _, m := range []queue.Message{
		{Priority: &p}, {Group: "g"}, {Due: time.Now().Add(time.Hour)},
	} {
		m.Body = strings.NewReader("x")
		if _, err := q.Send(testCtx(t), m); !errors.Is(err, queue.ErrUnsupported) || !strings.Contains(err.Error(), "nats") {
			t.Errorf("Send(%+v) = %v, want ErrUnsupported naming nats", m, err)
		}
	}
}

func TestBadHeaders(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	for _, h := range []queue.Header{{Key: "Nats-Msg-Id", Value: "x"}, {Key: "pq-x", Value: "x"}, {Key: "a", Value: "x\ny"}} {
		_, err := q.Send(testCtx(t), queue.Message{Body: strings.NewReader("x"), Headers: []queue.Header{h}})
		if !errors.Is(err, queue.ErrBadHeader) {
			t.Errorf("Send with %q = %v, want ErrBadHeader", h, err)
		}
	}
}

func TestTooBig(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	limit := q.b.nc.MaxPayload()
	_, err := q.Send(testCtx(t), queue.Message{Body: strings.NewReader(strings.Repeat("x", int(limit)+10))})
	if !errors.Is(err, ErrTooBig) || !strings.Contains(err.Error(), "1048586 bytes") || Hint(err) == "" {
		t.Errorf("Send of max_payload+10 bytes = %v (hint %q); want ErrTooBig naming its size, with a hint", err, Hint(err))
	}
	// What fits is sent.
	fits := strings.Repeat("x", int(limit)-1024)
	if _, err := q.Send(testCtx(t), queue.Message{Body: strings.NewReader(fits)}); err != nil {
		t.Errorf("Send of max_payload-1024 bytes: %v", err)
	}
}

func TestExpired(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	ctx := testCtx(t)
	if _, err := q.Send(ctx, queue.Message{Body: strings.NewReader("old"), Expires: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	live := send(t, q, "live")
	r := receiver(t, q)
	if c := claim(t, r); c.ID() != live {
		t.Errorf("claimed %s, want %s past the expired one", c.ID(), live)
	}
	ds := deadLetters(t, q)
	if len(ds) != 1 || ds[0].Reason.Cause != CauseExpired || !ds[0].Reason.Untried {
		t.Errorf("dead letters = %+v; want the expired one", ds)
	}
}

func TestMessages(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	for _, b := range []string{"a", "b", "c"} {
		send(t, q, b)
	}
	c := claim(t, receiver(t, q))
	c.Ack()
	c = claim(t, receiver(t, q))
	var got []string
	for e, err := range q.Messages(testCtx(t)) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(e.ID)+":"+e.State.String()+":"+string(e.Body))
	}
	want := []string{"2:inflight:b", "3:ready:c"}
	if !slices.Equal(got, want) {
		t.Errorf("Messages = %q, want %q", got, want)
	}
	if _, err := q.Peek(testCtx(t), "1"); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Peek of an acked message = %v, want ErrNoMessage", err)
	}
	if e, err := q.Peek(testCtx(t), "3"); err != nil || string(e.Body) != "c" {
		t.Errorf("Peek(3) = %+v, %v", e, err)
	}
}

func TestSendBatch(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	var msgs []queue.Message
	for i := range 600 { // more than one window
		msgs = append(msgs, queue.Message{Body: strings.NewReader(strconv.Itoa(i))})
	}
	msgs = append(msgs, queue.Message{Body: strings.NewReader("dup"), DedupID: "d"}, queue.Message{Body: strings.NewReader("dup"), DedupID: "d"})
	ids, err := q.SendBatch(testCtx(t), msgs)
	if err != nil || len(ids) != 602 || ids[0] != "1" || ids[599] != "600" || ids[600] != "601" || ids[601] != "601" {
		t.Fatalf("SendBatch = %d IDs (%v...), %v", len(ids), ids[:min(3, len(ids))], err)
	}
	p := 1
	ids, err = q.SendBatch(testCtx(t), []queue.Message{{Body: strings.NewReader("ok")}, {Body: strings.NewReader("x"), Priority: &p}})
	if !errors.Is(err, queue.ErrUnsupported) || len(ids) != 1 {
		t.Errorf("SendBatch with a bad second message = %v, %v; want the first's ID and ErrUnsupported", ids, err)
	}
}

func TestAckAll(t *testing.T) {
	q := newQueue(t, "q", InitOptions{})
	r := receiver(t, q)
	var cs []queue.Claim
	for range 5 {
		send(t, q, "x")
		cs = append(cs, claim(t, r))
	}
	if err := q.AckAll(cs); err != nil {
		t.Fatal(err)
	}
	if err := q.AckAll(cs[:1]); err == nil {
		t.Error("acking an acked claim again did not fail")
	}
	if st, err := q.Stat(testCtx(t)); err != nil || st != (queue.Stats{}) {
		t.Errorf("Stat after AckAll = %+v, %v", st, err)
	}
}
