package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"

	"pq/spool"
	"pq/worker"
)

// A Go handler: each message is handled once, failures are retried, and a
// message that can never succeed goes to the dead-letter queue at once.
func Example() {
	root, _ := os.MkdirTemp("", "worker")
	defer os.RemoveAll(root)
	q, err := spool.Open(root, "greetings", spool.Options{})
	if err != nil {
		log.Fatal(err)
	}
	for _, name := range []string{"ada", "", "grace"} {
		if _, err := q.Send(strings.NewReader(name)); err != nil {
			log.Fatal(err)
		}
	}

	greet := func(ctx context.Context, m *worker.Message) error {
		name, err := io.ReadAll(m.Body())
		if err != nil {
			return err // a failed attempt: retried after a backoff
		}
		if len(name) == 0 {
			return worker.Permanent(errors.New("no name"))
		}
		fmt.Printf("hello, %s (attempt %d)\n", name, m.Attempt())
		return nil // acked
	}
	// Without Wait, Run returns once no ready message is left.
	err = worker.Run(context.Background(), q.Queue(), greet, worker.Options{MaxAttempts: 3})
	if err != nil {
		log.Fatal(err)
	}

	dead, _ := q.DeadLetters()
	for _, d := range dead {
		fmt.Println("dead letter:", d.Reason.Cause)
	}
	// Output:
	// hello, ada (attempt 1)
	// hello, grace (attempt 1)
	// dead letter: no name (permanent failure)
}

// A command per message, as pq recv --exec runs it: the body on its stdin,
// PQ_ID and the other variables in its environment, its exit status
// deciding the message's fate.
func ExampleCommand() {
	root, _ := os.MkdirTemp("", "worker")
	defer os.RemoveAll(root)
	q, _ := spool.Open(root, "words", spool.Options{})
	q.Send(strings.NewReader("hello"))

	h := worker.Command(`tr a-z A-Z; echo " from $PQ_QUEUE"`, worker.CommandOptions{Stdout: os.Stdout, Stderr: os.Stderr})
	if err := worker.Run(context.Background(), q.Queue(), h, worker.Options{MaxAttempts: 5}); err != nil {
		log.Fatal(err)
	}
	// Output:
	// HELLO from words
}
