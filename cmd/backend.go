package cmd

import (
	"context"
	"strings"

	"pq/queue"
	"pq/spool"

	"github.com/urfave/cli/v2"
)

// natsRoot reports whether root names NATS servers (nats://, tls://)
// rather than a spool directory.
func natsRoot(root string) bool {
	return strings.HasPrefix(root, "nats://") || strings.HasPrefix(root, "tls://")
}

// backendName names the root's backend in messages: "nats" or "spool".
func (e *env) backendName() string {
	if natsRoot(e.root) {
		return "nats"
	}
	return "spool"
}

// unsupported is the error of a feature that the root's backend cannot
// have: a usage error, so exit 2.
func unsupported(e *env, feature string) error {
	return &usageError{msg: queue.Unsupported(feature, e.backendName()).Error()}
}

// open returns the queue called name on the root's backend. It does not
// check that the queue exists.
func (e *env) open(ctx context.Context, name string) (queue.Queue, error) {
	if natsRoot(e.root) {
		b, err := e.natsBackend(ctx)
		if err != nil {
			return nil, err
		}
		return b.Open(ctx, name)
	}
	q, err := e.queue(name)
	if err != nil {
		return nil, err
	}
	return q.Queue(), nil
}

// openSpool returns the spool queue behind q, or the error that the
// feature needs a spool.
func openSpool(e *env, q queue.Queue, feature string) (*spool.Queue, error) {
	sq, ok := spool.Unwrap(q)
	if !ok {
		return nil, unsupported(e, feature)
	}
	return sq, nil
}

// firstSet returns the first of values that is not empty.
func firstSet(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// openExisting returns the queue called name on the root's backend, and
// checks that it exists.
func (e *env) openExisting(ctx context.Context, name string) (queue.Queue, error) {
	if natsRoot(e.root) {
		return openExistingNATS(ctx, e, name)
	}
	q, err := e.existingQueue(name)
	if err != nil {
		return nil, err
	}
	return q.Queue(), nil
}

// openAs opens the existing queue called name as T, the optional
// interface of package queue that the command needs, or refuses the
// command on a backend without it.
func openAs[T queue.Queue](ctx context.Context, e *env, name, command string) (T, error) {
	var none T
	q, err := e.openExisting(ctx, name)
	if err != nil {
		return none, err
	}
	t, ok := q.(T)
	if !ok {
		return none, unsupported(e, "pq "+command)
	}
	return t, nil
}

// queueNames lists the root's queues.
func (e *env) queueNames(ctx context.Context) ([]string, error) {
	if natsRoot(e.root) {
		return natsQueues(e)
	}
	return spool.NewBackend(e.root, spool.Options{}).Queues(ctx)
}

// onPauser returns the action of pq pause or pq resume: do, to the one
// existing QUEUE.
func onPauser(e *env, do func(queue.Pauser, context.Context) error) cli.ActionFunc {
	return func(c *cli.Context) error {
		name, err := oneQueue(c)
		if err != nil {
			return err
		}
		p, err := openAs[queue.Pauser](c.Context, e, name, c.Command.Name)
		if err != nil {
			return err
		}
		return do(p, c.Context)
	}
}
