package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// peekOptions are the flags of pq peek.
type peekOptions struct {
	queue   string
	id      spool.ID // "": the oldest ready message
	headers bool
}

func peekCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "peek",
		Usage:     "print a message's body without receiving it",
		UsageText: "pq peek [--headers] [--identity FILE] QUEUE [ID]",
		Description: "Prints the body of the message that a receiver would take next (the oldest\n" +
			"ready one of the highest priority; a receiver may pass it by while its group is\n" +
			"busy), or of the message ID in any state, without claiming it: the message\n" +
			"stays where it is, and nothing in the queue changes. With --headers, the body\n" +
			"is framed as by 'pq recv --headers'. Exits 1 when no message is ready.\n\n" +
			"Example: pq peek --headers jobs",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "headers", Usage: "print before the body a line 'ID SIZE', its headers as KEY=VALUE lines, and an empty line"},
			identityFlag(),
		},
		Action: func(c *cli.Context) error {
			o := peekOptions{headers: c.Bool("headers")}
			switch c.Args().Len() {
			case 2:
				o.id = spool.ID(c.Args().Get(1))
				fallthrough
			case 1:
				o.queue = c.Args().First()
			case 0:
				return withHint(usagef("peek: missing QUEUE"), "usage: %s", c.Command.UsageText)
			default:
				return withHint(usagef("peek: too many arguments: %q", c.Args().Slice()[2:]), "usage: %s", c.Command.UsageText)
			}
			if err := e.useIdentity(c.String("identity")); err != nil {
				return err
			}
			return runPeek(e, o)
		},
	}
}

func runPeek(e *env, o peekOptions) error {
	ctx := context.Background()
	pk, err := openAs[queue.Peeker](ctx, e, o.queue, "peek")
	if err != nil {
		return err
	}
	m, err := pk.PeekMessage(ctx, o.id)
	if errors.Is(err, queue.ErrEmpty) {
		return errNothing
	}
	if err != nil {
		return identityHint(err, o.queue)
	}
	defer m.Body.Close()
	out := bufio.NewWriterSize(e.Out, 64<<10)
	if o.headers {
		fmt.Fprintf(out, "%s %d\n", m.Entry.ID, m.Size)
		if m.Request {
			fmt.Fprintf(out, "pq-reply-to=%s\n", m.Entry.ID)
		}
		if m.Entry.Sender != "" {
			writeSender(out, m.Entry.SenderUID)
		}
		for _, h := range m.Headers {
			fmt.Fprintf(out, "%s=%s\n", h.Key, h.Value)
		}
		out.WriteString("\n")
	}
	if _, err := io.Copy(out, m.Body); err != nil {
		return fmt.Errorf("peek %s: %w", m.Entry.ID, err)
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	return nil
}
