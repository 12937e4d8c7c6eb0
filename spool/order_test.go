package spool

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestEveryReceiverGetsEachSendersMessagesInOrder runs senders that commit
// batches (small and bulk) at once, while receivers drain the queue, and
// checks that each receiver saw each sender's messages in the order they
// were sent: names are given at commit, under the commit lock, and each
// directory is read as one snapshot.
func TestEveryReceiverGetsEachSendersMessagesInOrder(t *testing.T) {
	const senders, receivers, perSender = 4, 4, 1000
	q := newQueue(t, Options{NoSync: true})
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := q.NewBatch()
			defer b.Close()
			for i := range perSender {
				if err := b.Add(strings.NewReader(fmt.Sprintf("%d %d", s, i))); err != nil {
					t.Error(err)
					return
				}
				// Batches of every size, bulk ones included.
				if b.Len() >= 1+(i*7)%200 {
					if _, err := b.Commit(); err != nil {
						t.Error(err)
						return
					}
				}
			}
			if _, err := b.Commit(); err != nil {
				t.Error(err)
			}
		}()
	}
	sendersDone := make(chan struct{})
	go func() { wg.Wait(); close(sendersDone) }()

	var mu sync.Mutex
	total := 0
	var rg sync.WaitGroup
	for range receivers {
		rg.Add(1)
		go func() {
			defer rg.Done()
			last := map[int]int{}
			lastID := map[int]ID{}
			r := q.NewReceiver()
			for {
				c, err := r.Claim()
				if err != nil {
					select {
					case <-sendersDone:
						if c, err = r.Claim(); err != nil {
							return // the queue is drained
						}
					default:
						continue
					}
				}
				b := readAll(t, c)
				if err := q.Ack(c); err != nil {
					t.Error(err)
					return
				}
				f := strings.Fields(b)
				s, _ := strconv.Atoi(f[0])
				i, _ := strconv.Atoi(f[1])
				if prev, ok := last[s]; ok && i <= prev {
					t.Errorf("a receiver got message %d (%s) of sender %d after message %d (%s)", i, c.ID(), s, prev, lastID[s])
				}
				last[s] = i
				lastID[s] = c.ID()
				mu.Lock()
				total++
				mu.Unlock()
			}
		}()
	}
	rg.Wait()
	if total != senders*perSender {
		t.Fatalf("received %d messages, want %d", total, senders*perSender)
	}
}

// readAll reads a claim's body.
func readAll(t *testing.T, c *Claim) string {
	t.Helper()
	b, err := io.ReadAll(c.Body())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestIDsRiseAcrossSendersAndClockSteps shows the commit lock's record of
// the last name: a sender whose clock is behind the last name given still
// names its message after it, and puts it in no earlier bucket.
func TestIDsRiseAcrossSendersAndClockSteps(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	first, err := q.Send(strings.NewReader("a"))
	if err != nil {
		t.Fatal(err)
	}
	sent, _ := IDTime(first)
	setClock(t, sent.Add(-time1h)) // the clock steps back an hour
	second, err := q.Send(strings.NewReader("b"))
	if err != nil {
		t.Fatal(err)
	}
	if second <= first {
		t.Fatalf("after the clock stepped back, %s was named before %s", second, first)
	}
	r := q.NewReceiver()
	if got := receiveBody(t, r); got != "a" {
		t.Fatalf("first = %q, want a", got)
	}
	if got := receiveBody(t, r); got != "b" {
		t.Fatalf("second = %q, want b", got)
	}
}

// TestAReceiverLooksBackWhenALaterBucketAppears: a receiver has just left
// the bucket of now, empty, when a sender commits one message into it and
// the next into the following bucket. The receiver must take the first
// before the second.
func TestAReceiverLooksBackWhenALaterBucketAppears(t *testing.T) {
	t0 := time.Now().Truncate(10 * time.Millisecond)
	setClock(t, t0)
	q := newQueue(t, Options{NoSync: true})
	q.Send(strings.NewReader("earlier"))
	r := q.NewReceiver()
	if got := receiveBody(t, r); got != "earlier" {
		t.Fatalf("got %q", got)
	}
	setHooks(t, "walk-left", func(dir string) {
		if filepath.Base(dir) != bucket(t0.UnixNano())[8+4:] {
			t.Fatalf("left %s, want the bucket of now", dir)
		}
		now = func() time.Time { return t0.Add(time.Millisecond) }
		q.Send(strings.NewReader("first"))
		now = func() time.Time { return t0.Add(10 * time.Millisecond) }
		q.Send(strings.NewReader("second"))
	})
	for _, want := range []string{"first", "second"} {
		if got := receiveBody(t, r); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
}

// A lock file that says the last name was given far in the future (garbage,
// or a clock that was set wrong) is not believed: names follow the clock.
func TestAnUnbelievableLastNameIsIgnored(t *testing.T) {
	q := newQueue(t, Options{NoSync: true})
	var b [16]byte
	for i := range b {
		b[i] = 0x7f
	}
	if err := os.WriteFile(filepath.Join(q.Dir(), lockName), b[:], 0o600); err != nil {
		t.Fatal(err)
	}
	id, err := q.Send(strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	if sent, _ := IDTime(id); sent.After(time.Now().Add(time.Minute)) {
		t.Fatalf("named %s, sent at %v: the garbage in the lock file was believed", id, sent)
	}
}
