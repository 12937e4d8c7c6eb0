package cmd

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"pq/queue"
)

// maxBody bounds a body that pq send reads into memory for a backend that
// takes whole messages; the backend refuses what is over its own limit.
const maxBody = 64 << 20

// queueSender sends through the queue interface, for a backend that is not
// a spool: it gathers messages while input flows, and sends them together
// when the input stalls, at the end, or every maxBatch messages. A full
// batch is sent while the next one is read: one batch at a time, so that
// the messages keep their order, and its ids are printed before the next
// batch is sent.
type queueSender struct {
	q       queue.Queue
	msg     queue.Message // what every message shares: headers, expiry
	pending []queue.Message
	flight  *flight // the batch being sent, if any
	out     *bufio.Writer
	ctx     context.Context
	err     error // of a send made when the input stalled
}

// flight is a batch being sent in the background.
type flight struct {
	n    int           // messages in the batch
	done chan struct{} // closed once ids and err are set
	ids  []queue.ID
	err  error
}

// runSendQueue is pq send on a queue that is not a spool's. It refuses the
// flags that only a spool has.
func runSendQueue(ctx context.Context, e *env, q queue.Queue, o sendOptions) error {
	if err := spoolOnlySend(e, o); err != nil {
		return err
	}
	s := &queueSender{q: q, out: bufio.NewWriter(e.Out), ctx: ctx,
		msg: queue.Message{Headers: o.msg.Headers, Expires: o.msg.Expires, DedupID: o.msg.DedupID}}
	if ttl := e.cfg.Queue(o.queue).TTL; s.msg.Expires.IsZero() && ttl > 0 {
		// The configuration's ttl, as a spool applies it: the backend
		// has no settings of pq's own.
		s.msg.Expires = time.Now().Add(ttl)
	}
	if d, ok := q.(queue.DedupSender); ok && s.msg.DedupID != "" && !o.lines && !o.nul && len(o.files) <= 1 {
		return sendDedup(ctx, e, d, s.msg, o.files)
	}
	var err error
	if o.lines || o.nul {
		err = s.sendRecords(e, o)
	} else {
		err = s.sendFiles(e, o.files)
	}
	if err == nil {
		err = s.commit()
	} else {
		s.wait() // the ids of a batch sent before the error are printed all the same
	}
	if ferr := s.out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write ids: %w", ferr)
	}
	return err
}

// spoolOnlySend refuses the flags of pq send that only a spool has.
func spoolOnlySend(e *env, o sendOptions) error {
	switch {
	case o.atomic:
		return unsupported(e, "--atomic")
	case o.block:
		return unsupported(e, "--block")
	case o.msg.Group != "":
		return unsupported(e, "--group")
	case o.msg.Priority != nil:
		return unsupported(e, "--priority")
	case !o.msg.Due.IsZero():
		return unsupported(e, "--delay/--at")
	}
	return nil
}

// add reads one body into the batch, sending the batch when it is full.
func (s *queueSender) add(body io.Reader) error {
	b, err := io.ReadAll(io.LimitReader(body, maxBody+1))
	if err != nil {
		return fmt.Errorf("send: read input: %w", err)
	}
	if len(b) > maxBody {
		return fmt.Errorf("send: a message of more than %d MiB is not read into memory", maxBody>>20)
	}
	m := s.msg
	m.Body = bytes.NewReader(b)
	s.pending = append(s.pending, m)
	if s.err != nil {
		return s.err
	}
	if len(s.pending) >= maxBatch {
		return s.start()
	}
	return nil
}

// commit sends the pending messages and prints their ids, and those of
// the batch being sent before them, in input order.
func (s *queueSender) commit() error {
	if err := s.start(); err != nil {
		return err
	}
	return s.wait()
}

// start waits for the batch being sent, if any, and starts sending the
// pending messages in the background.
func (s *queueSender) start() error {
	if err := s.wait(); err != nil {
		return err
	}
	if len(s.pending) == 0 {
		return nil
	}
	msgs := s.pending
	s.pending = nil
	f := &flight{n: len(msgs), done: make(chan struct{})}
	s.flight = f
	go func() {
		defer close(f.done)
		f.ids, f.err = sendAll(s.ctx, s.q, msgs)
	}()
	return nil
}

// wait waits for the batch being sent, if any, and prints its ids.
func (s *queueSender) wait() error {
	f := s.flight
	if f == nil {
		return nil
	}
	s.flight = nil
	<-f.done
	for _, id := range f.ids {
		s.out.WriteString(string(id))
		s.out.WriteByte('\n')
	}
	err := f.err
	if ferr := s.out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write ids: %w", ferr)
	}
	if h := backendHint(err); h != "" {
		return withHint(err, "%s", h) // the backend's advice, such as for a message too big
	}
	if err != nil && len(f.ids) < f.n {
		return withHint(err, "%d of the %d messages of the batch that failed were sent and their ids printed; the others may be in the queue all the same", len(f.ids), f.n)
	}
	return err
}

// sendAll sends msgs to q: together, where q can.
func sendAll(ctx context.Context, q queue.Queue, msgs []queue.Message) ([]queue.ID, error) {
	if b, ok := q.(queue.BatchSender); ok {
		return b.SendBatch(ctx, msgs)
	}
	ids := make([]queue.ID, 0, len(msgs))
	for _, m := range msgs {
		id, err := q.Send(ctx, m)
		if err != nil {
			return ids, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// onIdle sends what is pending when input stops flowing, so that the ids
// of a slow producer's messages are printed without waiting for more.
func (s *queueSender) onIdle() {
	if err := s.commit(); err != nil && s.err == nil {
		s.err = err
	}
}

// sendFiles sends one message per file, or one from stdin without files.
func (s *queueSender) sendFiles(e *env, files []string) error {
	inputs, closeInputs, err := openInputs(e, files)
	if err != nil {
		return err
	}
	defer closeInputs()
	if s.msg.DedupID != "" && len(inputs) > 1 {
		return usagef("send: --dedup-id needs a send of one message: not with several FILEs")
	}
	for _, in := range inputs {
		if err := s.add(in); err != nil {
			return err
		}
	}
	return nil
}

// sendRecords sends one message per line or NUL-terminated record.
func (s *queueSender) sendRecords(e *env, o sendOptions) error {
	if s.msg.DedupID != "" {
		return usagef("send: --dedup-id needs a send of one message: not with --lines or -0")
	}
	inputs, closeInputs, err := openInputs(e, o.files)
	if err != nil {
		return err
	}
	defer closeInputs()
	if err := eachRecord(inputs, o.nul, s.onIdle, s.add); err != nil {
		return err
	}
	return s.err
}

// sendDedup sends one message with a dedup ID, from stdin or the one
// file, and says on stderr when it was a duplicate, as "pq: duplicate of
// ID", which is the ID it prints.
func sendDedup(ctx context.Context, e *env, q queue.DedupSender, m queue.Message, files []string) error {
	inputs, closeInputs, err := openInputs(e, files)
	if err != nil {
		return err
	}
	defer closeInputs()
	m.Body = inputs[0]
	id, dup, err := q.SendDedup(ctx, m)
	if err != nil {
		return err
	}
	if dup {
		fmt.Fprintf(e.Err, "pq: duplicate of %s\n", id)
	}
	if _, err := fmt.Fprintln(e.Out, id); err != nil {
		return fmt.Errorf("write ids: %w", err)
	}
	return nil
}
