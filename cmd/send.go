package cmd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"pq/spool"
)

// maxBatch is the most messages a bulk send commits at once.
const maxBatch = 1000

// sendOptions are the flags of pq send.
type sendOptions struct {
	queue  string
	files  []string
	lines  bool
	nul    bool
	atomic bool
	msg    spool.SendOptions
	block  bool          // wait for room in a full queue
	wait   time.Duration // how long --block waits; 0: as long as it takes
}

func sendCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "send",
		Usage:     "send messages to a queue",
		UsageText: "pq send [--lines|-0] [--atomic] [-p N] [-g KEY] [--delay DUR|--at TIME] [--ttl DUR] [-H KEY=VALUE]... [--dedup-id KEY] [--block [--timeout DUR]] QUEUE [FILE...]",
		Description: "Sends one message read from stdin, or one per FILE ('-' is stdin), and prints\n" +
			"each new message's id once it is durable. With --lines every input line is a\n" +
			"message, with -0 every NUL-terminated record; empty records are skipped.\n" +
			"With --delay or --at, no message is delivered before that time; with --ttl,\n" +
			"none after that long: it goes to the dead-letter queue as expired.\n" +
			"-H KEY=VALUE adds a header to every message sent, kept outside the body.\n" +
			"With --atomic, every message of the send is committed at once or none is, even\n" +
			"across a crash, and no receiver sees a part of them before the commit.\n" +
			"-g KEY puts the messages in group KEY: a group's messages are handed out one\n" +
			"at a time, in send order; different groups go in parallel.\n" +
			"-p N gives the messages priority N, 0 to 9 (default 4): receivers take the\n" +
			"highest priority ready first, oldest first within a priority.\n" +
			"--dedup-id KEY sends one message unless a send with KEY did within the\n" +
			"queue's dedup_window (5m): then it prints that message's id and makes none.\n" +
			"A send that would leave less free disk than the queue's min_free is refused\n" +
			"(exit 3) after what fitted was sent; with --block it waits for room.\n" +
			"The queue is created by its first message.\n\n" +
			"Examples:\n" +
			"  echo '{\"photo\": 42}' | pq send jobs\n" +
			"  pq send --lines --delay 10m urls < urls.txt",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "lines", Aliases: []string{"l"}, Usage: "one message per input line, without its newline"},
			&cli.BoolFlag{Name: "0", Usage: "one message per NUL-terminated record"},
			&cli.DurationFlag{Name: "delay", Aliases: []string{"d"}, Usage: "deliver no earlier than `DUR` from now", DefaultText: "none"},
			&cli.StringFlag{Name: "at", Usage: "deliver no earlier than `TIME` (RFC 3339)"},
			&cli.DurationFlag{Name: "ttl", Usage: "never deliver after `DUR` from now: dead-letter as expired", DefaultText: ttlDefault},
			&cli.StringSliceFlag{Name: "header", Aliases: []string{"H"}, Usage: "add the header `KEY=VALUE` (repeatable)"},
			&cli.BoolFlag{Name: "atomic", Usage: "commit all the messages of the send, or none"},
			&cli.StringFlag{Name: "group", Aliases: []string{"g"}, Usage: "put the messages in group `KEY`: one at a time, in order"},
			&cli.IntFlag{Name: "priority", Aliases: []string{"p"}, Value: spool.DefaultPriority, Usage: "priority `N`, 0 (lowest) to 9 (highest)"},
			&cli.StringFlag{Name: "dedup-id", Usage: "send nothing if a message with `KEY` was sent within the dedup window"},
			&cli.BoolFlag{Name: "block", Usage: "when the queue is full, wait for room instead of failing (exit 3)"},
			&cli.DurationFlag{Name: "timeout", Aliases: []string{"t"}, Usage: "with --block, wait at most `DUR` for room, then fail (exit 3)", DefaultText: "none: wait for ever"},
		},
		Action: func(c *cli.Context) error {
			if c.Args().Len() == 0 {
				return withHint(usagef("send: missing QUEUE"), "usage: %s", c.Command.UsageText)
			}
			o := sendOptions{queue: c.Args().First(), files: c.Args().Slice()[1:], lines: c.Bool("lines"), nul: c.Bool("0"), atomic: c.Bool("atomic"),
				block: c.Bool("block"), wait: c.Duration("timeout")}
			if o.lines && o.nul {
				return usagef("send: --lines and -0 exclude each other")
			}
			if c.IsSet("timeout") && (!o.block || o.wait <= 0) {
				return usagef("send: --timeout goes with --block, and must be more than zero")
			}
			due, err := dueTime(c)
			if err != nil {
				return err
			}
			o.msg.Due = due
			if err := messageFlags(c, "send", &o.msg); err != nil {
				return err
			}
			if c.IsSet("group") {
				o.msg.Group = c.String("group")
				if err := spool.CheckGroup(o.msg.Group); err != nil {
					return usagef("send: --group: %v", err)
				}
			}
			if c.IsSet("dedup-id") {
				return runSendDedup(e, o, c.String("dedup-id"))
			}
			return runSend(e, o)
		},
	}
}

// ttlDefault is what --help says of --ttl's default: the queue's own ttl
// (pq init --set ttl=DUR), else the configuration's, else none.
const ttlDefault = "the queue's ttl, or the config's, or none"

// messageFlags reads the flags that pq send and pq request share: --ttl,
// --priority and -H, for the command called cmd.
func messageFlags(c *cli.Context, cmd string, o *spool.SendOptions) error {
	if c.IsSet("ttl") {
		ttl := c.Duration("ttl")
		if ttl <= 0 {
			return usagef("%s: --ttl must be more than zero, not %s", cmd, ttl)
		}
		o.Expires = time.Now().Add(ttl)
	}
	if p := c.Int("priority"); c.IsSet("priority") {
		if p < spool.MinPriority || p > spool.MaxPriority {
			return usagef("%s: --priority must be 0 to 9, not %d", cmd, p)
		}
		o.Priority = &p
	}
	for _, kv := range c.StringSlice("header") {
		h, err := spool.ParseHeader(kv)
		if err != nil {
			return usagef("%s: -H: %v", cmd, err)
		}
		o.Headers = append(o.Headers, h)
	}
	return nil
}

// sender commits messages in batches and prints their ids once durable.
type sender struct {
	q        *spool.Queue
	msg      spool.SendOptions
	batch    *spool.Batch
	atomic   bool // one commit at the end, all or nothing
	out      *bufio.Writer
	inRecord bool // a message is being written: commit after it
	idle     bool // input ran dry while a message was being written
	err      error
	block    bool            // wait for room in a full queue
	ctx      context.Context // ends a wait for room
	stderr   io.Writer       // where a wait for room is told
	progress *progress       // nil but for --lines and -0 on a terminal
}

func runSend(e *env, o sendOptions) error {
	bq, err := e.open(context.Background(), o.queue)
	if err != nil {
		return err
	}
	q, ok := spool.Unwrap(bq)
	if !ok {
		return runSendQueue(context.Background(), e, bq, o)
	}
	if q.DropBox() {
		return dropSend(e, q, o)
	}
	s := &sender{q: q, msg: o.msg, batch: q.NewBatch(), atomic: o.atomic, out: bufio.NewWriter(e.Out), block: o.block, ctx: context.Background(), stderr: e.Err}
	if o.atomic {
		s.batch = q.NewAtomicBatch()
	}
	defer s.batch.Close()
	if o.block {
		// Only a send that may wait watches signals (see withSignals).
		var cancel context.CancelFunc
		s.ctx, cancel = withSignals(s.ctx)
		defer cancel()
		if o.wait > 0 {
			s.ctx, cancel = context.WithTimeout(s.ctx, o.wait)
			defer cancel()
		}
	}
	if o.lines || o.nul {
		// The progress line lasts until the last commit is done.
		s.progress = newProgress(e.Err, "sent")
		defer s.progress.Done()
		if s.progress != nil {
			s.stderr = s.progress // a wait for room is told under the line
		}
		err = s.sendRecords(e, o)
	} else {
		err = s.sendFiles(e, o.files)
	}
	if err == nil {
		err = s.commit()
	}
	if ferr := s.out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write ids: %w", ferr)
	}
	return err
}

// add writes one message into the batch, committing when the batch is full
// or the input ran dry.
func (s *sender) add(body io.Reader) error {
	if err := s.waitRoom(); err != nil {
		return err
	}
	s.inRecord = true
	err := s.batch.AddWith(body, s.msg)
	s.inRecord = false
	if noRoom(err) && !s.atomic {
		// What fits is sent: commit it, and print its ids, first.
		if cerr := s.commit(); cerr != nil {
			return cerr
		}
	}
	if err != nil {
		return err
	}
	if s.err != nil {
		return s.err
	}
	if s.atomic {
		return nil
	}
	if s.idle || s.batch.Len() >= maxBatch {
		s.idle = false
		return s.commit()
	}
	return nil
}

// noRoom reports an error that says the queue or its disk is full.
func noRoom(err error) bool {
	return errors.Is(err, spool.ErrFull) || errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// waitRoom waits, for --block, until the queue has room for a message
// (see spool.Settings.MinFree). What the batch holds is committed first:
// its ids are printed, and consumers can take its messages.
func (s *sender) waitRoom() error {
	if !s.block {
		return nil
	}
	err := s.batch.Room()
	if !errors.Is(err, spool.ErrFull) {
		return err
	}
	if !s.atomic {
		if err := s.commit(); err != nil {
			return err
		}
	}
	fmt.Fprintf(s.stderr, "pq: waiting for room: %s\n", oneLine(err.Error()))
	pause := 20 * time.Millisecond
	for errors.Is(err, spool.ErrFull) {
		t := time.NewTimer(pause)
		select {
		case <-s.ctx.Done():
			t.Stop()
			return fmt.Errorf("gave up waiting for room: %w", err)
		case <-t.C:
		}
		pause = min(2*pause, time.Second)
		err = s.batch.Room()
	}
	return err
}

// commit makes the batch durable and prints its ids, in input order.
func (s *sender) commit() error {
	if s.batch.Len() == 0 {
		return nil
	}
	ids, err := s.batch.Commit()
	if err != nil {
		return withHint(err, "messages of the batch that failed may be in the queue all the same; only the ids printed are sure to be")
	}
	for _, id := range ids {
		s.out.WriteString(string(id))
		s.out.WriteByte('\n')
	}
	if err := s.out.Flush(); err != nil {
		return fmt.Errorf("write ids: %w", err)
	}
	return nil
}

// onIdle commits the batch when input stops flowing, so that ids of a slow
// producer's messages are printed without waiting for more input.
func (s *sender) onIdle() {
	if s.atomic {
		return
	}
	if s.inRecord {
		s.idle = true
		return
	}
	if err := s.commit(); err != nil && s.err == nil {
		s.err = err
	}
}

// sendFiles sends one message per file, or one from stdin without files.
func (s *sender) sendFiles(e *env, files []string) error {
	if len(files) == 0 {
		return s.add(e.In)
	}
	for _, name := range files {
		if err := s.sendFile(e, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *sender) sendFile(e *env, name string) error {
	if name == "-" {
		return s.add(e.In)
	}
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("send: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return fmt.Errorf("send: %s is a directory", name)
	}
	return s.add(f)
}

// openInputs opens the files a send reads, stdin for "-" or for none,
// and returns them with a function that closes them.
func openInputs(e *env, files []string) ([]io.Reader, func(), error) {
	var inputs []io.Reader
	var opened []*os.File
	closeAll := func() {
		for _, f := range opened {
			f.Close()
		}
	}
	if len(files) == 0 {
		inputs = append(inputs, e.In)
	}
	for _, name := range files {
		if name == "-" {
			inputs = append(inputs, e.In)
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			closeAll()
			return nil, nil, fmt.Errorf("send: %w", err)
		}
		opened = append(opened, f)
		inputs = append(inputs, f)
	}
	return inputs, closeAll, nil
}

// sendRecords sends one message per line or NUL-terminated record of stdin,
// or of the files named.
func (s *sender) sendRecords(e *env, o sendOptions) error {
	inputs, closeInputs, err := openInputs(e, o.files)
	if err != nil {
		return err
	}
	defer closeInputs()
	return eachRecord(s.countInput(inputs), o.nul, s.onIdle, func(r io.Reader) error {
		if err := s.add(r); err != nil {
			return err
		}
		s.progress.Add(1)
		return s.err
	})
}

// eachRecord calls add with each line, or each NUL-terminated record with
// nul, of inputs in turn, and onIdle whenever the input stalls, until add
// fails.
func eachRecord(inputs []io.Reader, nul bool, onIdle func(), add func(io.Reader) error) error {
	delim := byte('\n')
	if nul {
		delim = 0
	}
	for _, in := range inputs {
		rs := newRecords(newIdleReader(in, onIdle), delim)
		for rs.Next() {
			if err := add(rs); err != nil {
				return err
			}
		}
		if err := rs.Err(); err != nil {
			return fmt.Errorf("send: read input: %w", err)
		}
	}
	return nil
}

// countInput wraps inputs to count the bytes read from them, for the
// progress line, when all are regular files whose sizes tell how much
// input there is.
func (s *sender) countInput(inputs []io.Reader) []io.Reader {
	if s.progress == nil {
		return inputs
	}
	var size int64
	for _, in := range inputs {
		f, ok := in.(*os.File)
		if !ok {
			return inputs
		}
		fi, err := f.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return inputs
		}
		off, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return inputs
		}
		size += fi.Size() - off
	}
	counted := make([]io.Reader, len(inputs))
	var readers []*countingReader
	for i, in := range inputs {
		c := &countingReader{r: in}
		counted[i], readers = c, append(readers, c)
	}
	s.progress.SetBytes(func() int64 {
		var n int64
		for _, c := range readers {
			n += c.n.Load()
		}
		return n
	}, size)
	return counted
}

// dueTime reads --delay and --at: the time before which the messages sent
// are not delivered, zero for none.
func dueTime(c *cli.Context) (time.Time, error) {
	switch {
	case c.IsSet("delay") && c.IsSet("at"):
		return time.Time{}, usagef("send: --delay and --at exclude each other")
	case c.IsSet("delay"):
		d := c.Duration("delay")
		if d < 0 {
			return time.Time{}, usagef("send: --delay must not be negative, not %s", d)
		}
		return time.Now().Add(d), nil
	case c.IsSet("at"):
		t, err := time.Parse(time.RFC3339Nano, c.String("at"))
		if err != nil {
			return time.Time{}, withHint(usagef("send: --at %q is not an RFC 3339 time", c.String("at")),
				"write it like 2026-12-24T18:00:00Z or 2026-12-24T19:00:00+01:00")
		}
		return t, nil
	}
	return time.Time{}, nil
}
