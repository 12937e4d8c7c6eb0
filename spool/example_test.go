package spool_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"pq/spool"
)

// A producer sends a message; a consumer claims it, handles it and acks it.
func Example() {
	root, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(root)

	q, err := spool.Open(root, "jobs", spool.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := q.Send(strings.NewReader("resize photo 42")); err != nil {
		log.Fatal(err)
	}

	r := q.NewReceiver()
	c, err := r.Claim()
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(c.Body())
	fmt.Printf("attempt %d: %s\n", c.Attempt(), body)
	if err := q.Ack(c); err != nil {
		log.Fatal(err)
	}

	_, err = r.Claim()
	fmt.Println(errors.Is(err, spool.ErrEmpty))
	// Output:
	// attempt 1: resize photo 42
	// true
}

// A batch makes many messages durable with one commit.
func ExampleBatch() {
	root, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(root)
	q, _ := spool.Open(root, "mail", spool.Options{})

	b := q.NewBatch()
	for _, to := range []string{"ann", "bob", "cy"} {
		if err := b.Add(strings.NewReader("to: " + to)); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := b.Commit(); err != nil {
		log.Fatal(err)
	}

	r := q.NewReceiver()
	for {
		c, err := r.Claim()
		if errors.Is(err, spool.ErrEmpty) {
			break
		}
		body, _ := io.ReadAll(c.Body())
		fmt.Println(string(body))
		q.Ack(c)
	}
	// Output:
	// to: ann
	// to: bob
	// to: cy
}

// A consumer that cannot finish puts its message back for another try.
func ExampleClaim_Retry() {
	root, _ := os.MkdirTemp("", "spool")
	defer os.RemoveAll(root)
	q, _ := spool.Open(root, "jobs", spool.Options{})
	q.Send(strings.NewReader("flaky"))

	c, _ := q.NewReceiver().Claim()
	c.Retry(0) // failed: counts as an attempt; retry at once

	c, _ = q.NewReceiver().Claim()
	fmt.Println("attempt", c.Attempt())
	q.Ack(c)
	// Output: attempt 2
}
