package cmd

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/urfave/cli/v2"

	"pq/spool"
)

// purgeOptions are the flags of pq purge.
type purgeOptions struct {
	queue  string
	states []spool.State // none: all
	yes    bool
	// progress, when set, is told the counts as the purge goes: the
	// place for a display of progress on a terminal.
	progress func(removed, held int)
}

func purgeCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "purge",
		Usage:     "delete every message of a queue",
		UsageText: "pq purge [--state ready|delayed|inflight|dead]... [--yes] QUEUE",
		Description: "Deletes the messages of QUEUE in the states given, in every state when none\n" +
			"is: ready, delayed, dead letters, and those in flight whose consumer has\n" +
			"died. It never touches a message that a live consumer holds: each gets a\n" +
			"line on stderr, and then pq exits 2. On a terminal it asks first; with\n" +
			"stdin not a terminal it refuses unless --yes is given. Prints how many\n" +
			"messages it deleted.\n\n" +
			"Example: pq purge --state dead --yes jobs",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "state", Usage: "delete only messages in `STATE`: ready, delayed, inflight or dead (repeatable)"},
			&cli.BoolFlag{Name: "yes", Aliases: []string{"y"}, Usage: "delete without asking"},
		},
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			o := purgeOptions{queue: name, yes: c.Bool("yes")}
			if o.states, err = parseStates("purge", c.StringSlice("state")); err != nil {
				return err
			}
			return runPurge(e, o)
		},
	}
}

// parseStates reads the values of --state.
func parseStates(command string, names []string) ([]spool.State, error) {
	var out []spool.State
	for _, s := range names {
		st, ok := spool.ParseState(s)
		if !ok {
			return nil, withHint(usagef("%s: unknown state %q", command, s), "states are ready, delayed, inflight and dead")
		}
		if !slices.Contains(out, st) {
			out = append(out, st)
		}
	}
	return out, nil
}

func runPurge(e *env, o purgeOptions) error {
	q, err := e.existingQueue(o.queue)
	if err != nil {
		return err
	}
	if !o.yes {
		s, err := q.Summarize(time.Time{})
		if err != nil {
			return err
		}
		if err := confirm(e, o.yes, "purge", purgeQuestion(o, s)); err != nil {
			return err
		}
	}
	r, err := q.Purge(spool.PurgeOptions{States: o.states, Progress: o.progress})
	if r.Removed > 0 || err == nil {
		fmt.Fprintf(e.Out, "deleted %s\n", plural(r.Removed, "message"))
	}
	if err != nil {
		return err
	}
	return removalProblems("purge", o.queue, r)
}

// purgeQuestion asks whether to delete what the summary s counts in the
// states of o.
func purgeQuestion(o purgeOptions, s spool.Summary) string {
	all := len(o.states) == 0
	pick := func(st spool.State, n int) int {
		if all || slices.Contains(o.states, st) {
			return n
		}
		return 0
	}
	what := countsText(
		countPart{pick(spool.StateReady, s.Ready), "ready"},
		countPart{pick(spool.StateDelayed, s.Delayed), "delayed"},
		countPart{pick(spool.StateInflight, s.Inflight), "in flight"},
		countPart{pick(spool.StateDead, s.Dead), "dead letters"},
	)
	return fmt.Sprintf("purge queue %s: delete %s (claims that live consumers hold are kept)?", o.queue, what)
}

// plural says n things: "1 message", "2 messages".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return strconv.Itoa(n) + " " + thing + "s"
}
