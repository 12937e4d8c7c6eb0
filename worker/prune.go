package worker

import (
	"fmt"
	"log/slog"
	"time"
)

// pruneEvery is how often, at most, a waiting worker removes the dead
// letters beyond what the queue keeps (see [spool.Queue.PruneDeadLetters]).
var pruneEvery = time.Minute

// pruneDeadLetters removes the dead letters beyond what the queue keeps:
// when the worker starts and when it ends, and while it waits at most
// every pruneEvery.
func (w *Worker) pruneDeadLetters() {
	if !w.lastPrune.IsZero() && time.Since(w.lastPrune) < pruneEvery {
		return
	}
	w.lastPrune = time.Now()
	if w.sq == nil {
		return
	}
	ids, err := w.sq.PruneDeadLetters()
	if err != nil {
		w.log.Warn(fmt.Sprintf("cannot prune dead letters: %v", err), slog.String("cause", err.Error()))
	}
	if len(ids) > 0 {
		// w.log names the queue already.
		w.log.Info(fmt.Sprintf("removed %d dead letters beyond dlq_max_count or dlq_max_age", len(ids)), slog.Int("count", len(ids)))
	}
}
