// Command lateness measures how late a waiting receiver takes delayed
// messages: it sends -n messages due at random times over the next -span,
// then one receiver, as `pq recv --wait` runs it, claims them as they fall
// due, and the program prints the median, 99th percentile and maximum of
// how long after its due time each was claimed. A message claimed before
// its due time is an error (exit 1).
//
// Usage: go run ./bench/lateness [-n 1000] [-span 10s] [-dir DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"pq/spool"
)

func main() {
	n := flag.Int("n", 1000, "messages")
	span := flag.Duration("span", 10*time.Second, "the messages fall due over this span from now")
	dir := flag.String("dir", "", "spool root (default: a new temporary directory)")
	flag.Parse()
	if err := run(*n, *span, *dir); err != nil {
		fmt.Fprintln(os.Stderr, "lateness:", err)
		os.Exit(1)
	}
}

func run(n int, span time.Duration, root string) error {
	if root == "" {
		tmp, err := os.MkdirTemp("", "lateness")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		root = tmp
	}
	q, err := spool.Open(root, "delayed", spool.Options{})
	if err != nil {
		return err
	}
	start := time.Now().Add(time.Second) // after the sends are done
	b := q.NewBatch()
	defer b.Close()
	for range n {
		due := start.Add(time.Duration(rand.Int64N(int64(span))))
		if err := b.AddWith(strings.NewReader("x"), spool.SendOptions{Due: due}); err != nil {
			return err
		}
	}
	if _, err := b.Commit(); err != nil {
		return err
	}
	r := q.NewReceiver()
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), span+time.Minute)
	defer cancel()
	var late []time.Duration
	for len(late) < n {
		c, err := r.Claim()
		if err != nil {
			if err := r.Wait(ctx); err != nil {
				return fmt.Errorf("after %d messages: %w", len(late), err)
			}
			continue
		}
		at := time.Now()
		due := spool.ParseName(filepath.Base(c.Path())).Due
		if err := q.Ack(c); err != nil {
			return err
		}
		d := at.Sub(time.Unix(0, due))
		if d < 0 {
			return fmt.Errorf("message %s was claimed %v before its due time", c.ID(), -d)
		}
		late = append(late, d)
	}
	slices.Sort(late)
	fmt.Printf("lateness of %d delayed messages under a waiting receiver: p50 %v, p99 %v, max %v (goal: p99 < 100ms)\n",
		n, late[n/2].Round(time.Microsecond), late[n*99/100].Round(time.Microsecond), late[n-1].Round(time.Microsecond))
	return nil
}
