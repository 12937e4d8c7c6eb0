//go:build !pq_nonats

package cmd

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"pq/config"
	"pq/jetstream"
	"pq/queue"
	"pq/spool"
)

// natsState is what a run keeps of a NATS root.
type natsState struct {
	// b is the connection, once made.
	b *jetstream.Backend
}

// natsInitDefaults are pq init's defaults on a NATS root, for its help.
func natsInitDefaults() (replicas int, ackWait time.Duration, maxDeliver int) {
	d := jetstream.DefaultInitOptions
	return d.Replicas, d.AckWait, d.MaxDeliver
}

// backendHint returns the advice that the backend attached to err, if
// any.
func backendHint(err error) string { return jetstream.Hint(err) }

// natsBackend connects to the NATS root, once per run; Main closes the
// connection.
func (e *env) natsBackend(ctx context.Context) (*jetstream.Backend, error) {
	if e.nats.b != nil {
		return e.nats.b, nil
	}
	log := e.warnLog
	if log == nil {
		log = slog.New(newWarnHandler(e.Err))
	}
	b, err := jetstream.Dial(ctx, e.root, jetstream.Options{CredsFile: e.natsCreds, Logger: log})
	if err != nil {
		return nil, withNATSHint(err)
	}
	e.nats.b = b
	return b, nil
}

// closeNATS closes the connection to a NATS root, if one was made.
func (e *env) closeNATS() {
	if e.nats.b != nil {
		e.nats.b.Close()
	}
}

// withNATSHint adds the hint that package jetstream attached to err, if
// any.
func withNATSHint(err error) error {
	if h := jetstream.Hint(err); h != "" {
		return withHint(err, "%s", h)
	}
	return err
}

// runInitNATS is pq init on a NATS root: it creates or updates the queue's
// streams and consumer, and refuses what only a spool has.
func runInitNATS(ctx context.Context, e *env, o initOptions, replicas int, ackWait time.Duration, maxDeliver int) error {
	io := jetstream.InitOptions{Replicas: replicas, AckWait: ackWait, MaxDeliver: maxDeliver}
	switch {
	case o.group != "":
		return unsupported(e, "--group")
	case len(o.recipients) > 0:
		return unsupported(e, "--encrypt-to")
	case io.Replicas != 0 && io.Replicas != 1 && io.Replicas != 3 && io.Replicas != 5:
		return usagef("init: --replicas must be 1, 3 or 5, not %d", io.Replicas)
	case io.AckWait < 0 || io.MaxDeliver < 0:
		return usagef("init: --ack-wait and --max-deliver must not be negative")
	}
	for k, v := range o.set {
		if k != "dedup_window" {
			return unsupported(e, "the setting "+k)
		}
		if err := spool.CheckSetting(k, v); err != nil {
			return fmt.Errorf("queue %s: %w", o.queue, err) // as the spool says it
		}
		io.DedupWindow, _ = time.ParseDuration(v)
	}
	b, err := e.natsBackend(ctx)
	if err != nil {
		return err
	}
	return withNATSHint(b.Init(ctx, o.queue, io))
}

// natsQueues lists the queues on the NATS root.
func natsQueues(e *env) ([]string, error) {
	ctx := context.Background()
	b, err := e.natsBackend(ctx)
	if err != nil {
		return nil, err
	}
	return b.Queues(ctx)
}

// natsQueue opens the queue called name on the NATS root.
func natsQueue(e *env, name string) (*jetstream.Queue, error) {
	b, err := e.natsBackend(context.Background())
	if err != nil {
		return nil, err
	}
	return b.Queue(name)
}

// existingNATSQueue opens the queue called name on the NATS root, and
// checks that it exists.
func existingNATSQueue(ctx context.Context, e *env, name string) (*jetstream.Queue, error) {
	q, err := natsQueue(e, name)
	if err != nil {
		return nil, err
	}
	if err := q.Check(ctx); err != nil {
		return nil, withNATSHint(err)
	}
	return q, nil
}

// openExistingNATS is existingNATSQueue as a queue.Queue.
func openExistingNATS(ctx context.Context, e *env, name string) (queue.Queue, error) {
	q, err := existingNATSQueue(ctx, e, name)
	if err != nil {
		return nil, err
	}
	return q, nil
}

// natsQueueNames lists the queues of the NATS root, for completion, with a
// short timeout, so that a Tab never hangs on a server that does not
// answer.
func natsQueueNames(root string, cfg config.Config) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	b, err := jetstream.Dial(ctx, root, jetstream.Options{CredsFile: firstSet(os.Getenv("PQ_NATS_CREDS"), cfg.NATSCreds), Timeout: time.Second})
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.Queues(ctx)
}
