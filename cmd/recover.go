package cmd

import (
	"bufio"
	"context"
	"fmt"
	"pq/queue"

	"github.com/urfave/cli/v2"
)

// recoverOptions are the arguments of pq recover.
type recoverOptions struct {
	queue string
}

func recoverCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "recover",
		Usage:     "put dead claims back and clean up after crashed senders",
		UsageText: "pq recover QUEUE",
		Description: "Puts every message claimed by a receiver that has died back into the queue,\n" +
			"in its place by send time with one more attempt counted, and removes the files\n" +
			"that crashed senders left in tmp/ more than 36 hours ago, the reply places\n" +
			"of requesters that died, and dedup ids past the queue's dedup_window from\n" +
			".dedup/; and finishes the moves to other queues (pq mv, pq recv --to) whose\n" +
			"movers died. Prints one line per action, 'recovered ID', 'moved ID to QUEUE2\n" +
			"[as NEWID]', 'removed tmp/NAME', 'removed .replies/ID' or 'removed .dedup/...',\n" +
			"and nothing when there was\n" +
			"nothing to do. It also gives files renamed into new/ by other programs their\n" +
			"places, moves aside what is no message (named pipes, links, stray directories)\n" +
			"into the queue's .quarantine/ directory, and lists what is there, one\n" +
			"'stray .quarantine/NAME (KIND)' line each. Every pq recv does all this by\n" +
			"itself as it meets them; this is for a queue nobody is receiving from, or for cron.\n\n" +
			"On a nats:// root, where the server gives a dead consumer's messages to\n" +
			"others by itself, it moves the messages that reached the server's delivery\n" +
			"limit with nobody left to dead-letter them into the dead-letter queue, and\n" +
			"prints 'dead-lettered N'.\n\n" +
			"Example:\n" +
			"  pq recover jobs",
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			return runRecover(e, recoverOptions{queue: name})
		},
	}
}

func runRecover(e *env, o recoverOptions) error {
	ctx := context.Background()
	r, err := openAs[queue.Recoverer](ctx, e, o.queue, "recover")
	if err != nil {
		return err
	}
	out := bufio.NewWriter(e.Out)
	// What was done is printed even when a later step fails.
	err = r.Recover(ctx, func(verb, what string) { fmt.Fprintf(out, "%s %s\n", verb, what) })
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write to stdout: %w", ferr)
	}
	return err
}
