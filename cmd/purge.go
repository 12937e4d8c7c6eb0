package cmd

import (
	"context"
	"fmt"
	"slices"

	"github.com/urfave/cli/v2"

	"pq/queue"
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
	ctx := context.Background()
	pq, err := openAs[queue.Purger](ctx, e, o.queue, "purge")
	if err != nil {
		return err
	}
	var total int64 = -1
	if !o.yes {
		st, err := pq.Stat(ctx)
		if err != nil {
			return err
		}
		s := spool.Summary{Ready: st.Ready, Delayed: st.Delayed, Inflight: st.Claimed, Dead: st.Dead}
		if err := confirm(e, o.yes, "purge", purgeQuestion(o, s)); err != nil {
			return err
		}
		total = int64(purgeCount(o, s))
	}
	// A line of progress on a terminal's stderr: what was removed, and
	// what is left when the question counted it.
	p := newProgress(e.Err, "removed")
	defer p.Done()
	if total >= 0 {
		p.SetTotal(total)
	}
	done := 0
	progress := func(removed, held int) {
		p.Add(removed + held - done)
		done = removed + held
		if o.progress != nil {
			o.progress(removed, held)
		}
	}
	r, err := pq.Purge(ctx, o.states, progress)
	if r.Removed > 0 || err == nil {
		fmt.Fprintf(e.Out, "deleted %d %s\n", r.Removed, plural(int64(r.Removed), "message"))
	}
	if err != nil {
		return err
	}
	return removalProblems("purge", o.queue, r)
}

// purgePick returns n, the count of a state in a summary, when the purge
// o empties that state, else 0.
func purgePick(o purgeOptions, st spool.State, n int) int {
	if len(o.states) == 0 || slices.Contains(o.states, st) {
		return n
	}
	return 0
}

// purgeCount is how many messages of the summary s the purge o would
// delete, held claims included.
func purgeCount(o purgeOptions, s spool.Summary) int {
	return purgePick(o, spool.StateReady, s.Ready) + purgePick(o, spool.StateDelayed, s.Delayed) +
		purgePick(o, spool.StateInflight, s.Inflight) + purgePick(o, spool.StateDead, s.Dead)
}

// purgeQuestion asks whether to delete what the summary s counts in the
// states of o.
func purgeQuestion(o purgeOptions, s spool.Summary) string {
	what := countsText(
		countPart{purgePick(o, spool.StateReady, s.Ready), "ready"},
		countPart{purgePick(o, spool.StateDelayed, s.Delayed), "delayed"},
		countPart{purgePick(o, spool.StateInflight, s.Inflight), "in flight"},
		countPart{purgePick(o, spool.StateDead, s.Dead), "dead letters"},
	)
	return fmt.Sprintf("purge queue %s: delete %s (claims that live consumers hold are kept)?", o.queue, what)
}
