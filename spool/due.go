package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// promote moves the delayed messages that are due from .due/ into new/,
// each into the bucket of its due time under the same name, and notes in r.nextDue when the
// next one will be. It lists only the buckets whose time has come and the
// first one whose time has not, so that delayed messages cost a receiver
// next to nothing until they are due. Promotion needs no fsync: a crash
// that undoes it leaves the message delayed, and the next receiver
// promotes it again.
func (r *Receiver) promote() error {
	r.nextDue = 0
	_, err := r.promoteDir(&level{dir: r.q.due, rel: dirDue}, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if errors.Is(err, unix.ENOTDIR) {
		// Something else took the name .due: no delayed message can
		// be there, and the ready ones must still flow.
		r.q.warnOnce(dirDue, "not a directory; delayed messages cannot be kept", "path", dirDue)
		return nil
	}
	if err != nil {
		return fmt.Errorf("receive from %s: %w", r.q.name, err)
	}
	return nil
}

// promoteDir promotes what is due in lv, a bucket of .due/ (or .due/
// itself) whose span of time begins at start, and reports whether it met
// something not yet due, after which nothing later can be due either.
func (r *Receiver) promoteDir(lv *level, start int64) (bool, error) {
	if err := r.list(lv, ""); err != nil {
		return false, err
	}
	t := now().UnixNano()
	later := false
	for _, e := range lv.ents {
		path := filepath.Join(lv.dir, e.name)
		rel := lv.rel + "/" + e.name
		typ, err := kind(lv.dir, e)
		if err != nil {
			continue
		}
		switch {
		case lv.depth < bucketDepth && typ.IsDir() && isBucket(e.name, lv.depth):
			s := start + bucketStart(e.name, lv.depth)
			if s > t {
				r.noteDue(s)
				return true, nil
			}
			stop, err := r.promoteDir(&level{dir: path, rel: rel, depth: lv.depth + 1}, s)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return false, err
			}
			if bucketIdle(rel[len(dirDue)+1:]) {
				unix.Rmdir(path) // refused unless drained
			}
			if stop {
				return true, nil
			}
		case typ.IsDir():
			r.q.adoptTree(path, rel)
		case !typ.IsRegular():
			r.q.quarantine(path, rel, typ)
		case lv.depth < bucketDepth || !wellFormed(e.name):
			r.q.adopt(path, rel)
		default:
			n := ParseName(e.name)
			if n.Due > t {
				r.noteDue(n.Due)
				later = true
				continue
			}
			at := min(max(n.Due, start), t)
			err := r.q.place(path, n, at, map[string]bool{})
			switch {
			case err == nil:
				r.q.ringBack(n.Priority)
			case errors.Is(err, fs.ErrExist):
				r.q.adopt(path, rel)
			case !errors.Is(err, fs.ErrNotExist):
				return false, err
			}
		}
	}
	return later, nil
}

// noteDue records that a delayed message will be due at t.
func (r *Receiver) noteDue(t int64) {
	if r.nextDue == 0 || t < r.nextDue {
		r.nextDue = t
	}
}
