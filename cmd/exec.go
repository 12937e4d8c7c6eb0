package cmd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"pq/config"
	"pq/queue"
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
	logs    logSettings
	// maxWorkers caps the commands running on the queue across the
	// host's workers; 0 means no cap.
	maxWorkers int
	maxTime    time.Duration // stop claiming after it; 0 means never
	failOnDead bool          // exit ExitDeadLettered after a dead letter
	stderr     *worker.SyncWriter
	log        *slog.Logger // the worker's
	config.Worker
}

// cronFlags reads --max-workers, --max-time and --fail-on-dead-letter.
func cronFlags(c *cli.Context, o *execOptions) error {
	o.maxWorkers, o.maxTime, o.failOnDead = c.Int("max-workers"), c.Duration("max-time"), c.Bool("fail-on-dead-letter")
	if c.IsSet("max-workers") && o.maxWorkers < 1 {
		return usagef("recv: --max-workers must be at least 1, not %d", o.maxWorkers)
	}
	if o.maxTime < 0 {
		return usagef("recv: --max-time must not be negative")
	}
	return nil
}

// logFlags reads --log-format (over the config's log_format), -q and -v.
func logFlags(c *cli.Context, e *env) (logSettings, error) {
	s := logSettings{format: e.cfg.LogFormat, level: slog.LevelInfo}
	if c.IsSet("log-format") {
		s.format = c.String("log-format")
	}
	switch s.format {
	case "":
		s.format = "text"
	case "text", "json":
	default:
		return s, usagef("recv: --log-format must be text or json, not %q", s.format)
	}
	switch {
	case c.Bool("quiet") && c.Bool("verbose"):
		return s, usagef("recv: -q and -v exclude each other")
	case c.Bool("quiet"):
		s.level = slog.LevelError
	case c.Bool("verbose"):
		s.level = slog.LevelDebug
	}
	return s, nil
}

// runExec is pq recv --exec: it returns when no ready message is left
// (without --wait) or after a shutdown signal (with --wait). ctx is
// cancelled by the first SIGINT or SIGTERM; a second one stops the running
// commands at once.
func runExec(ctx context.Context, e *env, q queue.Queue, o execOptions) error {
	co := worker.CommandOptions{Stdout: e.Out, Stderr: o.stderr, Logger: o.log, Root: e.root}
	if err := openTo(e, o, &co); err != nil {
		return err
	}
	var slots *spool.Slots
	if o.maxWorkers > 0 {
		sq, err := openSpool(e, q, "--max-workers")
		if err != nil {
			return err
		}
		if slots, err = sq.Slots(o.maxWorkers); err != nil {
			return err
		}
	}
	var counts runCounts
	if !o.wait {
		// A draining worker: a progress line, on a terminal.
		counts.prog = newProgress(o.stderr.W, "handled")
		if counts.prog != nil {
			o.stderr.W = counts.prog
			countReady(q, counts.prog)
			defer counts.prog.Done()
		}
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
		MaxTime:     o.maxTime,
		Slots:       slots,
		Logger:      o.log,
		Settled:     counts.settled,
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
	if errors.Is(err, worker.ErrCannotRun) && natsRoot(e.root) {
		// The server counted the delivery: it cannot take one back.
		return withHint(err, "the message was put back, its delivery counted as an attempt; fix the command and start the worker again")
	}
	if errors.Is(err, worker.ErrCannotRun) {
		return withHint(err, "the message was put back untouched; fix the command and start the worker again")
	}
	if n := counts.dead.Load(); err == nil && o.failOnDead && n > 0 {
		return withHint(withStatus(ExitDeadLettered, fmt.Errorf("recv: queue %s: dead-lettered %d of the messages handled", q.Name(), n)),
			"see them with 'pq dlq %s'", q.Name())
	}
	return err
}

// runCounts counts what a worker run did: its dead letters, for
// --fail-on-dead-letter, and the messages done, for its progress line.
type runCounts struct {
	dead atomic.Int64
	prog *progress // nil without a progress line
}

// settled is the worker's Options.Settled.
func (c *runCounts) settled(r worker.Result) {
	switch r.Outcome {
	case worker.DeadLettered:
		c.dead.Add(1)
		c.prog.Add(1)
	case worker.Acked:
		c.prog.Add(1)
	}
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
