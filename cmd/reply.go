package cmd

import (
	"cmp"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"pq/spool"
)

// replyOptions are the arguments of pq reply.
type replyOptions struct {
	queue string
	id    spool.ID
}

func replyCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "reply",
		Usage:     "answer a request",
		UsageText: "pq reply [QUEUE] ID",
		Description: "Reads a reply from stdin and hands it to the requester of the request ID\n" +
			"(the id that pq recv --headers shows on its pq-reply-to line, or $PQ_REPLY_TO\n" +
			"in a worker). QUEUE defaults to $PQ_REPLY_QUEUE, else $PQ_QUEUE. When nobody waits for the reply any\n" +
			"more, it is discarded with a warning, and pq reply exits 0; when the request\n" +
			"has a reply already, the first one stands and pq reply exits 1.\n\n" +
			"Example:\n" +
			"  echo 42 | pq reply \"$PQ_REPLY_TO\"    # in a worker's command",
		Action: func(c *cli.Context) error {
			o, err := replyArgs(c)
			if err != nil {
				return err
			}
			return runReply(e, o)
		},
	}
}

// replyArgs reads [QUEUE] ID.
func replyArgs(c *cli.Context) (replyOptions, error) {
	args := c.Args().Slice()
	switch len(args) {
	case 1:
		q := cmp.Or(os.Getenv("PQ_REPLY_QUEUE"), os.Getenv("PQ_QUEUE"))
		if q == "" {
			return replyOptions{}, withHint(usagef("reply: missing QUEUE, and $PQ_QUEUE is not set"), "usage: %s", c.Command.UsageText)
		}
		return replyOptions{queue: q, id: spool.ID(args[0])}, nil
	case 2:
		return replyOptions{queue: args[0], id: spool.ID(args[1])}, nil
	case 0:
		return replyOptions{}, withHint(usagef("reply: missing ID"), "usage: %s", c.Command.UsageText)
	default:
		return replyOptions{}, withHint(usagef("reply: too many arguments: %q", args[2:]), "usage: %s", c.Command.UsageText)
	}
}

func runReply(e *env, o replyOptions) error {
	q, err := e.existingQueue(o.queue)
	if err != nil {
		return err
	}
	err = q.Reply(o.id, e.In)
	switch {
	case errors.Is(err, spool.ErrNoRequester):
		fmt.Fprintf(e.Err, "pq: warning: %s\n", oneLine(err.Error()))
		return nil
	case errors.Is(err, spool.ErrReplied):
		return withStatus(ExitNothing, err)
	}
	return err
}
