package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"pq/queue"
	"pq/spool"
)

// requestOptions are the flags of pq request.
type requestOptions struct {
	queue   string
	timeout time.Duration // 0: wait for as long as it takes
	msg     spool.SendOptions
}

func requestCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "request",
		Usage:     "send a request and wait for its reply",
		UsageText: "pq request [--timeout DUR] [-p N] [--delay DUR] [--ttl DUR] [-H KEY=VALUE]... [--identity FILE] QUEUE",
		Description: "Sends stdin as a request and waits for its reply, then writes the reply's body\n" +
			"to stdout and exits 0. A worker (pq recv --exec) answers with its command's\n" +
			"stdout; a script answers with pq reply ID. If the request is dead-lettered, pq\n" +
			"request fails at once with exit 2 and the reason. Past --timeout, or on SIGINT\n" +
			"or SIGTERM, the request is withdrawn (never delivered, or its reply discarded)\n" +
			"and pq request exits 1. On an encrypted queue the request and its reply are\n" +
			"encrypted, and --identity opens the reply.\n\n" +
			"Example:\n" +
			"  echo 6x7 | pq request --timeout 30s calc",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Usage: "give up after `DUR` and withdraw the request (exit 1)", DefaultText: "none: wait for ever"},
			&cli.IntFlag{Name: "priority", Aliases: []string{"p"}, Value: spool.DefaultPriority, Usage: "priority `N`, 0 (lowest) to 9 (highest)"},
			&cli.DurationFlag{Name: "delay", Aliases: []string{"d"}, Usage: "deliver no earlier than `DUR` from now", DefaultText: "none"},
			&cli.DurationFlag{Name: "ttl", Usage: "never deliver after `DUR` from now: dead-letter as expired", DefaultText: ttlDefault},
			&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "add the header `KEY=VALUE` (repeatable)"},
			identityFlag(),
		},
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			if err := e.useIdentity(c.String("identity")); err != nil {
				return err
			}
			o := requestOptions{queue: name, timeout: c.Duration("timeout")}
			if err := o.parse(c); err != nil {
				return err
			}
			return runRequest(c.Context, e, o)
		},
	}
}

// parse reads the flags that say what is sent.
func (o *requestOptions) parse(c *cli.Context) error {
	if o.timeout < 0 || c.IsSet("timeout") && o.timeout == 0 {
		return usagef("request: --timeout must be more than zero, not %s", o.timeout)
	}
	if d := c.Duration("delay"); d < 0 {
		return usagef("request: --delay must not be negative, not %s", d)
	} else if d > 0 {
		o.msg.Due = time.Now().Add(d)
	}
	return messageFlags(c, "request", &o.msg)
}

func runRequest(ctx context.Context, e *env, o requestOptions) error {
	ctx, stop := withSignals(ctx)
	defer stop()
	req, err := sendRequest(ctx, e, o)
	if err != nil {
		return err
	}
	defer req.Withdraw()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	rc, err := req.Wait(ctx)
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded):
		return withStatus(ExitNothing, fmt.Errorf("request %s: no reply within %s; withdrawn", req.ID(), o.timeout))
	case errors.Is(err, context.Canceled):
		return withStatus(ExitNothing, fmt.Errorf("request %s: interrupted; withdrawn", req.ID()))
	default:
		return err
	}
	defer rc.Close()
	if _, err := io.Copy(e.Out, rc); err != nil {
		return fmt.Errorf("write the reply to %s: %w", req.ID(), err)
	}
	return nil
}

// sendRequest sends the request: on a spool, or on another backend that
// has requests (a queue.Requester).
func sendRequest(ctx context.Context, e *env, o requestOptions) (queue.Request, error) {
	bq, err := e.open(ctx, o.queue)
	if err != nil {
		return nil, err
	}
	q, ok := spool.Unwrap(bq)
	if !ok {
		rq, ok := bq.(queue.Requester)
		if !ok {
			return nil, unsupported(e, "pq request")
		}
		return rq.Request(ctx, queue.Message{Body: e.In, Headers: o.msg.Headers, Expires: o.msg.Expires, Due: o.msg.Due, Priority: o.msg.Priority})
	}
	// The reply to a request on an encrypted queue is encrypted: refuse
	// before sending if it could not be read.
	if err := checkIdentity(q); err != nil {
		return nil, err
	}
	return q.Request(e.In, o.msg)
}

var _ queue.Request = (*spool.Request)(nil)
