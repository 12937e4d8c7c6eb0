package cmd

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// dlqOptions are the flags of pq dlq.
type dlqOptions struct {
	queue  string
	stderr bool // print each dead letter's recorded stderr tail under it
}

func dlqCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "dlq",
		Usage:     "list a queue's dead letters",
		UsageText: "pq dlq [--stderr] QUEUE",
		Description: "Lists the messages in the queue's dead-letter directory, oldest first, one a\n" +
			"line: ID, attempts=N, the time it was dead-lettered (UTC), its size in bytes and\n" +
			"the cause, separated by tabs; '-' stands for a time or cause never recorded.\n" +
			"With --stderr, each line is followed by the last lines its handler wrote to\n" +
			"stderr, indented by two spaces. 'pq retry' puts dead letters back.\n\n" +
			"Example:\n" +
			"  pq dlq --stderr jobs",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "stderr", Usage: "print each dead letter's recorded stderr, indented"},
		},
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			return runDLQ(e, dlqOptions{queue: name, stderr: c.Bool("stderr")})
		},
	}
}

func runDLQ(e *env, o dlqOptions) error {
	bq, err := e.open(context.Background(), o.queue)
	if err != nil {
		return err
	}
	if _, ok := spool.Unwrap(bq); !ok {
		return runDLQQueue(e, bq, o)
	}
	q, err := e.existingQueue(o.queue)
	if err != nil {
		return err
	}
	dead, err := q.DeadLetters()
	if err != nil {
		return err
	}
	out := bufio.NewWriter(e.Out)
	for _, d := range dead {
		fmt.Fprintln(out, dlqLine(d))
		if o.stderr {
			writeIndented(out, d.Reason.Stderr)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	return nil
}

// dlqLine formats a dead letter as pq dlq prints it:
// ID, attempts=N, time, size and cause, separated by tabs.
func dlqLine(d spool.DeadLetter) string {
	r := d.Reason
	if r.Attempts == 0 {
		r.Attempts = d.Name.Attempts // no reason recorded: the name still counts
	}
	line := reasonLine(d.Name.ID, r, d.Size)
	if d.Original != "" {
		line += "\toriginal=" + strconv.Quote(d.Original)
	}
	if d.Name.Priority != spool.DefaultPriority {
		line += "\tpriority=" + strconv.Itoa(d.Name.Priority)
	}
	if d.Name.Group != "" {
		line += "\tgroup=" + d.Name.Group
	}
	return line
}

// reasonLine formats the fields that every dead letter has: ID,
// attempts=N, time, size and cause, separated by tabs.
func reasonLine(id queue.ID, r queue.Reason, size int64) string {
	at := "-"
	if !r.Time.IsZero() {
		at = r.Time.UTC().Format(time.RFC3339)
	}
	cause := oneLine(r.Cause) // a tab or newline would split the line
	if cause == "" {
		cause = "-"
	}
	return fmt.Sprintf("%s\tattempts=%d\t%s\t%d\t%s", id, r.Attempts, at, size, cause)
}

// runDLQQueue is pq dlq on a queue that is not a spool's.
func runDLQQueue(e *env, q queue.Queue, o dlqOptions) error {
	dead, err := q.DeadLetters(context.Background())
	if err != nil {
		return withHint(err, "check the name, or create the queue with 'pq init %s'", o.queue)
	}
	out := bufio.NewWriter(e.Out)
	for _, d := range dead {
		fmt.Fprintln(out, reasonLine(d.ID, d.Reason, d.Size))
		if o.stderr {
			writeIndented(out, d.Reason.Stderr)
		}
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	return nil
}

// writeIndented writes each line of text indented by two spaces.
func writeIndented(out *bufio.Writer, text string) {
	if text == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fmt.Fprintf(out, "  %s\n", line)
	}
}
