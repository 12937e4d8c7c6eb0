package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Send stores one message whose body is read from body to its end, and
// returns its ID once the message is durable. It is a Batch of one.
func (q *Queue) Send(body io.Reader) (ID, error) {
	b := q.NewBatch()
	id, err := b.Add(body)
	if err != nil {
		b.Abort()
		return "", err
	}
	if err := b.Commit(); err != nil {
		return "", err
	}
	return id, nil
}

// Batch sends several messages with one commit: their files are written into
// tmp/ as they are added, and Commit makes them durable together and only
// then moves them into new/, so that a receiver never sees a message that a
// crash could still take away. A Batch is for one goroutine.
type Batch struct {
	q       *Queue
	pending []pendingFile
}

// pendingFile is a message written into tmp/ and not yet committed.
type pendingFile struct {
	f    *os.File
	path string
	id   ID
}

// NewBatch starts an empty batch.
func (q *Queue) NewBatch() *Batch { return &Batch{q: q} }

// Len returns the number of messages added since the last Commit.
func (b *Batch) Len() int { return len(b.pending) }

// Add writes a message whose body is read from body to its end into tmp/
// and returns the ID it will have. The message is not visible to receivers,
// nor durable, until Commit returns. On error nothing of it is left behind.
func (b *Batch) Add(body io.Reader) (ID, error) {
	id, _ := newID()
	path := filepath.Join(b.q.tmp, string(id))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		// The first message sent to a queue creates it.
		if err = b.q.Create(); err == nil {
			f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		}
	}
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", b.q.name, err)
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("send to %s: %w", b.q.name, err)
	}
	b.pending = append(b.pending, pendingFile{f: f, path: path, id: id})
	return id, nil
}

// bulkSync is the size from which a batch is made durable with syncfs(2),
// one call for the whole filesystem, instead of an fsync per file and per
// directory: for large batches it is several times faster, though it also
// flushes what other programs wrote to the same filesystem.
var bulkSync = 64

// Commit makes every added message durable and visible: fsync each file
// (several at once), close it, rename it into its bucket under new/ and
// fsync each directory that changed. A batch of bulkSync messages or more
// replaces those fsyncs with two syncfs calls, one before the renames and
// one after, in the same order. When Commit fails, some messages may have
// been delivered; the rest are removed from tmp/.
func (b *Batch) Commit() error {
	if len(b.pending) == 0 {
		return nil
	}
	defer b.Abort()
	bulk := false
	if !b.q.opts.NoSync {
		var err error
		bulk, err = b.syncData()
		if err != nil {
			return fmt.Errorf("send to %s: %w", b.q.name, err)
		}
	}
	for i := range b.pending {
		err := b.pending[i].f.Close()
		b.pending[i].f = nil
		if err != nil {
			return fmt.Errorf("send to %s: %w", b.q.name, err)
		}
	}
	dirs := map[string]bool{}
	for i := range b.pending {
		p := &b.pending[i]
		if err := b.q.placeInNew(p.path, Name{ID: p.id}, dirs); err != nil {
			return b.q.missing(fmt.Errorf("send to %s: %w", b.q.name, err))
		}
		p.path = ""
	}
	if !b.q.opts.NoSync {
		err := syncDirs(dirs)
		if bulk {
			err = syncFS(b.q.new)
		}
		if err != nil {
			return fmt.Errorf("send to %s: %w", b.q.name, err)
		}
	}
	poke(b.q.new)
	return nil
}

// syncData makes the bodies of the batch durable, and reports whether it
// did so with syncfs, in which case the directories are synced that way too.
func (b *Batch) syncData() (bool, error) {
	if len(b.pending) >= bulkSync {
		err := syncFS(b.q.tmp)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return false, err
		}
	}
	files := make([]*os.File, len(b.pending))
	for i, p := range b.pending {
		files[i] = p.f
	}
	return false, syncFiles(files)
}

// Abort drops every message added since the last Commit, removing its file
// from tmp/. It is safe to call after Commit and more than once.
func (b *Batch) Abort() {
	for _, p := range b.pending {
		if p.f != nil {
			p.f.Close()
		}
		if p.path != "" {
			os.Remove(p.path)
		}
	}
	b.pending = b.pending[:0]
}

// missing turns a "no such file" error on a queue that was never created into
// one that says so.
func (q *Queue) missing(err error) error {
	if errors.Is(err, os.ErrNotExist) {
		if cerr := q.Check(); cerr != nil {
			return cerr
		}
	}
	return err
}
