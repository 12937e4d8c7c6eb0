// Command fill puts many messages into a queue quickly, for the deep-queue
// benchmark. It sends through package spool as pq send --lines does, in
// batches of 1000 messages, but with spool.Options{NoSync: true}: the
// messages land in the same time buckets under new/ that pq would use, only
// without the fsyncs, which would make a queue of a million take many
// minutes to fill. It prints nothing; its exit status tells.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"

	"pq/spool"
)

func main() {
	root := flag.String("root", "", "spool root")
	queue := flag.String("queue", "", "queue name")
	n := flag.Int("n", 1000, "number of messages")
	size := flag.Int("size", 100, "body size in bytes")
	flag.Parse()
	if *root == "" || *queue == "" || *n < 0 {
		fmt.Fprintln(os.Stderr, "usage: fill -root DIR -queue NAME [-n N] [-size BYTES]")
		os.Exit(2)
	}
	if err := fill(*root, *queue, *n, *size); err != nil {
		fmt.Fprintln(os.Stderr, "fill:", err)
		os.Exit(2)
	}
}

// fill sends n messages of size bytes each to queue under root.
func fill(root, queue string, n, size int) error {
	q, err := spool.Open(root, queue, spool.Options{NoSync: true})
	if err != nil {
		return err
	}
	if err := q.Create(); err != nil {
		return err
	}
	body := bytes.Repeat([]byte{'x'}, size)
	b := q.NewBatch()
	defer b.Abort()
	for i := range n {
		if err := b.Add(bytes.NewReader(body)); err != nil {
			return err
		}
		if b.Len() == 1000 || i == n-1 {
			if _, err := b.Commit(); err != nil {
				return err
			}
		}
	}
	return nil
}
