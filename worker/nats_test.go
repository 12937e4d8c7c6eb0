package worker_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"pq/jetstream"
	"pq/jetstream/natstest"
	"pq/queue"
	"pq/worker"
)

// natsQueue starts a NATS server and returns a queue on it whose claims
// lapse after ackWait without a renewal.
func natsQueue(t *testing.T, ackWait time.Duration) queue.Queue {
	t.Helper()
	s := natstest.Start(t)
	ctx := t.Context()
	b, err := jetstream.Dial(ctx, s.URL(), jetstream.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if err := b.Init(ctx, "jobs", jetstream.InitOptions{AckWait: ackWait}); err != nil {
		t.Fatal(err)
	}
	q, err := b.Open(ctx, "jobs")
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// A handler that runs three times as long as a claim lives unrenewed keeps
// its message all that time: the worker renews the claim while it runs,
// so no other consumer gets the message meanwhile, and it is acked once.
func TestAWorkerOnNATSRenewsTheClaimOfALongHandler(t *testing.T) {
	const ackWait = time.Second
	q := natsQueue(t, ackWait)
	ctx := t.Context()
	if _, err := q.Send(ctx, queue.Message{Body: strings.NewReader("slow")}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	h := func(ctx context.Context, m *worker.Message) error {
		close(started)
		b, _ := io.ReadAll(m.Body())
		if string(b) != "slow" {
			t.Errorf("body %q", b)
		}
		time.Sleep(3 * ackWait) // the claim must outlive its ack wait: time is what is tested
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- worker.Run(ctx, q, h, worker.Options{MaxAttempts: 3}) }()
	<-started
	r, err := q.NewReceiver(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	wctx, cancel := context.WithTimeout(ctx, 2*ackWait)
	defer cancel()
	if c, err := r.Claim(wctx, true); err == nil {
		t.Fatalf("a second consumer claimed %s while the handler ran", c.ID())
	} else if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s, err := q.Stat(ctx); err != nil || s.Ready+s.Claimed != 0 {
		t.Errorf("after the worker: %+v, %v; want nothing left", s, err)
	}
}
