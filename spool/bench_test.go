package spool

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"
)

var body100 = strings.Repeat("x", 99) + "\n"

// fill sends n messages without syncing, in batches.
func fill(b testing.TB, q *Queue, n int) { fillPriorities(b, q, n, 1) }

// fillPriorities is fill with the messages spread over prios priorities
// (1 to 10) from 0 to 9.
func fillPriorities(b testing.TB, q *Queue, n, prios int) {
	b.Helper()
	batch := q.NewBatch()
	for i := range n {
		o := SendOptions{}
		if prios > 1 {
			p := i % prios * MaxPriority / (prios - 1)
			o.Priority = &p
		}
		if err := batch.AddWith(strings.NewReader(body100), o); err != nil {
			b.Fatal(err)
		}
		if batch.Len() == 1000 || i == n-1 {
			if _, err := batch.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkSend sends 100-byte messages one at a time and in batches of
// 1,000, durable and unsynced.
func BenchmarkSend(b *testing.B) {
	for _, nosync := range []bool{false, true} {
		for _, size := range []int{1, 1000} {
			name := fmt.Sprintf("batch=%d/nosync=%v", size, nosync)
			b.Run(name, func(b *testing.B) {
				q := newQueue(b, Options{NoSync: nosync})
				batch := q.NewBatch()
				b.ResetTimer()
				for i := range b.N {
					batch.Add(strings.NewReader(body100))
					if batch.Len() == size || i == b.N-1 {
						if _, err := batch.Commit(); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}

// BenchmarkReceivePriorities is BenchmarkReceive, unsynced, on a queue
// whose messages are spread over one priority or all ten.
func BenchmarkReceivePriorities(b *testing.B) {
	for _, prios := range []int{1, 10} {
		b.Run(fmt.Sprintf("priorities=%d", prios), func(b *testing.B) {
			q := newQueue(b, Options{NoSync: true})
			fillPriorities(b, q, b.N, prios)
			r := q.NewReceiver()
			var pending []*Claim
			b.ResetTimer()
			for range b.N {
				c, err := r.Claim()
				if err != nil {
					b.Fatal(err)
				}
				pending = append(pending, c)
				if len(pending) == 256 {
					q.Ack(pending...)
					pending = pending[:0]
				}
			}
			q.Ack(pending...)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkReceive claims, reads and acks 100-byte messages with one
// long-lived Receiver, acking in groups of 256, durable and unsynced.
func BenchmarkReceive(b *testing.B) {
	for _, nosync := range []bool{false, true} {
		b.Run(fmt.Sprintf("nosync=%v", nosync), func(b *testing.B) {
			q := newQueue(b, Options{NoSync: nosync})
			fill(b, q, b.N)
			r := q.NewReceiver()
			var pending []*Claim
			buf := new(bytes.Buffer)
			b.ResetTimer()
			for range b.N {
				c, err := r.Claim()
				if err != nil {
					b.Fatal(err)
				}
				buf.Reset()
				io.Copy(buf, c.Body())
				pending = append(pending, c)
				if len(pending) == 256 {
					q.Ack(pending...)
					pending = pending[:0]
				}
			}
			q.Ack(pending...)
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// BenchmarkOneShotClaim is what one `pq recv` pays to find and claim the
// oldest message with a fresh Receiver, at several depths of queue. The cost
// should not grow with the depth.
func BenchmarkOneShotClaim(b *testing.B) {
	for _, depth := range []int{100, 10000, 100000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			q := newQueue(b, Options{NoSync: true})
			fill(b, q, depth)
			b.ResetTimer()
			oneShotClaims(b, q)
		})
	}
}

// BenchmarkOneShotClaimAmongDelayed is BenchmarkOneShotClaim on a queue of
// 100 ready messages that also holds many delayed ones, due over the next
// day: they must cost a receiver nothing until they are due.
func BenchmarkOneShotClaimAmongDelayed(b *testing.B) {
	for _, delayed := range []int{0, 100000} {
		b.Run(fmt.Sprintf("delayed=%d", delayed), func(b *testing.B) {
			q := newQueue(b, Options{NoSync: true})
			fill(b, q, 100)
			batch := q.NewBatch()
			start := time.Now().Add(time.Hour)
			for i := range delayed {
				due := start.Add(time.Duration(i) * 24 * time.Hour / time.Duration(delayed))
				if err := batch.AddWith(strings.NewReader(body100), SendOptions{Due: due}); err != nil {
					b.Fatal(err)
				}
				if batch.Len() == 1000 || i == delayed-1 {
					if _, err := batch.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ResetTimer()
			oneShotClaims(b, q)
		})
	}
}

// oneShotClaims claims and releases a message b.N times, each time with a
// fresh Receiver, as one `pq recv` does.
func oneShotClaims(b *testing.B, q *Queue) {
	for range b.N {
		c, err := q.NewReceiver().Claim()
		if err != nil {
			b.Fatal(err)
		}
		// Put it back so the depth stays the same.
		if err := c.Release(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDrain is the per-message cost of a long-running receiver draining
// a queue of the given depth: it should be the same at any depth.
func BenchmarkDrain(b *testing.B) {
	for _, depth := range []int{1000, 100000} {
		b.Run(fmt.Sprintf("depth=%d", depth), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				q := newQueue(b, Options{NoSync: true})
				fill(b, q, depth)
				b.StartTimer()
				eachClaim(b, q.NewReceiver(), func(c *Claim) { q.Ack(c) })
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e9/float64(b.N*depth), "ns/msg")
		})
	}
}
