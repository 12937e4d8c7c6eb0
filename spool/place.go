package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// place renames the file at from into the queue as the message called n:
// into .due/, in the bucket of its due time, when it is due later, else
// into the tree of its priority in new/, in the bucket of time at
// (nanoseconds). It creates missing
// buckets and records in dirs every directory whose entries changed,
// parents included. It never replaces a file: a name that is taken is an
// error matching fs.ErrExist, unless it names the very file at from (a
// second name left by a crash of the link-and-unlink fallback), which is
// then dropped.
func (q *Queue) place(from string, n Name, at int64, dirs map[string]bool) error {
	top, t := q.tree(n.Priority), at
	if n.Due > now().UnixNano() {
		top, t = q.due, n.Due
	}
	dir := filepath.Join(top, bucket(t))
	to := filepath.Join(dir, n.String())
	// A receiver may remove an empty bucket between our mkdir and our
	// rename; then we make it again.
	for range 100 {
		err := renameNoReplace(from, to)
		if err == nil {
			for d := dir; d != q.dir; d = filepath.Dir(d) {
				dirs[d] = true
			}
			return nil
		}
		if errors.Is(err, fs.ErrExist) && sameFile(from, to) {
			return remove(from)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if _, serr := os.Lstat(from); serr != nil {
			return err
		}
		if _, serr := os.Stat(q.new); errors.Is(serr, fs.ErrNotExist) {
			// new/ itself is missing: complete the queue.
			if err := q.Create(); err != nil {
				return err
			}
		}
		if top != q.new && top != q.due {
			if err := q.raiseFormat(priorityFormat); err != nil {
				return err
			}
		}
		// A parent may vanish the same way while we make it.
		if err := mkdirs(q.dir, dir, dirs); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return fmt.Errorf("place %s: bucket %s keeps vanishing", n.ID, dir)
}

// tree returns the directory under which the ready messages of priority
// p wait in their buckets: new/ itself for DefaultPriority, so that queues
// from before priorities read as they are, and new/pP for any other.
func (q *Queue) tree(p int) string {
	if p == DefaultPriority {
		return q.new
	}
	return filepath.Join(q.new, treeName(p))
}

// treeName is the name in new/ of the tree of priority p.
func treeName(p int) string { return "p" + strconv.Itoa(p) }

// treePriority returns the priority whose tree is called s in new/, and
// false for any other name.
func treePriority(s string) (int, bool) {
	if len(s) != 2 || s[0] != 'p' || !isDigit(s[1]) || s[1]-'0' == DefaultPriority {
		return 0, false
	}
	return int(s[1] - '0'), true
}

// relPriority returns the priority of the tree that rel, a path relative
// to the queue directory, is in, and false when it is in none.
func relPriority(rel string) (int, bool) {
	rest, ok := strings.CutPrefix(rel, dirNew+"/")
	if !ok {
		return 0, false
	}
	top, _, _ := strings.Cut(rest, "/")
	return treePriority(top)
}

// sameFile reports whether the paths a and b name one file.
func sameFile(a, b string) bool {
	fa, err := os.Lstat(a)
	if err != nil {
		return false
	}
	fb, err := os.Lstat(b)
	return err == nil && os.SameFile(fa, fb)
}

// putBackTime is the time of the bucket that a message called n goes back
// to when it is put back or recovered: its send time, keeping its place in
// the queue, but never a time later than now.
func putBackTime(n Name) int64 {
	t := now().UnixNano()
	if sent, ok := idNanos(string(n.ID)); ok && sent < t {
		return sent
	}
	return t
}

// placeBack puts the file at from back into the queue as n, in its place by
// send time; if the name is taken by another file, under a fresh ID.
// It rings the put-back doorbell of the message's priority when it went to
// new/.
func (q *Queue) placeBack(from string, n Name, dirs map[string]bool) error {
	err := q.place(from, n, putBackTime(n), dirs)
	if errors.Is(err, fs.ErrExist) {
		q.log.Warn("name taken by another message; giving this one a fresh id", "name", n.String())
		return q.renew(from, n, n.String(), dirs)
	}
	if err == nil && n.Due <= now().UnixNano() {
		q.ringBack(n.Priority)
	}
	return err
}

// adopt gives a file found under new/ (or cur/) where a message cannot be,
// or under a name that pq cannot use as it is, its proper place: a file
// with a well-formed name goes to its bucket, any other gets a fresh ID and
// joins the end of the queue, its original name kept in its metadata. A
// file found in the tree of a priority (new/pP/...) whose name does not say
// a priority gets that one. A file that another process adopts at the same
// time is no error. Nothing here stops the queue: a failure is logged and
// the file left where it is. It reports whether it moved the file.
func (q *Queue) adopt(path, rel string) bool {
	base := filepath.Base(path)
	dirs := map[string]bool{}
	n := ParseName(base)
	if p, ok := relPriority(rel); ok && !strings.Contains(base, ",p=") {
		n.Priority = p
	}
	var err error
	if wellFormed(base) {
		err = q.placeBack(path, n, dirs)
	} else {
		err = q.renew(path, n, base, dirs)
	}
	switch {
	case err == nil:
		poke(q.new)
		return true
	case errors.Is(err, fs.ErrNotExist):
	default:
		q.warnOnce(rel, "cannot give a message its place", "path", rel, "err", err)
	}
	return false
}

// adoptTree deals with dir, a directory found where only a bucket or a
// message may be that is neither: every regular file in it, at any depth,
// is adopted as a message; then the directory, with what is left in it, is
// moved aside. It reports whether it moved anything.
func (q *Queue) adoptTree(dir, rel string) bool {
	moved := false
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			sub, _ := filepath.Rel(dir, path)
			moved = q.adopt(path, rel+"/"+sub) || moved
		}
		return nil
	})
	q.quarantine(dir, rel, fs.ModeDir)
	return true
}

// renew moves the file at from into the queue under a fresh ID, at the
// end of the queue, keeping what n says of attempts, due time and other
// fields, and recording orig, the name it had, in its metadata.
func (q *Queue) renew(from string, n Name, orig string, dirs map[string]bool) error {
	c := committer{q: q}
	defer c.close()
	if err := c.lock(); err != nil {
		return err
	}
	send, at := c.next(n.Priority)
	m := Name{ID: formatID(send), Attempts: min(n.Attempts, 1<<20), Priority: n.Priority, Meta: true}
	if !strings.Contains(string(n.ID), ",") {
		m.Due, m.Extra = n.Due, n.Extra
	}
	if len(m.String()) > maxWellFormed {
		m.Extra = nil
	}
	if err := q.writeMeta(m.ID, Meta{OriginalName: orig}, false); err != nil {
		// The message matters more than the record of its old name.
		q.warnOnce(dirMeta, "cannot record an original name; going on without", "name", orig, "err", err)
		m.Meta = false
	}
	if err := q.place(from, m, at, dirs); err != nil {
		if m.Meta {
			q.removeMeta(m.ID)
		}
		return err
	}
	q.log.Info("renamed a message to an id of pq's own", "name", orig, "id", m.ID)
	return nil
}

// quarantine moves path, an entry found where only a message or a bucket
// may be that is neither, such as a named pipe, a symbolic link or a
// stray directory, aside into .quarantine/, where Strays lists it. It is
// never opened. The move is logged once.
func (q *Queue) quarantine(path, rel string, typ fs.FileMode) {
	dir := filepath.Join(q.dir, dirStray)
	if err := mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		q.warnOnce(rel, "cannot move a stray aside", "path", rel, "kind", kindName(typ), "err", err)
		return
	}
	name := fmt.Sprintf("%019d-%s", now().UnixNano(), strings.ReplaceAll(rel, "/", "_"))
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	err := renameNoReplace(path, filepath.Join(dir, name))
	switch {
	case err == nil:
		q.log.Warn("moved a stray aside", "path", rel, "kind", kindName(typ), "to", dirStray+"/"+name)
	case errors.Is(err, fs.ErrNotExist):
	default:
		q.warnOnce(rel, "cannot move a stray aside", "path", rel, "kind", kindName(typ), "err", err)
	}
}

// warnOnce logs a warning about rel the first time this Queue meets it.
func (q *Queue) warnOnce(rel, msg string, args ...any) {
	q.mu.Lock()
	seen := q.warned[rel]
	if q.warned == nil {
		q.warned = map[string]bool{}
	}
	q.warned[rel] = true
	q.mu.Unlock()
	if !seen {
		q.log.Warn(msg, args...)
	}
}

// kindName names a file type for people.
func kindName(typ fs.FileMode) string {
	switch {
	case typ.IsRegular():
		return "file"
	case typ&fs.ModeSymlink != 0:
		return "symbolic link"
	case typ.IsDir():
		return "directory"
	case typ&fs.ModeNamedPipe != 0:
		return "named pipe"
	case typ&fs.ModeSocket != 0:
		return "socket"
	case typ&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// Stray is an entry that pq found where no message can be and moved aside
// into the queue's .quarantine/ directory.
type Stray struct {
	// Name is its name in .quarantine/: the time it was moved, then the
	// path it had in the queue with '/' written as '_'.
	Name string
	// Kind says what it is: "named pipe", "directory", "symbolic link"...
	Kind string
}

// Strays lists what was moved aside into .quarantine/, oldest first.
func (q *Queue) Strays() ([]Stray, error) {
	var ls lister
	ents, err := ls.list(filepath.Join(q.dir, dirStray), "")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("strays of %s: %w", q.name, err)
	}
	out := make([]Stray, 0, len(ents))
	for _, e := range ents {
		typ, err := kind(filepath.Join(q.dir, dirStray), e)
		if err != nil {
			continue
		}
		out = append(out, Stray{Name: e.name, Kind: kindName(typ)})
	}
	return out, nil
}
