package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"pq/jetstream"
	"pq/jetstream/natstest"
	"pq/queue"
	"pq/worker"
)

// boundedCtx returns a context that ends with the test or after 30 s, so
// that a wait that is never answered fails the test instead of hanging it.
func boundedCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// natsQueue starts a NATS server and returns a queue on it whose claims
// lapse after ackWait without a renewal.
func natsQueue(t *testing.T, ackWait time.Duration) queue.Queue {
	t.Helper()
	s := natstest.Start(t)
	ctx := boundedCtx(t)
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
	ctx := boundedCtx(t)
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

// A request on NATS is answered by the command's stdout, once it exits 0;
// a request whose command fails for good tells its requester at once; and
// a reply that nobody waits for is discarded while its request is acked.
func TestACommandAnswersRequestsOnNATS(t *testing.T) {
	q := natsQueue(t, 5*time.Second)
	ctx := boundedCtx(t)
	rq := q.(queue.Requester)
	ask := func(body string) queue.Request {
		t.Helper()
		r, err := rq.Request(ctx, queue.Message{Body: strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Withdraw() })
		return r
	}
	answered, refused, withdrawn := ask("6x7"), ask("fail"), ask("nobody")
	withdrawn.Withdraw()
	// The requesters wait while the worker runs, as pq request does.
	replies, failures := make(chan string, 1), make(chan error, 1)
	go func() {
		rc, err := answered.Wait(ctx)
		if err != nil {
			replies <- err.Error()
			return
		}
		b, _ := io.ReadAll(rc)
		replies <- string(b)
	}()
	go func() {
		_, err := refused.Wait(ctx)
		failures <- err
	}()
	h := worker.Command(`read x; [ "$x" != fail ] || exit 100; echo "answer to $x"`, worker.CommandOptions{})
	if err := worker.Run(ctx, q, h, worker.Options{MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	if got := <-replies; got != "answer to 6x7\n" {
		t.Errorf("reply %q", got)
	}
	var dl *queue.DeadLetterError
	select {
	case err := <-failures:
		if !errors.As(err, &dl) || !strings.Contains(dl.Reason.Cause, "exit status 100") {
			t.Errorf("a dead-lettered request's Wait: %v, want a DeadLetterError with its cause", err)
		}
	case <-time.After(5 * time.Second): // the notice comes with the dead letter, before Run returns
		t.Fatal("the requester of a dead-lettered request heard nothing")
	}
	if s, err := q.Stat(ctx); err != nil || s.Ready+s.Claimed != 0 || s.Dead != 1 {
		t.Errorf("after the worker: %+v, %v; want the withdrawn request acked, one dead letter", s, err)
	}
}

// A worker running four handlers on NATS claims for its free handlers
// together, and still handles each message exactly once.
func TestAWorkerOnNATSHandlesEachMessageOnce(t *testing.T) {
	q := natsQueue(t, 5*time.Second)
	ctx := boundedCtx(t)
	const n = 200
	var msgs []queue.Message
	for i := range n {
		msgs = append(msgs, queue.Message{Body: strings.NewReader(fmt.Sprint(i))})
	}
	if _, err := q.(queue.BatchSender).SendBatch(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	running, most := 0, 0
	h := func(ctx context.Context, m *worker.Message) error {
		b, _ := io.ReadAll(m.Body())
		mu.Lock()
		seen[string(b)]++
		running++
		most = max(most, running)
		mu.Unlock()
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	}
	if err := worker.Run(ctx, q, h, worker.Options{Jobs: 4, MaxAttempts: 3}); err != nil {
		t.Fatal(err)
	}
	if most > 4 {
		t.Errorf("%d handlers ran at once, want at most 4", most)
	}
	for i := range n {
		if k := fmt.Sprint(i); seen[k] != 1 {
			t.Errorf("message %s handled %d times", k, seen[k])
		}
	}
	if s, err := q.Stat(ctx); err != nil || s.Ready+s.Claimed != 0 {
		t.Errorf("after the worker: %+v, %v; want nothing left", s, err)
	}
}
