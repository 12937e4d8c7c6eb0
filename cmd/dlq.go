package cmd

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

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
	attempts := d.Reason.Attempts
	if attempts == 0 {
		attempts = d.Name.Attempts // no reason recorded: the name still counts
	}
	at := "-"
	if !d.Reason.Time.IsZero() {
		at = d.Reason.Time.UTC().Format(time.RFC3339)
	}
	cause := oneLine(d.Reason.Cause) // a tab or newline would split the line
	if cause == "" {
		cause = "-"
	}
	line := fmt.Sprintf("%s\tattempts=%d\t%s\t%d\t%s", d.Name.ID, attempts, at, d.Size, cause)
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

// writeIndented writes each line of text indented by two spaces.
func writeIndented(out *bufio.Writer, text string) {
	if text == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		fmt.Fprintf(out, "  %s\n", line)
	}
}
