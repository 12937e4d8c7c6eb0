package worker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"pq/queue"
	"pq/spool"
)

// cleanRepliesEvery is how often, at most, a waiting worker removes the
// reply places that nobody waits on any more (see [spool.Queue.CleanReplies]).
var cleanRepliesEvery = time.Minute

// Request reports whether the message is a request, whose sender waits for
// a reply: a handler answers it before it returns with the spool queue's
// Reply (see [spool.Queue.Reply]):
//
//	sq, _ := spool.Unwrap(m.Queue())
//	err := sq.Reply(m.ID(), body)
//
// On another backend, a request's claim is a [queue.Replier], whose Reply
// answers it.
func (m *Message) Request() bool {
	if m.sc != nil {
		return m.sc.Request()
	}
	rp, ok := m.c.(queue.Replier)
	return ok && rp.IsRequest()
}

// newReply starts the reply to the request m; nil when nobody waits for it
// any more, which is logged.
func (r *commandRunner) newReply(m *Message) (*spool.ReplyWriter, error) {
	rq, id := m.sc.ReplyTo()
	w, err := rq.NewReply(id)
	if errors.Is(err, spool.ErrNoRequester) {
		r.logDiscarded(m)
		return nil, nil
	}
	if err != nil {
		return nil, &Failure{Cause: fmt.Sprintf("cannot start the reply: %v", err)}
	}
	return w, nil
}

// commitReply commits the reply of a command that exited 0, if m is a
// request. A reply that nobody waits for any more, or that comes second, is
// discarded: the request was handled all the same.
func (r *commandRunner) commitReply(m *Message, w *spool.ReplyWriter) error {
	if w == nil {
		return nil
	}
	err := w.Commit()
	switch {
	case errors.Is(err, spool.ErrNoRequester):
		r.logDiscarded(m)
	case errors.Is(err, spool.ErrReplied):
		r.log(m, "the request was replied to already: reply discarded")
	case err != nil:
		return &Failure{Cause: fmt.Sprintf("cannot commit the reply: %v", err)}
	}
	return nil
}

// newReplyFile starts the reply to the request m of a queue that is not
// a spool's: a temporary file that the command's stdout goes to, removed
// when the returned function is called.
func newReplyFile() (*os.File, func(), error) {
	f, err := os.CreateTemp("", "pq-reply-*")
	if err != nil {
		return nil, nil, cannotRun("reply file: "+err.Error(), "")
	}
	return f, func() { f.Close(); os.Remove(f.Name()) }, nil
}

// sendReply sends the reply in f, the stdout of a command that exited 0,
// to the requester of m, a queue.Replier's claim. A reply that nobody
// waits for any more is discarded: the request was handled all the same.
func (r *commandRunner) sendReply(ctx context.Context, m *Message, f *os.File) error {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return &Failure{Cause: fmt.Sprintf("cannot read the reply: %v", err)}
	}
	err := m.c.(queue.Replier).Reply(context.WithoutCancel(ctx), f)
	switch {
	case errors.Is(err, queue.ErrNoRequester):
		r.logDiscarded(m)
	case err != nil:
		return &Failure{Cause: fmt.Sprintf("cannot send the reply: %v", err)}
	}
	return nil
}

// logDiscarded says that a request's reply goes nowhere.
func (r *commandRunner) logDiscarded(m *Message) {
	r.log(m, "nobody waits for the reply any more: output discarded")
}

// log logs a line about m.
func (r *commandRunner) log(m *Message, format string, args ...any) {
	if r.o.Logger == nil {
		return
	}
	r.o.Logger.With("queue", m.Queue().Name()).Warn(fmt.Sprintf(format, args...), "id", string(m.ID()))
}

// cleanReplies removes the reply places of dead requesters, at most once
// every cleanRepliesEvery.
func (w *Worker) cleanReplies() {
	if !w.lastClean.IsZero() && time.Since(w.lastClean) < cleanRepliesEvery {
		return
	}
	w.lastClean = time.Now()
	if w.sq == nil {
		return
	}
	if _, err := w.sq.CleanReplies(); err != nil {
		w.log.Warn(fmt.Sprintf("cannot clean up replies: %v", err), slog.String("cause", err.Error()))
	}
}
