// Command natsfloor measures what a raw NATS JetStream client does with the
// streams that pq makes, with nothing of pq in between, so that
// bench/nats.sh can state pq's speed on NATS as a ratio to it. It talks to
// the servers with nats.go alone, but for init, which makes a queue through
// package jetstream so that the floor and pq share one configuration.
//
// Modes:
//
//	init   make the queue -queue with -replicas replicas, as `pq init`
//	       does (jetstream.Backend.Init): its work-queue stream, its
//	       dead-letter and advisory streams and its durable consumer
//	send   publish one message per line of stdin (the line without its
//	       newline) to the queue's subject, asynchronously, at most
//	       -window acks outstanding, then wait for every ack and check it:
//	       the best a raw client does for messages the stream has stored;
//	       with -expect, each with the expected-stream header pq adds
//	work   bind to the queue's durable consumer, pull its messages (a
//	       pull of up to 100 kept ahead, as nats.go's Messages does), and
//	       for each run `/bin/sh -c CMD` with the body on stdin, -j at a
//	       time, then ack it and wait for the server to confirm the ack;
//	       stop after -n messages. With -one, pull one message at a time,
//	       once a command slot is free, as pq's worker claims
//
// send and work print one line:
//
//	<messages per second> <total us> <mode>
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	pqjs "pq/jetstream"
)

func main() {
	mode := flag.String("mode", "", "init, send or work")
	root := flag.String("root", os.Getenv("PQ_ROOT"), "NATS URLs, comma-separated")
	name := flag.String("queue", "", "queue name")
	replicas := flag.Int("replicas", 1, "init: replicas of the queue's streams")
	window := flag.Int("window", 4000, "send: most acks outstanding")
	expect := flag.Bool("expect", false, "send: add the expected-stream header that pq adds")
	n := flag.Int("n", 0, "work: messages to process")
	j := flag.Int("j", 4, "work: commands at a time")
	line := flag.String("cmd", "true", "work: the shell command line run per message")
	one := flag.Bool("one", false, "work: pull one message at a time, when a command slot is free, as pq does")
	flag.Parse()
	if *root == "" || *name == "" {
		fail(errors.New("usage: natsfloor -mode init|send|work -root URLS -queue NAME [flags]"))
	}
	ctx := context.Background()
	var err error
	start := time.Now()
	count := 0
	switch *mode {
	case "init":
		err = initQueue(ctx, *root, *name, *replicas)
	case "send":
		count, err = send(ctx, *root, *name, *window, *expect, os.Stdin)
	case "work":
		count, err = work(ctx, *root, *name, *n, *j, *line, *one)
	default:
		err = fmt.Errorf("unknown mode %q", *mode)
	}
	if err != nil {
		fail(err)
	}
	if *mode != "init" {
		us := max(time.Since(start).Microseconds(), 1)
		fmt.Printf("%d %d %s\n", int64(count)*1e6/us, us, *mode)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "natsfloor:", err)
	os.Exit(1)
}

// initQueue makes the queue name as pq init does.
func initQueue(ctx context.Context, root, name string, replicas int) error {
	b, err := pqjs.Dial(ctx, root, pqjs.Options{Name: "natsfloor"})
	if err != nil {
		return err
	}
	defer b.Close()
	return b.Init(ctx, name, pqjs.InitOptions{Replicas: replicas})
}

// connect returns a JetStream client on root.
func connect(root string, opts ...jetstream.JetStreamOpt) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(root, nats.Name("natsfloor"))
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc, opts...)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// send publishes every line of in to the queue's subject, at most window
// acks outstanding, with pq's expected-stream header if expect, and
// returns how many the stream acknowledged.
func send(ctx context.Context, root, name string, window int, expect bool, in io.Reader) (int, error) {
	nc, js, err := connect(root, jetstream.WithPublishAsyncMaxPending(window))
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	subject := pqjs.Subject(name)
	opts := []jetstream.PublishOpt{jetstream.WithStallWait(time.Minute)}
	if expect {
		opts = append(opts, jetstream.WithExpectStream(pqjs.StreamName(name)))
	}
	var futures []jetstream.PubAckFuture
	r := bufio.NewReaderSize(in, 1<<16)
	for {
		b, err := r.ReadBytes('\n')
		if len(b) > 0 {
			b = bytes.TrimSuffix(b, []byte("\n"))
			f, perr := js.PublishMsgAsync(&nats.Msg{Subject: subject, Data: b}, opts...)
			if perr != nil {
				return 0, perr
			}
			futures = append(futures, f)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		return 0, errors.New("acks still pending after a minute")
	}
	for _, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			return 0, err
		}
	}
	return len(futures), nil
}

// work processes n messages of the queue's consumer, j at a time, running
// line through /bin/sh with the body on stdin for each, and acking each
// after its command, waiting for the server's confirmation.
func work(ctx context.Context, root, name string, n, j int, line string, one bool) (int, error) {
	nc, js, err := connect(root)
	if err != nil {
		return 0, err
	}
	defer nc.Close()
	c, err := js.Consumer(ctx, pqjs.StreamName(name), "pq")
	if err != nil {
		return 0, err
	}
	next, stop, err := puller(c, one)
	if err != nil {
		return 0, err
	}
	msgs := make(chan jetstream.Msg)
	go func() {
		defer close(msgs)
		for i := 0; i < n; i++ {
			m, err := next()
			if err != nil {
				return
			}
			msgs <- m
		}
	}()
	var done atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, j)
	for range j {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for m := range msgs {
				if err := process(ctx, m, line); err != nil {
					errs <- err
					return
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	stop()
	select {
	case err := <-errs:
		return int(done.Load()), err
	default:
	}
	if done.Load() != int64(n) {
		return int(done.Load()), fmt.Errorf("processed %d messages, want %d", done.Load(), n)
	}
	return n, nil
}

// puller returns a function that returns the consumer's next message, and
// one that stops the pulls: a pull of up to 100 kept ahead, or, with one,
// a pull of one message at a time when a command slot is free.
func puller(c jetstream.Consumer, one bool) (func() (jetstream.Msg, error), func(), error) {
	if one {
		next := func() (jetstream.Msg, error) {
			for {
				b, err := c.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
				if err != nil {
					return nil, err
				}
				if m, ok := <-b.Messages(); ok {
					return m, nil
				}
				if err := b.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
					return nil, err
				}
			}
		}
		return next, func() {}, nil
	}
	it, err := c.Messages(jetstream.PullMaxMessages(100))
	if err != nil {
		return nil, nil, err
	}
	return func() (jetstream.Msg, error) { return it.Next() }, it.Stop, nil
}

// process runs line for m and acks m.
func process(ctx context.Context, m jetstream.Msg, line string) error {
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.Stdin = bytes.NewReader(m.Data())
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return m.DoubleAck(ctx)
}
