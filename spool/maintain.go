package spool

import (
	"cmp"
	"context"
	"fmt"
	"time"
)

// TmpMaxAge is how old a file in tmp/ must be for [Queue.Maintain] to
// remove it: a sender that crashed left it, since no send takes that long.
const TmpMaxAge = 36 * time.Hour

// Maintain does, in turn, what every receiver does as it meets them: it
// finishes the moves of dead movers, puts back dead consumers' claims,
// removes what crashed senders left in tmp/ (after TmpMaxAge), orphaned
// metadata, the reply places of dead requesters and dedup ids past the
// window, prunes dead letters beyond the queue's limits, gives files that
// other programs put in new/ their places, recounts, and lists what is in
// quarantine. It reports each thing it did, as pq recover prints it: a
// verb ("recovered", "moved", "removed", "pruned", "stray") and what. It
// stops at the first error, having reported what was done before it.
func (q *Queue) Maintain(report func(verb, what string)) error {
	moved, err := q.RecoverMoves()
	for _, m := range moved {
		if m.NewID != "" {
			report("moved", fmt.Sprintf("%s to %s as %s", m.ID, m.To, m.NewID))
		} else {
			report("moved", fmt.Sprintf("%s to %s", m.ID, m.To))
		}
	}
	ids, rerr := q.Recover()
	for _, id := range ids {
		report("recovered", string(id))
	}
	if err = cmp.Or(err, rerr); err != nil {
		return err
	}
	steps := []func() error{
		func() error { return reportAll(report, "removed", "tmp/", q.CleanTmp, TmpMaxAge) },
		func() error {
			removed, err := q.CleanMeta(TmpMaxAge)
			for _, id := range removed {
				report("removed", ".meta/"+string(id))
			}
			return err
		},
		func() error {
			return reportAll(report, "removed", ".replies/", func(time.Duration) ([]string, error) { return q.CleanReplies() }, 0)
		},
		func() error {
			return reportAll(report, "removed", "", func(time.Duration) ([]string, error) { return q.CleanDedup() }, 0)
		},
		func() error {
			pruned, err := q.PruneDeadLetters()
			for _, id := range pruned {
				report("pruned", "dlq/"+string(id))
			}
			return err
		},
		q.Tidy,
		func() error { _, err := q.Recount(); return err }, // after Tidy, which may have adopted files
		func() error {
			strays, err := q.Strays()
			for _, s := range strays {
				report("stray", fmt.Sprintf(".quarantine/%s (%s)", s.Name, s.Kind))
			}
			return err
		},
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// reportAll runs clean with age and reports each name it returns, after
// prefix, with verb.
func reportAll(report func(verb, what string), verb, prefix string, clean func(time.Duration) ([]string, error), age time.Duration) error {
	names, err := clean(age)
	for _, n := range names {
		report(verb, prefix+n)
	}
	return err
}

// Recover is Maintain for the queue interface (see [queue.Recoverer]).
func (b *backendQueue) Recover(_ context.Context, report func(verb, what string)) error {
	return b.q.Maintain(report)
}
