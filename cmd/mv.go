package cmd

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"pq/spool"
	"pq/worker"
)

// mvOptions are the arguments of pq mv.
type mvOptions struct {
	queue string
	ids   []spool.ID
	to    string
}

func mvCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "mv",
		Usage:     "move ready messages to another queue, exactly once",
		UsageText: "pq mv QUEUE ID... QUEUE2",
		Description: "Moves the ready messages with the given IDs from QUEUE to QUEUE2, each as a\n" +
			"new message there with its body, priority, time to live and headers, and\n" +
			"prints its new ID, one line each, in the order given. A crash at any point\n" +
			"leaves each message in exactly one of the two queues ('pq recover QUEUE'\n" +
			"finishes a move that was under way). An ID that is not ready in QUEUE\n" +
			"(delayed, claimed, dead-lettered or unknown) is an error; the others are\n" +
			"moved all the same. QUEUE2 is created if it does not exist.\n\n" +
			"Example:\n" +
			"  pq mv jobs 1796102977007693191.31492_12cd9d2e.host slow-jobs",
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) < 3 {
				return withHint(usagef("mv: need QUEUE, at least one ID and QUEUE2"), "usage: %s", c.Command.UsageText)
			}
			o := mvOptions{queue: args[0], to: args[len(args)-1]}
			seen := map[spool.ID]bool{}
			for _, a := range args[1 : len(args)-1] {
				if id := spool.ID(a); !seen[id] { // an ID named twice is moved once
					seen[id] = true
					o.ids = append(o.ids, id)
				}
			}
			if err := spool.ValidName(o.to); err != nil {
				return err
			}
			if o.to == o.queue {
				return usagef("mv: QUEUE and QUEUE2 are the same queue, %s", o.queue)
			}
			return runMv(e, o)
		},
	}
}

func runMv(e *env, o mvOptions) error {
	q, err := e.existingQueue(o.queue)
	if err != nil {
		return err
	}
	to, err := e.queue(o.to)
	if err != nil {
		return err
	}
	if err := sameSeal(q, to); err != nil {
		return err
	}
	claims, err := q.ClaimIDs(o.ids...)
	if err != nil {
		return err
	}
	out := bufio.NewWriter(e.Out)
	var missing []string
	for _, id := range o.ids {
		c := claims[id]
		if c == nil {
			missing = append(missing, string(id))
			continue
		}
		if err == nil {
			err = moveOne(q, to, c, out)
		} else {
			err = errors.Join(err, c.Release())
		}
	}
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write to stdout: %w", ferr)
	}
	if err == nil && len(missing) > 0 {
		err = withHint(fmt.Errorf("mv: not ready in %s: %s: %w", o.queue, strings.Join(missing, " "), spool.ErrNoMessage),
			"only ready messages move; 'pq dlq %s' lists the dead letters", o.queue)
	}
	return err
}

// moveOne moves the claimed message c from q to to, and prints its new ID.
func moveOne(q, to *spool.Queue, c *spool.Claim, out *bufio.Writer) error {
	id, err := c.MoveTo(to)
	if id == "" {
		return errors.Join(err, c.Release())
	}
	fmt.Fprintln(out, id)
	if aerr := q.Ack(c); err == nil {
		err = aerr
	}
	return err
}

// checkTo checks the queue of pq recv --exec --to.
func checkTo(o execOptions) error {
	if o.to == "" {
		return nil
	}
	if err := spool.ValidName(o.to); err != nil {
		return err
	}
	if o.to == o.queue {
		return usagef("recv: --to names the queue received from, %s", o.queue)
	}
	return nil
}

// openTo opens the queue of --to, if any, as where the commands' stdout
// goes.
func openTo(e *env, o execOptions, co *worker.CommandOptions) error {
	if o.to == "" {
		return nil
	}
	to, err := e.queue(o.to)
	if err != nil {
		return err
	}
	co.To = to
	return nil
}

// writeReplyTo writes the reply address of the request c, claimed from q,
// for pq recv --headers: a line pq-reply-to=ID, and for a request moved
// from another queue a line pq-reply-queue=QUEUE, where pq reply must
// answer it.
func writeReplyTo(w io.Writer, queue string, c *spool.Claim) {
	rq, id := c.ReplyTo()
	fmt.Fprintf(w, "pq-reply-to=%s\n", id)
	if rq.Name() != queue {
		fmt.Fprintf(w, "pq-reply-queue=%s\n", rq.Name())
	}
}
