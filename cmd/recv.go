package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"pq/config"
	"pq/queue"
	"pq/seal"
	"pq/spool"
	"pq/worker"
)

// ackBatch is the most claims acked with one fsync.
const ackBatch = 256

// recvOptions are the flags of pq recv.
type recvOptions struct {
	queue   string
	count   int // 0: until the queue is empty
	wait    bool
	timeout time.Duration
	sep     []byte
	headers bool // frame each body with its id, size and headers
	atomic  bool // the messages received are acked together or all put back
	exec    *execOptions
}

func recvCommand(e *env) *cli.Command {
	defaults := config.DefaultWorker() // for the help; the values come from execFlags
	return &cli.Command{
		Name:  "recv",
		Usage: "receive messages from a queue",
		UsageText: "pq recv [-n N [--atomic]|--all] [--wait] [--timeout DUR] [--lines|-0] [--headers] QUEUE\n" +
			"pq recv --exec CMD [-j N] [--wait] [--job-timeout DUR] [--grace DUR] [--rate N/s] [--max-attempts N] [--to QUEUE2]\n" +
			"        [--log-format text|json] [-q|-v] [--max-workers N] [--max-time DUR] [--fail-on-dead-letter] QUEUE",
		Description: "Claims the oldest ready message, writes its body to stdout and acks it.\n" +
			"Exits 1 when there was nothing to receive.\n\n" +
			"With --exec, runs CMD (with /bin/sh -c) once per message, the body on its stdin,\n" +
			"and settles the message by CMD's exit status: 0 acks it, 100 dead-letters it,\n" +
			"126 and 127 (CMD cannot run) put it back and stop the worker, and anything\n" +
			"else retries it after a backoff until max_attempts, then dead-letters it.\n" +
			"For a request (pq request), CMD's stdout is the reply, sent once CMD exits 0.\n" +
			"With --to QUEUE2, CMD's stdout becomes a message in QUEUE2 when CMD exits 0,\n" +
			"handed over exactly once, atomically with the ack of its input.\n\n" +
			"Examples:\n" +
			"  pq recv --all --lines urls\n" +
			"  pq recv --exec ./resize.sh -j 2 --wait photos",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "n", Value: 1, Usage: "receive up to `N` messages"},
			&cli.BoolFlag{Name: "all", Aliases: []string{"a"}, Usage: "receive until the queue is empty"},
			&cli.BoolFlag{Name: "atomic", Usage: "with -n, ack the messages received together once all are written, or put them all back"},
			&cli.BoolFlag{Name: "wait", Aliases: []string{"w"}, Usage: "wait for a message when the queue is empty"},
			&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Usage: "give up waiting after `DUR` (with --wait)", DefaultText: "none"},
			&cli.BoolFlag{Name: "lines", Aliases: []string{"l"}, Usage: "end each body with a newline"},
			&cli.BoolFlag{Name: "0", Usage: "end each body with a NUL byte"},
			&cli.BoolFlag{Name: "headers", Usage: "print before each body a line 'ID SIZE', its headers as KEY=VALUE lines, and an empty line"},
			&cli.StringFlag{Name: "exec", Aliases: []string{"e"}, Usage: "run `CMD` once per message, the body on its stdin"},
			&cli.IntFlag{Name: "j", Value: 1, Usage: "with --exec, run up to `N` commands at once"},
			&cli.DurationFlag{Name: "job-timeout", Usage: "with --exec, stop a command that runs longer than `DUR` (a failed attempt)", DefaultText: "none, or the config's job_timeout"},
			&cli.DurationFlag{Name: "grace", Usage: "with --exec, on SIGINT or SIGTERM let commands finish for up to `DUR`", DefaultText: defaults.Grace.String() + ", or the config's grace"},
			&cli.StringFlag{Name: "rate", Usage: "with --exec, start at most `N/s` commands (or N/m, N/h)", DefaultText: "no limit, or the config's rate"},
			&cli.IntFlag{Name: "max-attempts", Usage: "with --exec, dead-letter a message after `N` failed attempts", DefaultText: strconv.Itoa(defaults.MaxAttempts) + ", or the config's max_attempts"},
			&cli.StringFlag{Name: "to", Usage: "with --exec, send CMD's stdout to `QUEUE2` as a message, exactly once, when CMD exits 0"},
			&cli.StringFlag{Name: "log-format", Usage: "with --exec, log one line per job on stderr as `FORMAT`: text or json (default: the config's log_format, else text)"},
			&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "with --exec, log dead letters only, not acks and retries"},
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "with --exec, log claims and recoveries too"},
			&cli.IntFlag{Name: "max-workers", Usage: "with --exec, run at most `N` commands on the queue at once across all workers on this host", DefaultText: "no limit"},
			&cli.DurationFlag{Name: "max-time", Usage: "with --exec, stop taking messages after `DUR` and finish the running commands", DefaultText: "no limit"},
			&cli.BoolFlag{Name: "fail-on-dead-letter", Usage: "with --exec, exit 4 if the worker dead-lettered any message"},
			identityFlag(),
			allowNetworkFSFlag(),
		},
		Action: func(c *cli.Context) error {
			name, err := oneQueue(c)
			if err != nil {
				return err
			}
			o := recvOptions{queue: name, count: c.Int("n"), wait: c.Bool("wait"), timeout: c.Duration("timeout"), headers: c.Bool("headers"), atomic: c.Bool("atomic")}
			if err := o.check(c); err != nil {
				return err
			}
			if err := e.useIdentity(c.String("identity")); err != nil {
				return err
			}
			e.useNetworkFS(c)
			if c.IsSet("exec") {
				x, err := execFlags(c, e, name)
				if err != nil {
					return err
				}
				x.stderr = &worker.SyncWriter{W: e.Err}
				x.log, e.warnLog = x.logs.loggers(x.stderr)
				o.exec = &x
			}
			return runRecv(c.Context, e, o)
		},
	}
}

// execFlags reads the worker's settings: the queue's configuration, then
// the flags that override it.
func execFlags(c *cli.Context, e *env, queue string) (execOptions, error) {
	o := execOptions{queue: queue, command: c.String("exec"), jobs: c.Int("j"), wait: c.Bool("wait"), to: c.String("to"), Worker: e.cfg.Worker(queue)}
	for _, f := range []string{"n", "all", "lines", "0", "headers"} {
		if c.IsSet(f) {
			return o, usagef("recv: %s does not go with --exec", flagName(f))
		}
	}
	if o.command == "" {
		return o, usagef("recv: --exec needs a command")
	}
	if o.jobs < 1 {
		return o, usagef("recv: -j must be at least 1, not %d", o.jobs)
	}
	if err := checkTo(o); err != nil {
		return o, err
	}
	if err := cronFlags(c, &o); err != nil {
		return o, err
	}
	var err error
	if o.logs, err = logFlags(c, e); err != nil {
		return o, err
	}
	if c.IsSet("job-timeout") {
		o.JobTimeout = c.Duration("job-timeout")
	}
	if c.IsSet("grace") {
		o.Grace = c.Duration("grace")
	}
	if c.IsSet("max-attempts") {
		o.MaxAttempts = c.Int("max-attempts")
	}
	if c.IsSet("rate") {
		r, err := config.ParseRate(c.String("rate"))
		if err != nil {
			return o, usagef("recv: --rate: %v", err)
		}
		o.Rate = r
	}
	if err := o.Worker.Validate(); err != nil {
		return o, usagef("recv: %v", err)
	}
	return o, nil
}

// check validates the flag combination and fills in derived options.
func (o *recvOptions) check(c *cli.Context) error {
	switch {
	case c.IsSet("n") && c.Bool("all"):
		return usagef("recv: -n and --all exclude each other")
	case o.count < 1:
		return usagef("recv: -n must be at least 1, not %d", o.count)
	case c.Bool("lines") && c.Bool("0"):
		return usagef("recv: --lines and -0 exclude each other")
	case o.timeout < 0:
		return usagef("recv: --timeout must not be negative")
	case c.IsSet("timeout") && !o.wait:
		return withHint(usagef("recv: --timeout needs --wait"), "pq recv --wait --timeout %s %s", o.timeout, o.queue)
	case o.atomic && (!c.IsSet("n") || c.IsSet("exec")):
		return usagef("recv: --atomic needs -n N, and no --exec")
	}
	if !c.IsSet("exec") {
		for _, f := range []string{"j", "job-timeout", "grace", "rate", "max-attempts", "to", "log-format", "quiet", "verbose", "max-workers", "max-time", "fail-on-dead-letter"} {
			if c.IsSet(f) {
				return usagef("recv: %s needs --exec", flagName(f))
			}
		}
	}
	if c.Bool("all") {
		o.count = 0
	}
	switch {
	case c.Bool("lines"):
		o.sep = []byte{'\n'}
	case c.Bool("0"):
		o.sep = []byte{0}
	}
	return nil
}

// receiver writes claimed bodies to stdout and acks them in batches, each
// only after its body was completely written.
type receiver struct {
	q        queue.Queue
	out      *bufio.Writer
	sep      []byte
	headers  bool
	pending  []queue.Claim
	got      int
	atomic   bool      // ack all at the end, or put all back
	progress *progress // nil but for --all on a terminal
}

func runRecv(ctx context.Context, e *env, o recvOptions) error {
	if o.count == 1 && !o.wait && o.exec == nil {
		// One message, at once. Ignoring SIGINT and SIGTERM keeps the
		// promise that what was written is acked, as watching them did
		// (a receive of one message never stopped once it had claimed
		// it), without the thread that watching costs (see pipeSafe).
		signal.Ignore(os.Interrupt, syscall.SIGTERM)
	} else {
		var stop context.CancelFunc
		ctx, stop = withSignals(ctx)
		defer stop()
	}
	q, err := e.open(ctx, o.queue)
	if err != nil {
		return err
	}
	if sq, ok := spool.Unwrap(q); ok {
		if err := prepareSpoolRecv(e, sq, o); err != nil {
			return err
		}
	} else if err := o.spoolOnly(e); err != nil {
		return err
	}
	if o.exec != nil {
		if o.timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, o.timeout)
			defer cancel()
		}
		return runExec(ctx, e, q, *o.exec)
	}
	r, err := newReceiver(ctx, q, o.wait)
	if err != nil {
		return withHint(err, "check the name, or create the queue with 'pq init %s'", o.queue)
	}
	defer r.Close()
	// --timeout bounds the wait, not the making of the receiver: on NATS
	// that asks the server for the consumer, or creates the queue's
	// streams, which a busy server may take longer than a short timeout
	// to do.
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	rc := &receiver{q: q, out: bufio.NewWriterSize(e.Out, 64<<10), sep: o.sep, headers: o.headers, atomic: o.atomic}
	if o.count == 0 {
		rc.progress = newProgress(e.Err, "received")
		countReady(q, rc.progress)
		defer rc.progress.Done()
	}
	err = rc.loop(ctx, r, o)
	if err == nil && rc.atomic && rc.got > 0 && rc.got < o.count && ctx.Err() != nil {
		err = fmt.Errorf("recv: interrupted after %d of the messages; all put back", rc.got)
	}
	if err != nil {
		rc.putBack()
		return err
	}
	if err := rc.flush(); err != nil {
		return err
	}
	if rc.got == 0 {
		return errNothing
	}
	return nil
}

// loop claims and writes messages until the count is reached, the queue is
// empty (without --wait), or ctx is done.
func (rc *receiver) loop(ctx context.Context, r queue.Receiver, o recvOptions) error {
	for o.count == 0 || rc.got < o.count {
		if ctx.Err() != nil {
			return nil
		}
		c, err := r.Claim(ctx, false)
		if errors.Is(err, queue.ErrEmpty) && rc.atomic && rc.got > 0 {
			return nil // the unit is what there was
		}
		if errors.Is(err, queue.ErrEmpty) {
			held := len(rc.pending) > 0
			if err := rc.flush(); err != nil {
				return err
			}
			if held {
				// The claims just acked may have held their groups'
				// next messages back: look once more.
				continue
			}
			if !o.wait {
				return nil
			}
			if c, err = waitClaim(ctx, r); c == nil && err == nil {
				continue
			}
			if err != nil {
				if ctx.Err() != nil {
					return nil // timed out or interrupted
				}
				return fmt.Errorf("wait on queue %s: %w", rc.q.Name(), err)
			}
		}
		if err != nil {
			return err
		}
		if err := rc.write(c); err != nil {
			return err
		}
	}
	return nil
}

// write copies a claimed body to the output, keeping the claim pending
// until the output is flushed.
func (rc *receiver) write(c queue.Claim) error {
	if sc, ok := c.(*spool.Claim); ok && sc.Sealed() && c.Size() > sealChunk && !rc.atomic {
		// Its later chunks may fail to authenticate once written:
		// settle the bodies before it, so that only it is cut short.
		if err := rc.flush(); err != nil {
			return err
		}
	}
	rc.pending = append(rc.pending, c)
	if rc.headers {
		if err := rc.writeFrame(c); err != nil {
			return fmt.Errorf("write message %s: %w", c.ID(), err)
		}
	}
	if n, err := io.Copy(rc.out, c.Body()); errors.Is(err, seal.ErrCorrupt) {
		return rc.corrupt(c, n, err)
	} else if err != nil {
		return fmt.Errorf("write message %s: %w", c.ID(), err)
	}
	if _, err := rc.out.Write(rc.sep); err != nil {
		return fmt.Errorf("write message %s: %w", c.ID(), err)
	}
	rc.got++
	rc.progress.Add(1)
	if len(rc.pending) >= ackBatch && !rc.atomic {
		return rc.flush()
	}
	return nil
}

// sealChunk is the plaintext that age authenticates at once: a body of
// an encrypted queue up to that size was authenticated whole when claimed.
const sealChunk = 64 << 10

// corrupt ends the receive at a body of an encrypted queue that failed to
// authenticate after n bytes of it were written: what was written goes
// out, cut short, and the message goes to the dead-letter queue with the
// cause "cannot decrypt", counting no attempt.
func (rc *receiver) corrupt(c queue.Claim, n int64, err error) error {
	rc.pending = rc.pending[:len(rc.pending)-1]
	rc.out.Flush()
	if derr := c.DeadLetter(spool.Reason{Cause: spool.CauseCannotDecrypt, Untried: true}); derr != nil {
		return fmt.Errorf("message %s: %w; and cannot dead-letter it: %w", c.ID(), err, derr)
	}
	return fmt.Errorf("message %s cannot be decrypted past byte %d of %d, which were written: %w; moved to the dead-letter queue", c.ID(), n, c.Size(), err)
}

// writeFrame writes what --headers puts before a body: a line "ID SIZE",
// for a request a line pq-reply-to=ID, the lines pq-sender=NAME and
// pq-sender-uid=UID, a line KEY=VALUE per header, and an empty line.
func (rc *receiver) writeFrame(c queue.Claim) error {
	hs, err := c.Headers()
	if err != nil {
		return err
	}
	fmt.Fprintf(rc.out, "%s %d\n", c.ID(), c.Size())
	if sc, ok := c.(*spool.Claim); ok {
		if sc.Request() {
			writeReplyTo(rc.out, rc.q.Name(), sc)
		}
		writeSender(rc.out, sc.SenderUID())
	}
	for _, h := range hs {
		fmt.Fprintf(rc.out, "%s=%s\n", h.Key, h.Value)
	}
	_, err = rc.out.WriteString("\n")
	return err
}

// flush writes out every pending body, then acks their claims together.
func (rc *receiver) flush() error {
	if len(rc.pending) == 0 {
		return nil
	}
	if err := rc.out.Flush(); err != nil {
		return fmt.Errorf("write to stdout: %w", err)
	}
	err := queue.AckAll(rc.q, rc.pending)
	rc.pending = rc.pending[:0]
	return err
}

// putBack returns the pending claims to the queue untouched: their bodies
// may not have reached the reader.
func (rc *receiver) putBack() {
	for _, c := range rc.pending {
		c.Release()
	}
	rc.pending = rc.pending[:0]
}

// countReady tells p how many messages q holds ready now, before the
// first is taken: what is left of a receive that drains it. It costs what
// pq stat costs, and nothing without p (when stderr is no terminal).
func countReady(q queue.Queue, p *progress) {
	if p == nil {
		return
	}
	if st, err := q.Stat(context.Background()); err == nil {
		p.SetTotal(int64(st.Ready))
	}
}

// prepareSpoolRecv readies a spool queue for receiving: it makes a queue
// that a waiting receiver will wait on, checks the identity of an
// encrypted queue, and puts back the claims of dead consumers.
func prepareSpoolRecv(e *env, q *spool.Queue, o recvOptions) error {
	if err := q.Check(); err != nil {
		if !o.wait || !(errors.Is(err, spool.ErrNoQueue) || errors.Is(err, spool.ErrNotQueue)) {
			return withHint(err, "check the name, or create the queue with 'pq init %s'", o.queue)
		}
		if err := q.Create(); err != nil {
			return err
		}
	}
	if err := checkNetworkFS(q); err != nil {
		return err
	}
	if err := checkIdentity(q); err != nil {
		return err
	}
	if o.exec != nil {
		if err := execSealed(e, q, o.exec.to); err != nil {
			return err
		}
	}
	recovered, err := q.Recover()
	if err != nil {
		return err
	}
	if o.exec != nil {
		log := o.exec.log.With("queue", q.Name())
		for _, id := range recovered {
			log.Debug("recovered from a dead consumer, one more attempt counted", "id", string(id), "outcome", "recovered")
		}
	}
	return nil
}

// spoolOnly refuses the flags of pq recv that only a spool has.
func (o recvOptions) spoolOnly(e *env) error {
	switch {
	case o.atomic:
		return unsupported(e, "--atomic")
	case o.exec != nil && o.exec.to != "":
		return unsupported(e, "--to")
	case o.exec != nil && o.exec.maxWorkers > 0:
		return unsupported(e, "--max-workers")
	}
	return nil
}

// newReceiver returns a receiver of q. A receiver that waits creates a
// queue that does not exist yet, where the backend can, to wait on it.
func newReceiver(ctx context.Context, q queue.Queue, wait bool) (queue.Receiver, error) {
	r, err := q.NewReceiver(ctx)
	c, ok := q.(queue.Creator)
	if !wait || !ok || !errors.Is(err, queue.ErrNoQueue) {
		return r, err
	}
	if err := c.Create(ctx); err != nil {
		return nil, err
	}
	return q.NewReceiver(ctx)
}

// waitClaim waits on r for a message: it returns the claim when r waited
// by claiming one, and neither claim nor error when r can wait without
// claiming (a spool's receiver), after which the caller claims again.
func waitClaim(ctx context.Context, r queue.Receiver) (queue.Claim, error) {
	if w, ok := r.(queue.Waiter); ok {
		return nil, w.Wait(ctx)
	}
	return r.Claim(ctx, true)
}

// flagName spells a flag as a user types it: -j, --grace.
func flagName(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// writeSender writes the lines of a --headers frame that name the sender
// of a message, the owner of its file.
func writeSender(w io.Writer, uid uint32) {
	fmt.Fprintf(w, "pq-sender=%s\npq-sender-uid=%d\n", spool.SenderName(uid), uid)
}
