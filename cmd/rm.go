package cmd

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// rmOptions are the arguments of pq rm.
type rmOptions struct {
	queue string
	ids   []spool.ID
}

func rmCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "rm",
		Usage:     "delete messages by ID",
		UsageText: "pq rm QUEUE ID...",
		Description: "Deletes the messages with the given IDs from QUEUE, whatever their state:\n" +
			"ready, delayed, dead, or in flight when the consumer that claimed it has\n" +
			"died. A message that a live consumer holds is left alone. Prints nothing;\n" +
			"each ID that was held or not found gets a line on stderr, and then pq\n" +
			"exits 2. The deletions are durable when pq rm returns.\n\n" +
			"Example: pq rm jobs $(pq ls --state dead jobs | cut -f1)",
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) < 2 {
				return withHint(usagef("rm: need QUEUE and at least one ID"), "usage: %s", c.Command.UsageText)
			}
			o := rmOptions{queue: args[0]}
			for _, a := range args[1:] {
				o.ids = append(o.ids, spool.ID(a))
			}
			return runRm(e, o)
		},
	}
}

func runRm(e *env, o rmOptions) error {
	ctx := context.Background()
	rq, err := openAs[queue.Remover](ctx, e, o.queue, "rm")
	if err != nil {
		return err
	}
	r, err := rq.Remove(ctx, o.ids...)
	if err != nil {
		return err
	}
	return removalProblems("rm", o.queue, r)
}

// removalProblems turns the messages that a removal left into one error
// line each: those held by a live consumer, and the IDs not found.
func removalProblems(command, queue string, r spool.Removal) error {
	var ps problems
	for _, id := range r.Held {
		ps = append(ps, fmt.Errorf("%s: %s: %w; skipped", command, id, spool.ErrHeld))
	}
	for _, id := range r.Missing {
		ps = append(ps, fmt.Errorf("%s: %s: %w in queue %s", command, id, spool.ErrNoMessage, queue))
	}
	if len(ps) == 0 {
		return nil
	}
	return ps
}
