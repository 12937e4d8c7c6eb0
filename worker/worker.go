package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"pq/queue"
	"pq/spool"
)

// interruptWindow is how long a worker that is not shutting down waits for
// its shutdown to begin after a handler failed with [ErrInterrupted]. A
// signal sent to a whole process group, as systemd sends SIGTERM to a
// service, may kill a job before the worker's own signal handling cancels
// its context.
var interruptWindow = 250 * time.Millisecond

// Handler handles one message. It returns nil when the message was handled,
// which acks it, and an error when this attempt failed: see [Run] for what
// the worker does with each kind of error. ctx is cancelled when the worker
// stops the handler (at the end of Options.Grace, or on
// [Worker.Interrupt]) and when the attempt runs past Options.JobTimeout; a
// handler should then return soon.
type Handler func(ctx context.Context, m *Message) error

// Message is a claimed message handed to a Handler. It is valid until the
// handler returns.
type Message struct {
	q  queue.Queue
	c  queue.Claim
	sc *spool.Claim // c, when the queue is a spool's; else nil
}

// newMessage returns the Message of claim c of q.
func newMessage(q queue.Queue, c queue.Claim) *Message {
	sc, _ := c.(*spool.Claim)
	return &Message{q: q, c: c, sc: sc}
}

// Queue returns the queue the message came from. [spool.Unwrap] gives the
// spool queue behind it, for what only a spool has, such as replies.
func (m *Message) Queue() queue.Queue { return m.q }

// Claim returns the message's claim, for what only its backend has.
func (m *Message) Claim() queue.Claim { return m.c }

// ID returns the message's ID.
func (m *Message) ID() spool.ID { return m.c.ID() }

// Attempt returns which delivery of the message this is: 1 the first time.
func (m *Message) Attempt() int { return m.c.Attempt() }

// Path returns the claimed message's file, or "" when the queue is not a
// spool's.
func (m *Message) Path() string {
	if m.sc == nil {
		return ""
	}
	return m.sc.Path()
}

// File returns the claim's open, locked descriptor. A child process that
// inherits it holds the claim for as long as it keeps it open, even if the
// worker dies. It is nil when the queue is not a spool's.
func (m *Message) File() *os.File {
	if m.sc == nil {
		return nil
	}
	return m.sc.File()
}

// Body returns a reader of the message body from its first byte.
func (m *Message) Body() io.Reader { return m.c.Body() }

// Group returns the message's group, "" for none.
func (m *Message) Group() string {
	if m.sc == nil {
		return ""
	}
	return m.sc.Group()
}

// Priority returns the message's priority, 0 to 9.
func (m *Message) Priority() int {
	if m.sc == nil {
		return spool.DefaultPriority
	}
	return m.sc.Priority()
}

// Headers returns the message's headers, in the order they were given.
func (m *Message) Headers() ([]spool.Header, error) { return m.c.Headers() }

// SenderUID returns the user id of the message's sender, as the kernel
// knows it (see [spool.Claim.SenderUID]), and false when the queue is not
// a spool's, whose senders the kernel does not vouch for.
func (m *Message) SenderUID() (uint32, bool) {
	if m.sc == nil {
		return 0, false
	}
	return m.sc.SenderUID(), true
}

// Sender returns the user name of the message's sender, or its uid as a
// number when the system's user file does not list it; "" when the queue
// is not a spool's.
func (m *Message) Sender() string {
	if m.sc == nil {
		return ""
	}
	return spool.SenderName(m.sc.SenderUID())
}

// Options are the settings of a worker.
type Options struct {
	// Jobs is how many handlers may run at once; less than 1 means 1.
	Jobs int
	// Wait makes the worker wait for messages when the queue is empty,
	// until its context is done. Without it the worker returns once no
	// ready message is left and no handler runs.
	Wait bool
	// MaxAttempts is how many times a message is tried in all, at least
	// 1. A message that fails that many times, or that comes with that
	// many failed attempts already, is dead-lettered.
	MaxAttempts int
	// BackoffMin and BackoffMax bound the wait before a retry: BackoffMin
	// after the first failure, doubled after each further one.
	BackoffMin, BackoffMax time.Duration
	// JobTimeout limits one attempt; 0 means no limit.
	JobTimeout time.Duration
	// Grace is how long running handlers may go on once the worker's
	// context is done, before they are stopped.
	Grace time.Duration
	// Rate caps how many handlers start per second; 0 means no cap.
	Rate float64
	// MaxTime, when more than 0, makes the worker stop claiming that long
	// after Run began; the running handlers finish as they would without
	// it (within JobTimeout), and Run returns as it does when the queue is
	// drained.
	MaxTime time.Duration
	// Slots, if not nil, is taken before each claim and released when the
	// handler returns: it caps the handlers running across processes
	// (see [spool.Queue.Slots]). When no slot is free the worker waits for
	// one with Wait; without Wait it ends at once unless its own handlers
	// run, whose ends free slots.
	Slots *spool.Slots
	// Logger receives a record for each message settled, with the keys
	// queue, id, attempt, duration (seconds the handler ran), outcome (see
	// [Outcome]), and cause and backoff (seconds) where they apply: an
	// ack at level Info, a retry at Warn, a dead letter or a message put
	// back by a handler that cannot run at Error. Each claim is a record
	// at level Debug. A record's message reads as a sentence after the
	// message's ID, such as "exit status 3 on attempt 1 of 5 after 2ms:
	// retry in 1s". Nil discards them.
	Logger *slog.Logger
	// Settled, if not nil, is called with what became of each message
	// once it is settled, after its record is logged: for counts and
	// progress. It may be called from several goroutines at once and
	// should return soon.
	Settled func(Result)
}

// check reports options out of range.
func (o *Options) check() error {
	switch {
	case o.MaxAttempts < 1:
		return fmt.Errorf("%w: MaxAttempts must be at least 1, not %d", ErrBadOptions, o.MaxAttempts)
	case o.BackoffMin < 0 || o.BackoffMax < o.BackoffMin:
		return fmt.Errorf("%w: backoff from %s to %s", ErrBadOptions, o.BackoffMin, o.BackoffMax)
	case o.JobTimeout < 0 || o.Grace < 0 || o.Rate < 0 || o.MaxTime < 0:
		return fmt.Errorf("%w: JobTimeout, Grace, Rate and MaxTime must not be negative", ErrBadOptions)
	}
	return nil
}

// Worker runs a handler once per message of a queue, up to Options.Jobs at
// a time, and settles each message by the handler's result.
type Worker struct {
	q   queue.Queue
	sq  *spool.Queue // q, when it is a spool's; else nil
	h   Handler
	o   Options
	log *slog.Logger

	acks    chan finished
	ackErr  chan error
	unacked atomic.Int64 // claims sent to the acker and not yet acked

	mu          sync.Mutex
	running     map[*job]bool
	fatal       error         // stops the worker
	interrupt   chan struct{} // closed by Interrupt
	interrupted bool
	done        chan struct{} // a job ended
	stopping    <-chan struct{}
	lastClean   time.Time // of the reply places; for the loop alone
	lastPrune   time.Time // of the dead letters; likewise
}

// job is one run of the handler on one claimed message.
type job struct {
	c           queue.Claim
	cancel      context.CancelFunc
	interrupted bool // stopped by the worker: not the message's fault
}

// New returns a Worker that runs h on the messages of q.
func New(q queue.Queue, h Handler, o Options) (*Worker, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	o.Jobs = max(o.Jobs, 1)
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sq, _ := spool.Unwrap(q)
	if o.Slots != nil && sq == nil {
		return nil, fmt.Errorf("%w: Slots need a spool queue", ErrBadOptions)
	}
	return &Worker{
		q: q, sq: sq, h: h, o: o, log: log.With("queue", q.Name()),
		running: map[*job]bool{}, interrupt: make(chan struct{}),
		done: make(chan struct{}, 1),
	}, nil
}

// Run is New followed by [Worker.Run].
func Run(ctx context.Context, q queue.Queue, h Handler, o Options) error {
	w, err := New(q, h, o)
	if err != nil {
		return err
	}
	return w.Run(ctx)
}

// Run claims messages and runs the handler on each, until no ready message
// is left (without Options.Wait) or ctx is done. Then it waits for the
// running handlers, up to Options.Grace once ctx is done, stops those still
// running and puts their messages back untouched, and returns. A Worker
// runs once.
//
// A handler's result settles its message:
//   - nil acks it (acks are committed in groups, with one fsync);
//   - an error that is [ErrPermanent] dead-letters it;
//   - an error that is [ErrCannotRun] puts it back untouched and stops the
//     worker, which returns that error;
//   - an error after the worker stopped the handler, or one that is
//     [ErrInterrupted] while the worker shuts down, puts it back untouched;
//   - any other error, a panic, and running past Options.JobTimeout, is a
//     failed attempt: the message is retried after a backoff, or
//     dead-lettered once it failed Options.MaxAttempts times.
//
// A message claimed with Options.MaxAttempts failed attempts or more, such
// as one that killed its worker each time and came back through recovery,
// is dead-lettered with the cause "too many attempts" without running the
// handler.
//
// Run returns nil when it ended as asked, or the error that stopped it: a
// handler that cannot run, or a failure of the queue itself.
func (w *Worker) Run(ctx context.Context) error {
	w.stopping = ctx.Done()
	w.acks, w.ackErr = make(chan finished, 1024), make(chan error, 1)
	go w.acker()
	w.pruneDeadLetters()
	lctx := ctx
	if w.o.MaxTime > 0 {
		var cancel context.CancelFunc
		lctx, cancel = context.WithTimeout(ctx, w.o.MaxTime)
		defer cancel()
	}
	loopErr := w.loop(lctx)
	w.drain(ctx.Err() != nil)
	w.lastPrune = time.Time{}
	w.pruneDeadLetters()
	close(w.acks)
	ackErr := <-w.ackErr
	w.mu.Lock()
	fatal := w.fatal
	w.mu.Unlock()
	switch {
	case fatal != nil:
		return fatal
	case loopErr != nil:
		return loopErr
	default:
		return ackErr
	}
}

// Interrupt stops the running handlers at once (as the end of
// Options.Grace does) and puts their messages back untouched. It is for a
// second signal, after the first cancelled Run's context; it is safe to
// call at any time and more than once.
func (w *Worker) Interrupt() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.interrupted {
		w.interrupted = true
		close(w.interrupt)
	}
}

// loop claims messages and starts jobs until the queue is drained (without
// Wait), ctx is done, or the worker must stop.
func (w *Worker) loop(ctx context.Context) error {
	r, err := w.q.NewReceiver(ctx)
	if c, ok := w.q.(queue.Creator); ok && w.o.Wait && errors.Is(err, queue.ErrNoQueue) {
		// A waiting worker waits on a queue that does not exist yet.
		if err = c.Create(ctx); err == nil {
			r, err = w.q.NewReceiver(ctx)
		}
	}
	if err != nil {
		return err
	}
	defer r.Close()
	slots := make(chan struct{}, w.o.Jobs)
	next := time.Now() // the earliest start allowed by Rate
	for {
		if ctx.Err() != nil || w.stopped() {
			return nil
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		// A job that could not run may have stopped the worker while
		// we waited for its slot.
		if w.stopped() || w.pace(ctx, &next) != nil {
			<-slots
			return nil
		}
		sl, ok, err := w.takeSlot(ctx)
		if !ok {
			<-slots
			return err
		}
		busy := w.count()
		held := 1 + w.grabSlots(r, slots) // job slots this round holds
		cs, err := w.claimSome(ctx, r, held)
		for range held - len(cs) {
			<-slots
		}
		if err != nil {
			sl.Release()
		}
		switch {
		case errors.Is(err, queue.ErrEmpty):
			if more, err := w.idle(ctx, r, busy); !more {
				return err
			}
			continue
		case err != nil && ctx.Err() != nil:
			return nil
		case err != nil:
			return err
		}
		for _, c := range cs {
			w.log.LogAttrs(ctx, slog.LevelDebug, fmt.Sprintf("claimed for attempt %d", c.Attempt()),
				slog.String("id", string(c.ID())), slog.Int("attempt", c.Attempt()), slog.String("outcome", "claimed"))
			if c.Attempt() > w.o.MaxAttempts {
				w.deadLetterPoison(c)
				sl.Release()
				<-slots
				continue
			}
			w.start(ctx, c, sl, slots)
		}
	}
}

// grabSlots takes, without waiting, the job slots that are free beside
// the one taken, so that a receiver whose claims are round trips to a
// server (a queue.BatchClaimer) claims for all of them at once. It takes
// none when the worker paces its starts or caps them across processes,
// which go one claim at a time. It returns how many it took.
func (w *Worker) grabSlots(r queue.Receiver, slots chan struct{}) int {
	if _, ok := r.(queue.BatchClaimer); !ok || w.o.Rate > 0 || w.o.Slots != nil {
		return 0
	}
	n := 0
	for n < cap(slots)-1 {
		select {
		case slots <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

// claimSome claims up to n messages: together where the receiver can,
// else one. A waiting worker waits for one when none is ready.
func (w *Worker) claimSome(ctx context.Context, r queue.Receiver, n int) ([]queue.Claim, error) {
	if b, ok := r.(queue.BatchClaimer); ok && n > 1 {
		cs, err := b.ClaimBatch(ctx, n)
		if !errors.Is(err, queue.ErrEmpty) || !w.o.Wait {
			return cs, err
		}
	}
	c, err := w.claim(ctx, r)
	if err != nil {
		return nil, err
	}
	return []queue.Claim{c}, nil
}

// start runs the handler on c in a goroutine of its own, which frees its
// slot when done.
func (w *Worker) start(ctx context.Context, c queue.Claim, sl *spool.Slot, slots chan struct{}) {
	// The handler's context outlives ctx: a shutdown gives it Grace.
	jctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	j := &job{c: c, cancel: cancel}
	w.mu.Lock()
	w.running[j] = true
	w.mu.Unlock()
	go func() {
		w.run(jctx, j)
		cancel()
		sl.Release()
		w.mu.Lock()
		delete(w.running, j)
		w.mu.Unlock()
		<-slots
		select {
		case w.done <- struct{}{}:
		default: // a wake-up is already pending
		}
	}()
}

// takeSlot takes one of Options.Slots, if any, and reports whether to go
// on. When none is free it waits for one with Wait; without Wait it waits
// for its own running handlers to end, and ends when none runs: the
// handlers that hold the slots, in other workers, serve the queue.
func (w *Worker) takeSlot(ctx context.Context) (*spool.Slot, bool, error) {
	if w.o.Slots == nil {
		return nil, true, nil
	}
	for {
		sl, err := w.o.Slots.Take()
		if !errors.Is(err, spool.ErrNoSlot) {
			return sl, err == nil, err
		}
		if w.o.Wait {
			sl, err := w.o.Slots.Wait(ctx)
			if ctx.Err() != nil {
				return nil, false, nil
			}
			return sl, err == nil, err
		}
		if w.count() == 0 {
			w.log.Debug("every slot is taken by other workers: done")
			return nil, false, nil
		}
		select {
		case <-w.done:
		case <-ctx.Done():
			return nil, false, nil
		}
	}
}

// idle waits after finding the queue empty and reports whether to go on:
// without Wait the worker ends once it found the queue empty with no job
// running (busy is how many ran when it looked), since a running job may
// put its message back. A wait that fails for any reason but ctx is an
// error.
func (w *Worker) idle(ctx context.Context, r queue.Receiver, busy int) (bool, error) {
	if w.o.Wait {
		w.cleanReplies()
		w.pruneDeadLetters()
		wr, ok := r.(queue.Waiter)
		if !ok {
			return ctx.Err() == nil, nil // the claim waited
		}
		err := wr.Wait(ctx)
		if err != nil && ctx.Err() == nil {
			return false, fmt.Errorf("wait on queue %s: %w", w.q.Name(), err)
		}
		return err == nil, nil
	}
	// A job that ended may have its ack pending, and its message
	// holds its group until the ack: the next of the group is there
	// to take once it is done.
	if busy == 0 && w.unacked.Load() == 0 {
		return false, nil
	}
	if w.count() == 0 && w.unacked.Load() == 0 {
		return true, nil // look once more, now that all are done
	}
	select {
	case <-w.done:
	case <-ctx.Done():
		return false, nil
	}
	return true, nil
}

// pace waits for the next start that Rate allows.
func (w *Worker) pace(ctx context.Context, next *time.Time) error {
	if w.o.Rate <= 0 {
		return nil
	}
	if d := time.Until(*next); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	*next = time.Now().Add(time.Duration(float64(time.Second) / w.o.Rate))
	return nil
}

func (w *Worker) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running)
}

func (w *Worker) stopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fatal != nil
}

// setFatal records the error that stops the worker, keeping the first.
func (w *Worker) setFatal(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fatal == nil {
		w.fatal = err
	}
}

// drain waits for running jobs. After a shutdown it waits up to Grace, then
// stops what is left, whose messages go back; Interrupt does that at once.
func (w *Worker) drain(shutdown bool) {
	var graceC <-chan time.Time
	if shutdown {
		t := time.NewTimer(w.o.Grace)
		defer t.Stop()
		graceC = t.C
	}
	interrupt := w.interrupt
	for w.count() > 0 {
		select {
		case <-w.done:
		case <-graceC:
			w.interruptAll()
			graceC = nil
		case <-interrupt:
			w.interruptAll()
			interrupt = nil
		}
	}
}

// interruptAll stops every running job; their messages go back untouched.
func (w *Worker) interruptAll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for j := range w.running {
		j.interrupted = true
		j.cancel()
	}
}

// shuttingDown reports whether the worker's shutdown has begun, or begins
// within interruptWindow.
func (w *Worker) shuttingDown() bool {
	select {
	case <-w.stopping:
		return true
	default:
	}
	t := time.NewTimer(interruptWindow)
	defer t.Stop()
	select {
	case <-w.stopping:
		return true
	case <-t.C:
		return false
	}
}

// idleClaim bounds a waiting claim on a receiver that is not a
// queue.Waiter, so that the worker still tidies the queue while it waits.
const idleClaim = 2 * time.Second

// claim claims the next message. A waiting worker whose receiver is not a
// queue.Waiter waits in the claim itself, up to idleClaim, after which the queue
// counts as empty.
func (w *Worker) claim(ctx context.Context, r queue.Receiver) (queue.Claim, error) {
	if _, ok := r.(queue.Waiter); ok || !w.o.Wait {
		return r.Claim(ctx, false)
	}
	cctx, cancel := context.WithTimeout(ctx, idleClaim)
	defer cancel()
	c, err := r.Claim(cctx, true)
	if err != nil && ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("queue %s: %w", w.q.Name(), queue.ErrEmpty)
	}
	return c, err
}
