package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"pq/seal"
)

// Send stores one message whose body is read from body to its end, and
// returns its ID once the message is durable. It is a Batch of one.
func (q *Queue) Send(body io.Reader) (ID, error) {
	return q.SendWith(body, SendOptions{})
}

// SendOptions are what a sender says of a message besides its body.
type SendOptions struct {
	// Due, when not zero, is the time before which the message is not
	// delivered. Until then it waits in .due/, where it costs receivers
	// nothing; a waiting receiver takes it as soon as it is due.
	Due time.Time
	// Expires, when not zero, is the time from which the message is never
	// delivered: a receiver that meets it then moves it to the dead-letter
	// queue with the cause "expired" (or drops it, as the queue's settings
	// say). When zero, the queue's ttl setting applies, if any.
	Expires time.Time
	// Headers travel with the message outside its body, in its metadata
	// file (see [Meta]); at most 4 KiB in all.
	Headers []Header
	// Priority, when not nil, is the message's priority, MinPriority to
	// MaxPriority; nil means DefaultPriority. Receivers take the highest
	// priority that is ready first, oldest first within a priority.
	Priority *int
	// Group, when not empty, puts the message in a group: a group's
	// messages are handed out one at a time, in the order they were
	// sent, while different groups go in parallel. A key is 1 to 64 of
	// A-Z a-z 0-9 . _ - (see ErrBadGroup).
	Group string
	// DedupID, when not empty, makes the send idempotent: a send of one
	// message whose DedupID a send to the queue had within its dedup
	// window makes no message and returns the first one's ID. See
	// [Queue.SendDedup].
	DedupID string
}

// ErrBadPriority is returned for a priority outside MinPriority to
// MaxPriority.
var ErrBadPriority = errors.New("priority must be 0 to 9")

// SendWith is Send with options.
func (q *Queue) SendWith(body io.Reader, o SendOptions) (ID, error) {
	if o.DedupID != "" {
		id, _, err := q.SendDedup(body, o)
		return id, err
	}
	b := q.NewBatch()
	b.one = true
	defer b.Close()
	if err := b.AddWith(body, o); err != nil {
		return "", err
	}
	ids, err := b.Commit()
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// Batch sends several messages with one commit: their files are written into
// tmp/ as they are added, and Commit makes them durable together and only
// then moves them into new/, so that a receiver never sees a message that a
// crash could still take away. Messages get their IDs at the commit, in
// the order they were added, under the queue's commit lock: across all
// senders, messages become visible in the order of their IDs, which is what
// lets every receiver take each sender's messages in the order they were
// sent. A Batch is for one goroutine; Close it when done.
type Batch struct {
	q          *Queue
	pending    []pendingFile
	c          committer
	sfs        *os.File // for syncfs: opened before any file of the batch was written
	checked    bool     // the queue's format and settings were read
	one        bool     // a batch of one message, which never uses syncfs
	atomic     bool     // all or nothing: see NewAtomicBatch
	stage      string   // an atomic batch's directory in tmp/, once made
	ttl        time.Duration
	dd         dedupState       // the dedup id of a send of one message
	room       room             // what the batch knows of the free space
	recipients []seal.Recipient // an encrypted queue's; nil for a plain one
	// The queue's capacity limits; 0 for none.
	maxMessages, maxBytes int64
}

// pendingFile is a message written into tmp/ and not yet committed.
type pendingFile struct {
	f        *os.File
	path     string
	due      int64 // nanoseconds since the epoch; 0 for none
	expires  int64 // likewise
	priority int
	group    string
	meta     *os.File // its metadata, written in tmp/; nil for none
	metaPath string
	reply    *replyPlace // a request's reply place (see reply.go); nil for none
	dedup    string      // the name of its dedup id's entries; "" for none
	size     int64       // the body's bytes
}

// NewBatch starts an empty batch.
func (q *Queue) NewBatch() *Batch { return &Batch{q: q, c: committer{q: q}} }

// NewAtomicBatch starts an empty batch whose messages are committed all or
// none: after a crash at any moment, either every message of a commit is
// in the queue or none is, and receivers never see a part of it. Its
// messages are written into a directory of their own in tmp/, named at
// commit, and the directory is renamed whole into a bucket of new/ (or of
// .due/), where receivers take its messages in order as they take any
// others. A commit may hold any number of messages: their files are closed
// as they are written once the batch is large enough to be synced with
// syncfs(2).
func (q *Queue) NewAtomicBatch() *Batch {
	b := q.NewBatch()
	b.atomic = true
	return b
}

// Len returns the number of messages added since the last Commit.
func (b *Batch) Len() int { return len(b.pending) }

// Add writes a message whose body is read from body to its end into tmp/.
// The message is not visible to receivers, nor durable, and has no ID until
// Commit returns. On error nothing of it is left behind.
func (b *Batch) Add(body io.Reader) error {
	return b.AddWith(body, SendOptions{})
}

// AddWith is Add with options.
func (b *Batch) AddWith(body io.Reader, o SendOptions) error {
	var due int64
	if !o.Due.IsZero() {
		if due = o.Due.UnixNano(); due <= 0 {
			return fmt.Errorf("send to %s: due time %s is before 1970", b.q.name, o.Due.Format(time.RFC3339))
		}
	}
	if err := checkHeaders(o.Headers); err != nil {
		return fmt.Errorf("send to %s: %w", b.q.name, err)
	}
	if o.Group != "" {
		if err := checkGroup(o.Group); err != nil {
			return fmt.Errorf("send to %s: %w", b.q.name, err)
		}
	}
	prio := DefaultPriority
	if o.Priority != nil {
		if prio = *o.Priority; prio < MinPriority || prio > MaxPriority {
			return fmt.Errorf("send to %s: %w, not %d", b.q.name, ErrBadPriority, prio)
		}
	}
	dedup, err := b.dedupName(o.DedupID)
	if err != nil {
		return fmt.Errorf("send to %s: %w", b.q.name, err)
	}
	f, path, err := b.create()
	if err != nil {
		return fmt.Errorf("send to %s: %w", b.q.name, err)
	}
	p := pendingFile{f: f, path: path, due: due, priority: prio, group: o.Group, dedup: dedup}
	switch {
	case !o.Expires.IsZero():
		p.expires = max(o.Expires.UnixNano(), 1)
	case b.ttl > 0:
		// The queue's own time to live, from the moment it is due.
		p.expires = max(now().UnixNano(), due) + int64(b.ttl)
	}
	n, err := writeBody(writerOf(f), body, b.recipients)
	p.size = n
	if err == nil {
		err = b.limit(n)
	}
	if b.room.written += n; err == nil {
		// A long body, or little room left: look again before it counts.
		err = b.room.check(b.q.dir)
	}
	if err == nil && len(o.Headers) > 0 {
		p.metaPath = filepath.Join(b.q.tmp, "."+filepath.Base(path)+".meta")
		p.meta, err = openFD(p.metaPath, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
		var data []byte
		if err == nil {
			data, err = sealMeta(Meta{Headers: o.Headers}, b.recipients)
		}
		if err == nil {
			_, err = writerOf(p.meta).Write(data)
		}
	}
	if err == nil && b.atomic && b.sfs != nil && len(b.pending)+1 >= bulkSync {
		// A large atomic batch is synced with syncfs: its files
		// need not stay open, and so may be many.
		err = p.closeFiles()
	}
	if err != nil {
		b.drop(p)
		return fmt.Errorf("send to %s: %w", b.q.name, err)
	}
	b.pending = append(b.pending, p)
	return nil
}

// closeFiles closes what p has open.
func (p *pendingFile) closeFiles() error {
	var err error
	for _, f := range []**os.File{&p.f, &p.meta} {
		if *f != nil {
			if cerr := (*f).Close(); err == nil {
				err = cerr
			}
			*f = nil
		}
	}
	return err
}

// drop closes and removes what p wrote in tmp/.
func (b *Batch) drop(p pendingFile) {
	for _, f := range []*os.File{p.f, p.meta} {
		if f != nil {
			f.Close()
		}
	}
	for _, path := range []string{p.path, p.metaPath} {
		if path != "" {
			remove(path)
		}
	}
}

// create makes the file in tmp/ for the next message; the first message
// sent to a queue creates the queue.
func (b *Batch) create() (*os.File, string, error) {
	if err := b.load(); err != nil {
		return nil, "", err
	}
	if err := b.room.check(b.q.dir); err != nil {
		return nil, "", err
	}
	if err := b.limit(0); err != nil {
		return nil, "", err
	}
	if err := b.openSyncFS(); err != nil {
		return nil, "", err
	}
	id, _ := newID()
	if err := b.makeStage(); err != nil {
		return nil, "", err
	}
	dir := b.q.tmp
	if b.atomic {
		dir = b.stage
	}
	path := filepath.Join(dir, string(id))
	const flags = unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL
	f, err := openFD(path, flags, 0o600)
	if errors.Is(err, os.ErrNotExist) && !b.atomic {
		if err = b.q.Create(); err == nil {
			if err = b.openSyncFS(); err == nil {
				f, err = openFD(path, flags, 0o600)
			}
		}
	}
	if err == nil {
		trace("create", path)
	}
	return f, path, err
}

// load reads the queue's format stamp and settings, once.
func (b *Batch) load() error {
	if b.checked {
		return nil
	}
	if err := b.q.checkFormat(); err != nil {
		return err
	}
	s, err := b.q.Settings()
	if err != nil {
		return err
	}
	b.ttl, b.dd.window, b.room.min, b.checked = s.TTL, s.DedupWindow, s.MinFree, true
	b.maxMessages, b.maxBytes = s.MaxMessages, s.MaxBytes
	if b.recipients, err = b.q.Recipients(); err != nil {
		return err
	}
	return nil
}

// makeStage makes the directory in tmp/ of an atomic batch, once.
func (b *Batch) makeStage() error {
	if !b.atomic || b.stage != "" {
		return nil
	}
	id, _ := newID()
	stage := filepath.Join(b.q.tmp, stagePrefix+string(id))
	err := mkdir(stage, 0o700)
	if errors.Is(err, os.ErrNotExist) {
		if err = b.q.Create(); err == nil {
			if err = b.openSyncFS(); err == nil {
				err = mkdir(stage, 0o700)
			}
		}
	}
	if err != nil {
		return err
	}
	b.stage = stage
	return nil
}

// stagePrefix begins the name of an atomic batch's directory in tmp/.
const stagePrefix = ".atomic-"

// openSyncFS opens the descriptor that a bulk commit calls syncfs(2) on,
// before any file of the batch is written: the kernel reports through a
// descriptor only the write-back errors that happened after it was opened.
func (b *Batch) openSyncFS() error {
	if b.sfs != nil || b.q.opts.NoSync || b.one || len(b.pending) > 0 {
		return nil
	}
	f, err := openFD(b.q.tmp, unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if errors.Is(err, os.ErrNotExist) {
		return nil // the queue is yet to be created; create tries again
	}
	if err != nil {
		return err
	}
	trace("open-syncfs", b.q.tmp)
	b.sfs = f
	return nil
}

// bulkSync is the size from which a batch is made durable with syncfs(2),
// one call for the whole filesystem, instead of an fsync per file and per
// directory: for large batches it is several times faster, though it also
// flushes what other programs wrote to the same filesystem.
var bulkSync = 64

// Commit makes every added message durable and visible, and returns their
// IDs in the order they were added: fsync each file (several at once),
// close it, take the commit lock, name it and rename it into its bucket
// under new/, release the lock, and fsync each directory that changed and
// its parents up to new/. A batch of bulkSync messages or more replaces
// those fsyncs with two syncfs calls, one before the renames and one after.
//
// When Commit fails, the messages renamed into new/ before the failure stay
// there and may be delivered, though their IDs are not returned; the rest
// are removed from tmp/.
func (b *Batch) Commit() ([]ID, error) {
	if len(b.pending) == 0 {
		return nil, nil
	}
	defer b.Abort()
	bulk := false
	if !b.q.opts.NoSync {
		var err error
		if bulk, err = b.syncData(); err != nil {
			return nil, fmt.Errorf("send to %s: %w", b.q.name, err)
		}
	}
	for i := range b.pending {
		if err := b.pending[i].closeFiles(); err != nil {
			return nil, fmt.Errorf("send to %s: %w", b.q.name, err)
		}
	}
	dirs := map[string]bool{}
	ids, err := b.place(dirs)
	if err != nil {
		return nil, b.q.missing(fmt.Errorf("send to %s: %w", b.q.name, err))
	}
	if !b.q.opts.NoSync {
		if bulk {
			err = syncFS(b.sfs)
		} else {
			err = syncDirs(dirs)
		}
		if err != nil {
			return nil, fmt.Errorf("send to %s: %w", b.q.name, err)
		}
	}
	poke(b.q.new)
	return ids, nil
}

// place names the batch's messages and renames them into new/, under the
// commit lock.
func (b *Batch) place(dirs map[string]bool) ([]ID, error) {
	for _, p := range b.pending {
		if p.group != "" {
			if err := b.q.raiseFormat(groupFormat); err != nil {
				return nil, err
			}
			break
		}
	}
	if b.atomic {
		return b.placeAtomic(dirs)
	}
	if err := b.c.lock(); err != nil {
		return nil, err
	}
	defer b.c.unlock()
	if ids, done, err := b.dedupLookup(); done {
		return ids, err
	}
	names := make([]Name, len(b.pending))
	ats := make([]int64, len(b.pending))
	for i, p := range b.pending {
		send, at := b.c.next(p.priority)
		names[i], ats[i] = Name{ID: formatID(send), Due: p.due, Expires: p.expires, Priority: p.priority, Group: p.group, Meta: p.metaPath != "", Request: p.reply != nil}, at
	}
	if err := b.dedupBegin(names); err != nil {
		return nil, err
	}
	defer b.dedupUndo()
	if err := b.placeMeta(names); err != nil {
		return nil, err
	}
	if err := b.placeReplies(names); err != nil {
		return nil, err
	}
	ids := make([]ID, 0, len(b.pending))
	var bytes int64
	defer func() { b.q.adjust(int64(len(ids)), bytes) }() // what went in, even if not all did
	for i := range b.pending {
		p := &b.pending[i]
		if err := b.q.place(p.path, names[i], ats[i], dirs); err != nil {
			for _, n := range names[i:] {
				if n.Meta {
					b.q.removeMeta(n.ID)
				}
			}
			return nil, err
		}
		p.path = ""
		ids = append(ids, names[i].ID)
		bytes += p.size
	}
	return ids, b.dedupEnd(dirs)
}

// placeMeta renames the batch's metadata files into .meta/ under the IDs
// in names, and makes them durable before any message of the batch is
// renamed into place: a message is never visible without its headers.
func (b *Batch) placeMeta(names []Name) error {
	dir := filepath.Join(b.q.dir, dirMeta)
	moved := false
	for i := range b.pending {
		p := &b.pending[i]
		if p.metaPath == "" {
			continue
		}
		if !moved {
			if _, err := b.q.ownDir(dirMeta); err != nil {
				return err
			}
			moved = true
		}
		if err := rename(p.metaPath, b.q.metaPath(names[i].ID)); err != nil {
			return err
		}
		p.metaPath = ""
	}
	if !moved || b.q.opts.NoSync {
		return nil
	}
	return syncDir(dir)
}

// syncData makes the bodies of the batch durable, and reports whether it
// did so with syncfs, in which case the directories are synced that way too.
func (b *Batch) syncData() (bool, error) {
	if len(b.pending) >= bulkSync && b.sfs != nil {
		err := syncFS(b.sfs)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, errors.ErrUnsupported) {
			return false, err
		}
	}
	files := make([]*os.File, 0, len(b.pending))
	var reopened []*os.File
	defer func() {
		for _, f := range reopened {
			f.Close()
		}
	}()
	for _, p := range b.pending {
		for _, f := range []struct {
			f    *os.File
			path string
		}{{p.f, p.path}, {p.meta, p.metaPath}} {
			switch {
			case f.f != nil:
				files = append(files, f.f)
			case f.path != "":
				// Closed early (a large atomic batch), and syncfs
				// is not to be had: open it again to fsync it.
				g, err := openFD(f.path, unix.O_RDONLY, 0)
				if err != nil {
					return false, err
				}
				reopened = append(reopened, g)
				files = append(files, g)
			}
		}
	}
	return false, syncFiles(files)
}

// Abort drops every message added since the last Commit, removing its file
// from tmp/. It is safe to call after Commit and more than once.
func (b *Batch) Abort() {
	for _, p := range b.pending {
		b.drop(p)
	}
	b.pending = b.pending[:0]
	if b.stage != "" {
		os.RemoveAll(b.stage)
		b.stage = ""
	}
}

// Close aborts what was not committed and releases what the batch holds.
func (b *Batch) Close() {
	b.Abort()
	b.c.close()
	if b.sfs != nil {
		b.sfs.Close()
		b.sfs = nil
	}
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
