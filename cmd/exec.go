package cmd

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"pq/config"
	"pq/spool"
	"pq/worker"
)

// execOptions are the settings of a worker loop.
type execOptions struct {
	queue   string
	command string
	jobs    int
	wait    bool
	to      string // --to: the queue CMD's stdout goes to
	config.Worker
}

// runExec is pq recv --exec: it returns when no ready message is left
// (without --wait) or after a shutdown signal (with --wait). ctx is
// cancelled by the first SIGINT or SIGTERM; a second one stops the running
// commands at once.
func runExec(ctx context.Context, e *env, q *spool.Queue, o execOptions) error {
	stderr := &worker.SyncWriter{W: e.Err}
	log := slog.New(newWorkerHandler(stderr))
	co := worker.CommandOptions{Stdout: e.Out, Stderr: stderr, Logger: log}
	if err := openTo(e, o, &co); err != nil {
		return err
	}
	h := worker.Command(o.command, co)
	w, err := worker.New(q, h, worker.Options{
		Jobs:        o.jobs,
		Wait:        o.wait,
		MaxAttempts: o.MaxAttempts,
		BackoffMin:  o.BackoffMin,
		BackoffMax:  o.BackoffMax,
		JobTimeout:  o.JobTimeout,
		Grace:       o.Grace,
		Rate:        o.Rate,
		Logger:      log,
	})
	if err != nil {
		return err
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	defer close(done)
	go interruptOnSecond(ctx, sigs, done, w)

	err = w.Run(ctx)
	if errors.Is(err, worker.ErrCannotRun) {
		return withHint(err, "the message was put back untouched; fix the command and start the worker again")
	}
	return err
}

// interruptOnSecond interrupts w on the second signal, or on the first one
// after a shutdown that --timeout began.
func interruptOnSecond(ctx context.Context, sigs <-chan os.Signal, done <-chan struct{}, w *worker.Worker) {
	n := 0
	for {
		select {
		case <-sigs:
			n++
			if n >= 2 || errors.Is(ctx.Err(), context.DeadlineExceeded) {
				w.Interrupt()
				return
			}
		case <-done:
			return
		}
	}
}
