package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"pq/seal"
)

// Reply answers the request id with a body read from r to its end. It is
// [Queue.NewReply], a copy, and [ReplyWriter.Commit]: an error matching
// ErrNoRequester when nobody waits for the reply (it is discarded), one
// matching ErrReplied when the request has a reply already (the first one
// stands).
func (q *Queue) Reply(id ID, r io.Reader) error {
	w, err := q.NewReply(id)
	if err != nil {
		return err
	}
	var dst io.Writer = w.f // a pipe splices
	if w.enc != nil {
		dst = w
	}
	if _, err := io.Copy(dst, r); err != nil {
		w.Abort()
		return fmt.Errorf("reply to %s: %w", id, err)
	}
	return w.Commit()
}

// ReplyWriter writes a reply into its request's reply place, under a dot
// name that the requester ignores, until Commit renames it in whole to
// .replies/ID/reply: the requester never sees part of a reply. Its body
// streams to the file; nothing of it is held in memory. On an encrypted
// queue the reply is encrypted to the queue's recipients as it is
// written, as a message's body is.
type ReplyWriter struct {
	q    *Queue
	id   ID
	dir  string
	tmp  string
	f    *os.File
	enc  io.WriteCloser // encrypts to the file, on an encrypted queue
	done bool
}

// NewReply starts a reply to the request id. It returns an error matching
// ErrNoRequester when nobody waits for the reply: the request's reply
// place is missing (its requester timed out, withdrew or died) or no
// longer locked by a live requester. An id that cannot be a request's
// matches ErrNoMessage.
func (q *Queue) NewReply(id ID) (*ReplyWriter, error) {
	if !replyID(id) {
		return nil, fmt.Errorf("reply to %q in %s: %w", id, q.name, ErrNoMessage)
	}
	if !q.requesterAlive(id) {
		return nil, fmt.Errorf("reply to %s: %w", id, ErrNoRequester)
	}
	dir := filepath.Join(q.dir, dirReplies, string(id))
	tmp := filepath.Join(dir, fmt.Sprintf(".tmp-%016x", rand.Uint64()))
	f, err := openFD(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reply to %s: %w", id, ErrNoRequester)
	}
	if err != nil {
		return nil, fmt.Errorf("reply to %s: %w", id, err)
	}
	w := &ReplyWriter{q: q, id: id, dir: dir, tmp: tmp, f: f}
	rs, err := q.Recipients()
	if err == nil && len(rs) > 0 {
		w.enc, err = seal.Encrypt(f, rs)
	}
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("reply to %s: %w", id, err)
	}
	return w, nil
}

// Write writes to the reply's body.
func (w *ReplyWriter) Write(p []byte) (int, error) {
	if w.enc != nil {
		return w.enc.Write(p)
	}
	return w.f.Write(p)
}

// File returns the file the reply is written to, for a child process to
// write the reply as its stdout; nil on an encrypted queue, whose replies
// must go through Write to be encrypted.
func (w *ReplyWriter) File() *os.File {
	if w.enc != nil {
		return nil
	}
	return w.f
}

// Commit makes the reply durable and hands it to its requester: fsync the
// file, close it, rename it to reply without replacing one that is there,
// and fsync the reply place. An error matching ErrReplied says the request
// had a reply already, one matching ErrNoRequester that its requester went
// away meanwhile; the reply is discarded in both cases.
func (w *ReplyWriter) Commit() error {
	if w.done {
		return fmt.Errorf("reply to %s: committed or aborted already", w.id)
	}
	w.done = true
	var err error
	if w.enc != nil {
		err = w.enc.Close()
	}
	if err == nil && !w.q.opts.NoSync {
		err = fsync("fsync", w.f)
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = renameNoReplace(w.tmp, filepath.Join(w.dir, replyBody))
	}
	switch {
	case errors.Is(err, fs.ErrExist):
		remove(w.tmp)
		return fmt.Errorf("reply to %s: %w", w.id, ErrReplied)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reply to %s: %w", w.id, ErrNoRequester)
	case err != nil:
		remove(w.tmp)
		return fmt.Errorf("reply to %s: %w", w.id, err)
	}
	// A requester that took the reply at once has removed its place: the
	// reply reached it, and there is nothing left to sync.
	if err := w.q.sync(w.dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("reply to %s: %w", w.id, err)
	}
	return nil
}

// Abort discards the reply. It is safe to call after Commit and more than
// once.
func (w *ReplyWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	remove(w.tmp)
}
