package cmd

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// lsOptions are the flags of pq ls.
type lsOptions struct {
	queue  string
	states []spool.State // none: all
	json   bool
	limit  int // 0: no limit
	human  bool
}

func lsCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Usage:     "list the queues, or a queue's messages",
		UsageText: "pq ls [--json]\npq ls [--state ready|delayed|inflight|dead]... [-n N] [--json] QUEUE",
		Description: "Without QUEUE, prints the names of the spool's queues, one a line. With\n" +
			"QUEUE, prints its messages, one a line, oldest first: the ready ones in the\n" +
			"order receivers take them (highest priority first), then the delayed ones by\n" +
			"due time, then those in flight, then the dead letters. The fields, separated\n" +
			"by tabs, are ID, state, size in bytes, age (whole seconds since it was sent;\n" +
			"human units on a terminal), attempts, due time (RFC 3339, UTC), priority,\n" +
			"group, number of headers and, for a dead letter, its cause; '-' stands for\n" +
			"none. It reads no body, takes no lock and changes nothing.\n\n" +
			"Example: pq ls --state dead -n 10 jobs",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "state", Usage: "list only messages in `STATE`: ready, delayed, inflight or dead (repeatable)"},
			&cli.IntFlag{Name: "n", Usage: "list at most `N` messages (0: all)", DefaultText: "all"},
			&cli.BoolFlag{Name: "json", Usage: "print a JSON array"},
		},
		Action: func(c *cli.Context) error {
			o := lsOptions{json: c.Bool("json"), limit: c.Int("n"), human: isTerminal(e.Out)}
			if o.limit < 0 {
				return usagef("ls: -n must be 0 or more")
			}
			for _, s := range c.StringSlice("state") {
				st, ok := spool.ParseState(s)
				if !ok {
					return withHint(usagef("ls: unknown state %q", s), "states are ready, delayed, inflight and dead")
				}
				o.states = append(o.states, st)
			}
			switch c.Args().Len() {
			case 0:
				if o.states != nil || o.limit != 0 {
					return usagef("ls: --state and -n need a QUEUE")
				}
				return runListQueues(e, o.json)
			case 1:
				o.queue = c.Args().First()
				return runLs(e, o)
			}
			return withHint(usagef("ls: too many arguments: %q", c.Args().Slice()[1:]), "usage: %s", c.Command.UsageText)
		},
	}
}

func runListQueues(e *env, asJSON bool) error {
	names, err := e.queueNames(context.Background())
	if err != nil {
		return err
	}
	out := bufio.NewWriter(e.Out)
	if asJSON {
		if names == nil {
			names = []string{}
		}
		b, _ := json.Marshal(names)
		fmt.Fprintf(out, "%s\n", b)
	}
	for _, n := range names {
		if !asJSON {
			fmt.Fprintln(out, n)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	return nil
}

// lsJSON is one message in the output of pq ls --json. The field names
// are documented in the README and stay.
type lsJSON struct {
	ID         string     `json:"id"`
	State      string     `json:"state"`
	Size       int64      `json:"size"`
	Sent       time.Time  `json:"sent"`
	AgeSeconds float64    `json:"age_seconds"`
	Attempts   int        `json:"attempts"`
	Due        *time.Time `json:"due"`
	Expires    *time.Time `json:"expires"`
	Priority   int        `json:"priority"`
	Group      string     `json:"group"`
	Headers    int        `json:"headers"`
	Sender     string     `json:"sender"`
	SenderUID  uint32     `json:"sender_uid"`
	Reason     *string    `json:"reason"`
}

func runLs(e *env, o lsOptions) error {
	ctx := context.Background()
	b, err := openAs[queue.Browser](ctx, e, o.queue, "ls")
	if err != nil {
		return err
	}
	at := time.Now()
	entries := func(yield func(lsJSON, error) bool) {
		for m, err := range b.Browse(ctx, o.states...) {
			if !yield(describe(m, at), err) || err != nil {
				return
			}
		}
	}
	out := bufio.NewWriterSize(e.Out, 64<<10)
	n := 0
	for j, err := range entries {
		if err != nil {
			return err
		}
		if o.json {
			b, _ := json.Marshal(j)
			sep := ",\n"
			if n == 0 {
				sep = "[\n"
			}
			fmt.Fprintf(out, "%s  %s", sep, b)
		} else {
			fmt.Fprintln(out, lsLine(j, o.human))
		}
		if n++; n == o.limit {
			break
		}
	}
	if o.json && n == 0 {
		out.WriteString("[")
	}
	if o.json {
		out.WriteString("\n]\n")
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	return nil
}

// describe is what pq ls shows of the message m, at the time at.
func describe(m queue.Entry, at time.Time) lsJSON {
	j := lsJSON{ID: string(m.ID), State: m.State.String(), Size: m.Size, Sent: m.Sent.UTC(),
		AgeSeconds: ageOf(m.Sent, at).Round(time.Millisecond).Seconds(), Attempts: m.Attempts,
		Priority: m.Priority, Group: m.Group, Headers: m.Headers, Sender: m.Sender, SenderUID: m.SenderUID}
	if j.Sender == "" {
		j.Sender = "-" // the backend does not know
	}
	if !m.Due.IsZero() {
		t := m.Due.UTC()
		j.Due = &t
	}
	if !m.Expires.IsZero() {
		t := m.Expires.UTC()
		j.Expires = &t
	}
	if m.State == queue.StateDead {
		cause := oneLine(m.Cause)
		j.Reason = &cause
	}
	return j
}

// lsLine formats a message as pq ls prints it, fields separated by tabs.
func lsLine(j lsJSON, human bool) string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	age := strconv.FormatInt(int64(j.AgeSeconds), 10)
	if human {
		age = humanAge(time.Duration(j.AgeSeconds * float64(time.Second)))
	}
	due, reason := "-", "-"
	if j.Due != nil {
		due = j.Due.Format(time.RFC3339)
	}
	if j.Reason != nil {
		reason = dash(*j.Reason)
	}
	return fmt.Sprintf("%s\t%s\t%d\t%s\t%d\t%s\t%d\t%s\t%d\t%s\t%s", j.ID, j.State, j.Size, age, j.Attempts, due, j.Priority, dash(j.Group), j.Headers, j.Sender, reason)
}
