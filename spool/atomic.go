package spool

import (
	"fmt"
	"path/filepath"
)

// batchFormat is the format of a queue that has had an atomic batch's
// directory in new/ or .due/.
const batchFormat = 3

// placeAtomic names the messages of an atomic batch, under the commit
// lock, in their directory in tmp/, makes the names durable, and renames
// the directory whole into the bucket of the first message's time: the
// one rename that makes the batch visible, all of it at once. The
// directory is called after its first message, with b=N (see [Name]), so
// that it sorts where that message would, and its messages sort in order
// within it.
func (b *Batch) placeAtomic(dirs map[string]bool) ([]ID, error) {
	if err := b.c.lock(); err != nil {
		return nil, err
	}
	defer b.c.unlock()
	if !b.c.held {
		// Without the lock the batch keeps its all-or-nothing, but its
		// place among other senders' messages may be off; the same as
		// a plain commit that could not take it.
		b.q.log.Warn("atomic batch committed without the commit lock")
	}
	names := make([]Name, len(b.pending))
	var at int64
	for i, p := range b.pending {
		send, t := b.c.next(p.priority)
		names[i] = Name{ID: formatID(send), Due: p.due, Expires: p.expires, Priority: p.priority, Group: p.group, Meta: p.metaPath != "", Request: p.reply != nil}
		if i == 0 {
			at = t
		}
	}
	if err := b.placeMeta(names); err != nil {
		return nil, err
	}
	if err := b.placeReplies(names); err != nil {
		return nil, err
	}
	fail := func(err error) ([]ID, error) {
		for _, n := range names {
			if n.Meta {
				b.q.removeMeta(n.ID)
			}
		}
		return nil, err
	}
	ids := make([]ID, len(names))
	for i := range b.pending {
		p := &b.pending[i]
		to := filepath.Join(b.stage, names[i].String())
		if err := rename(p.path, to); err != nil {
			return fail(err)
		}
		p.path, ids[i] = to, names[i].ID
	}
	if !b.q.opts.NoSync {
		if err := syncDir(b.stage); err != nil {
			return fail(err)
		}
	}
	if err := b.q.raiseFormat(batchFormat); err != nil {
		return fail(err)
	}
	dir := Name{ID: names[0].ID, Due: names[0].Due, Priority: names[0].Priority, Batch: len(names)}
	if err := b.q.place(b.stage, dir, at, dirs); err != nil {
		return fail(fmt.Errorf("place atomic batch %s: %w", dir.ID, err))
	}
	b.stage = ""
	var bytes int64
	for i := range b.pending {
		b.pending[i].path = ""
		bytes += b.pending[i].size
	}
	b.q.adjust(int64(len(ids)), bytes)
	return ids, nil
}

// isBatch reports whether name, found as a directory in a bucket of the
// last level, is the directory of an atomic batch.
func isBatch(name string) bool {
	n, ok := parseWellFormed(name)
	return ok && n.Batch > 0
}
