package jetstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"pq/jetstream/natstest"
	"pq/queue"
)

// TestClusterLosesOneServer: on three servers with three replicas, a
// server shut down while claimers run loses nothing acknowledged; every
// message is handled at least once; dedup and dead letters work as on
// one server; and a server restarted on its store directory finds the
// queue again.
func TestClusterLosesOneServer(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster of three servers: not in -short")
	}
	c := natstest.StartCluster(t, 3)
	b := dial(t, c.URLs())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if err := b.Init(ctx, "orders", InitOptions{Replicas: 3, AckWait: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	q, _ := b.Queue("orders")
	if n, err := q.Replicas(ctx); err != nil || n != 3 {
		t.Fatalf("Replicas = %d, %v", n, err)
	}
	const total = 200
	sent := map[queue.ID]bool{}
	for i := range total {
		id, err := q.Send(ctx, queue.Message{Body: strings.NewReader(strconv.Itoa(i)), DedupID: fmt.Sprint("k", i)})
		if err != nil {
			t.Fatal(err)
		}
		sent[id] = true
	}

	var mu sync.Mutex
	handled := map[queue.ID]int{}
	var acked []queue.ID
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { claimAll(t, cctx, q, &mu, handled, &acked, total) })
	}
	// Shut the consumer's leader down once a quarter of the messages
	// are acked.
	down := 0
	for i, s := range c.Servers {
		if s.NATS().JetStreamIsConsumerLeader("$G", q.stream, consumerName) {
			down = i
		}
	}
	if !waitFor(ctx, func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= total/4 }) {
		t.Fatal("a quarter of the messages not acked in time")
	}
	c.Servers[down].Shutdown()
	wg.Wait()
	if t.Failed() {
		return
	}
	for id := range sent {
		if handled[id] == 0 {
			t.Errorf("message %s never handled", id)
		}
	}
	// What comes back after an ack that failed is handled again.
	eventually(t, ctx, "all acked", func(ctx context.Context) error {
		st, err := q.Stat(ctx)
		if err != nil || st.Ready+st.Claimed == 0 {
			return err
		}
		cl, err := receiver(t, q).Claim(ctx, true)
		if err == nil {
			t.Logf("%s came back (attempt %d)", cl.ID(), cl.Attempt())
			cl.Ack()
		}
		return fmt.Errorf("stat %+v", st)
	})

	// Dedup and dead letters on the cluster with a server down.
	eventually(t, ctx, "a dedup send", func(ctx context.Context) error {
		id, err := q.Send(ctx, queue.Message{Body: strings.NewReader("again"), DedupID: "k0"})
		if err == nil && !sent[id] {
			t.Errorf("a dedup send of k0 made %s; want the first ID", id)
		}
		return err
	})
	poison := send(t, q, "poison")
	r := receiver(t, q)
	cl := claim(t, r)
	if cl.ID() != poison {
		t.Fatalf("claimed %s, want %s", cl.ID(), poison)
	}
	if err := cl.DeadLetter(queue.Reason{Cause: "exit status 1"}); err != nil {
		t.Fatal(err)
	}

	// A restarted server finds the queue and its dead letter again.
	c.Restart(down)
	left := send(t, q, "after the restart")
	if cl := claim(t, r); cl.ID() != left {
		t.Errorf("after the restart claimed %s, want %s", cl.ID(), left)
	} else if err := cl.Ack(); err != nil {
		t.Error(err)
	}
	if ds := deadLetters(t, q); len(ds) != 1 || ds[0].ID != poison {
		t.Errorf("dead letters after the restart: %+v", ds)
	}

	// Every server restarted on its store: what is left is what the
	// stores kept.
	kept := send(t, q, "kept")
	b.Close()
	c.RestartAll()
	b = dial(t, c.URLs())
	q, _ = b.Queue("orders")
	var last string
	if !waitFor(ctx, func() bool {
		sctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		st, err := q.Stat(sctx)
		_, rerr := q.Replicas(sctx) // the queue's stream answers too
		last = fmt.Sprintf("%+v %v %v", st, err, rerr)
		return err == nil && rerr == nil && st.Ready == 1 && st.Dead == 1
	}) {
		t.Log(last)
		t.Fatal("the queue did not come back with its message and its dead letter")
	}
	// Read by sequence, not claimed: after every server of a cluster
	// restarted, nats-server 2.15.2 was seen once in a few runs to hand
	// out no message that was stored before the restart until a new one
	// came.
	var listed []string
	for e, err := range q.Messages(ctx) {
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, string(e.ID)+" "+string(e.Body))
	}
	if want := string(kept) + " kept"; len(listed) != 1 || listed[0] != want {
		t.Errorf("after restarting every server the queue holds %q, want %q", listed, want)
	}
}

// claimAll claims and acks messages until total distinct ones were
// handled, or ctx ends, recording each.
func claimAll(t *testing.T, ctx context.Context, q *Queue, mu *sync.Mutex, handled map[queue.ID]int, acked *[]queue.ID, total int) {
	r, err := q.NewReceiver(ctx)
	if err != nil {
		t.Error(err)
		return
	}
	defer r.Close()
	for {
		mu.Lock()
		done := len(handled) >= total
		mu.Unlock()
		if done {
			return
		}
		if ctx.Err() != nil {
			t.Errorf("%d messages handled of %d", len(handled), total)
			return
		}
		wctx, cancel := context.WithTimeout(ctx, time.Second)
		c, err := r.Claim(wctx, true)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			continue // nothing within a second
		}
		if err != nil {
			// A waiting claim pulls again through a leader's change.
			t.Errorf("claim while a server goes down: %v", err)
			continue
		}
		mu.Lock()
		handled[c.ID()]++
		mu.Unlock()
		if err := c.Ack(); err != nil {
			t.Logf("ack %s: %v", c.ID(), err)
			continue // the message may come back
		}
		mu.Lock()
		*acked = append(*acked, c.ID())
		mu.Unlock()
	}
}

func contains(ids []queue.ID, id queue.ID) bool {
	for _, x := range ids {
		if x == id {
			return true
		}
	}
	return false
}

// eventually calls f, with a few seconds each time, until it returns nil,
// and fails the test if ctx ends first: a cluster that lost a server
// answers once it has elected new leaders.
func eventually(t *testing.T, ctx context.Context, what string, f func(context.Context) error) {
	t.Helper()
	start := time.Now()
	var err error
	for ctx.Err() == nil {
		tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err = f(tctx)
		cancel()
		if err == nil {
			if d := time.Since(start); d > time.Second {
				t.Logf("%s took %s", what, d.Round(time.Millisecond))
			}
			return
		}
	}
	t.Fatalf("%s: %v", what, err)
}

// waitFor reports, polling, whether cond came true before ctx ended.
func waitFor(ctx context.Context, cond func() bool) bool {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}
