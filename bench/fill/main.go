// Command fill puts many messages into a queue quickly, for the deep-queue
// benchmark. It sends through package spool as pq send --lines does, in
// batches of 1000 messages, but with spool.Options{NoSync: true}: the
// messages land in the same time buckets under new/ that pq would use, only
// without the fsyncs, which would make a queue of a million take many
// minutes to fill. With -priorities N (2 to 10), message i gets priority
// i mod N spread over 0 to 9, so that N priorities are in use. It prints
// nothing; its exit status tells.
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
	prios := flag.Int("priorities", 1, "number of priorities in use, 1 to 10")
	flag.Parse()
	if *root == "" || *queue == "" || *n < 0 || *prios < 1 || *prios > 10 {
		fmt.Fprintln(os.Stderr, "usage: fill -root DIR -queue NAME [-n N] [-size BYTES] [-priorities 1-10]")
		os.Exit(2)
	}
	if err := fill(*root, *queue, *n, *size, *prios); err != nil {
		fmt.Fprintln(os.Stderr, "fill:", err)
		os.Exit(2)
	}
}

// fill sends n messages of size bytes each to queue under root, spread
// over prios priorities.
func fill(root, queue string, n, size, prios int) error {
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
		o := spool.SendOptions{}
		if prios > 1 {
			p := i % prios * spool.MaxPriority / (prios - 1)
			o.Priority = &p
		}
		if err := b.AddWith(bytes.NewReader(body), o); err != nil {
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
