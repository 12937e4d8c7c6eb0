package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// retryOptions are the arguments and flags of pq retry.
type retryOptions struct {
	queue string
	ids   []spool.ID // the dead letters to retry; none with all
	all   bool
}

func retryCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "retry",
		Usage:     "put dead letters back into their queue",
		UsageText: "pq retry QUEUE ID... | pq retry --all QUEUE",
		Description: "Moves the dead letters with the given IDs, or with --all every one, back\n" +
			"into the queue with their attempt counts reset, each in its place by send\n" +
			"time, and prints the ID of each one moved. An ID that is not a dead letter\n" +
			"of the queue is an error, and then nothing is moved. 'pq dlq' lists the IDs.\n" +
			"On a nats:// root each is sent again as a new message, whose new ID is printed.\n\n" +
			"Example:\n" +
			"  pq retry --all jobs",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "retry every dead letter of the queue"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 0 {
				return withHint(usagef("retry: missing QUEUE"), "usage: %s", c.Command.UsageText)
			}
			o := retryOptions{queue: c.Args().First(), all: c.Bool("all")}
			seen := map[spool.ID]bool{}
			for _, a := range c.Args().Slice()[1:] {
				if id := spool.ID(a); !seen[id] { // an ID named twice is retried once
					seen[id] = true
					o.ids = append(o.ids, id)
				}
			}
			switch {
			case len(o.ids) == 0 && !o.all:
				return withHint(usagef("retry: name the IDs to retry, or --all"), "'pq dlq %s' lists them", o.queue)
			case len(o.ids) > 0 && o.all:
				return usagef("retry: IDs and --all exclude each other")
			}
			return runRetry(e, o)
		},
	}
}

func runRetry(e *env, o retryOptions) error {
	ctx := context.Background()
	rq, err := openAs[queue.Redriver](ctx, e, o.queue, "retry")
	if err != nil {
		return err
	}
	moved, err := rq.Redrive(ctx, o.ids...)
	if errors.Is(err, spool.ErrNoMessage) {
		err = withHint(err, "'pq dlq %s' lists the dead letters", o.queue)
	}
	// What moved before a failure is back in the queue: print it anyway.
	out := bufio.NewWriter(e.Out)
	for _, id := range moved {
		fmt.Fprintln(out, id)
	}
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write to stdout: %w", ferr)
	}
	return err
}
