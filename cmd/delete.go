package cmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// deleteOptions are the flags of pq delete.
type deleteOptions struct {
	queue string
	force bool
	yes   bool
}

func deleteCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a queue with all its messages, the opposite of init",
		UsageText: "pq delete [--force] [--yes] QUEUE",
		Description: "Deletes QUEUE: its directory and every message in it, dead letters included.\n" +
			"It refuses while a live consumer holds a claim in it, unless --force is given\n" +
			"(those consumers' acks then fail). On a terminal it asks first; with stdin not\n" +
			"a terminal it refuses unless --yes is given. The queue vanishes at once and\n" +
			"whole. Stop its workers first: a 'pq recv --wait' creates the queue again.\n\n" +
			"Example: pq delete --yes scratch",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Usage: "delete even while live consumers hold claims in the queue"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "delete without asking"},
		},
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			return runDelete(e, deleteOptions{queue: name, force: c.Bool("force"), yes: c.Bool("yes")})
		},
	}
}

func runDelete(e *env, o deleteOptions) error {
	ctx := context.Background()
	d, err := openAs[queue.Deleter](ctx, e, o.queue, "delete")
	if err != nil {
		return err
	}
	if !o.force {
		// Refuse before asking; Delete looks again.
		held, err := d.Held(ctx)
		if err != nil {
			return err
		}
		if len(held) > 0 {
			return heldHint(&spool.HeldError{Queue: o.queue, IDs: held}, o.queue)
		}
	}
	if !o.yes {
		s, err := d.Stat(ctx)
		if err != nil {
			return err
		}
		what := countsText(countPart{s.Ready, "ready"}, countPart{s.Delayed, "delayed"},
			countPart{s.Claimed, "in flight"}, countPart{s.Dead, "dead letters"})
		if err := confirm(e, o.yes, "delete", fmt.Sprintf("delete queue %s with all its messages, dead letters included: %s?", o.queue, what)); err != nil {
			return err
		}
	}
	err = d.Delete(ctx, o.force)
	if errors.Is(err, spool.ErrHeld) {
		return heldHint(err, o.queue)
	}
	return err
}

// heldHint adds to err, a queue's held claims, how to delete it anyway.
func heldHint(err error, queue string) error {
	return withHint(err, "stop its consumers, or pass --force to delete it all the same ('pq delete --force %s')", queue)
}
