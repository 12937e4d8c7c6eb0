package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// readdirChunk is how many names a directory read asks for at a time. Tests
// vary it.
var readdirChunk = 1024

// rewalkAfter is how long a Receiver follows its cached listings before it
// lists new/ afresh, to see messages that landed behind it: claims put back
// by recovery, and senders whose clocks run late.
var rewalkAfter = time.Second

// Receiver claims a queue's messages oldest first. It walks the buckets of
// new/ in order and lists each directory once per walk, so that a
// long-running receiver pays for each message about the same at any depth
// of queue. A Receiver is for one goroutine; run one per goroutine, or
// share one under a mutex.
type Receiver struct {
	q       *Queue
	stack   []*level
	started time.Time
	w       *waiter
}

// level is one directory of the walk: new/ itself (depth 0) or a bucket.
type level struct {
	dir   string
	depth int
	start int64 // when the bucket's span of time begins, in nanoseconds
	names []string
	dirs  map[string]bool // at depth 0: which names are directories
	i     int
}

// NewReceiver returns a Receiver for q.
func (q *Queue) NewReceiver() *Receiver { return &Receiver{q: q} }

// Claim claims the oldest message that is ready and not claimed by anyone
// else. It returns ErrEmpty when there is none.
func (r *Receiver) Claim() (*Claim, error) {
	for {
		cached := r.stack != nil && time.Since(r.started) < rewalkAfter
		if !cached {
			if err := r.rewind(); err != nil {
				return nil, err
			}
		}
		for {
			path, err := r.next()
			if err != nil {
				return nil, err
			}
			if path == "" {
				break
			}
			c, err := r.q.claimFile(path)
			if errors.Is(err, errGone) {
				continue
			}
			return c, err
		}
		r.stack = nil
		if !cached {
			return nil, ErrEmpty
		}
	}
}

// rewind starts a fresh walk at the top of new/.
func (r *Receiver) rewind() error {
	r.started = time.Now()
	r.stack = r.stack[:0]
	top := &level{dir: r.q.new}
	if err := top.list(""); err != nil {
		return r.q.missing(fmt.Errorf("receive from %s: %w", r.q.name, err))
	}
	r.stack = append(r.stack, top)
	return nil
}

// next returns the path of the next message file in walk order, or "" when
// the walk has seen everything.
func (r *Receiver) next() (string, error) {
	for len(r.stack) > 0 {
		lv := r.stack[len(r.stack)-1]
		if lv.i == len(lv.names) {
			// Look once more for names that arrived behind us,
			// such as messages sent into the newest bucket.
			last := ""
			if lv.i > 0 {
				last = lv.names[lv.i-1]
			}
			if err := lv.list(last); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return "", fmt.Errorf("receive from %s: %w", r.q.name, err)
			}
			if len(lv.names) > 0 {
				continue
			}
			r.stack = r.stack[:len(r.stack)-1]
			if lv.depth > 0 && r.bucketPast(lv.dir) {
				// Drained buckets go, so that a queue that was
				// once deep lists as fast as a new one. A bucket
				// that is not empty stays: rmdir refuses it.
				os.Remove(lv.dir)
			}
			continue
		}
		name := lv.names[lv.i]
		lv.i++
		path := filepath.Join(lv.dir, name)
		switch {
		case lv.depth == bucketDepth:
			if strings.Contains(name, ",d=") && ParseName(name).Due > now().UnixNano() {
				continue // backing off
			}
			return path, nil
		case lv.depth == 0 && !lv.dirs[name]:
			return path, nil // a file renamed straight into new/
		case isBucket(name, lv.depth):
			start := lv.start + bucketStart(name, lv.depth)
			if start > now().UnixNano() {
				continue // not due yet: retries backing off
			}
			sub := &level{dir: path, depth: lv.depth + 1, start: start}
			if err := sub.list(""); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return "", fmt.Errorf("receive from %s: %w", r.q.name, err)
			}
			r.stack = append(r.stack, sub)
		}
	}
	return "", nil
}

// list reads lv's directory, keeping in sorted order the names after the
// name after (all of them when after is ""), and skipping hidden names.
func (lv *level) list(after string) error {
	lv.names, lv.i = lv.names[:0], 0
	d, err := os.Open(lv.dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if lv.depth == 0 {
		return lv.listTop(d, after)
	}
	for {
		names, err := d.Readdirnames(readdirChunk)
		for _, n := range names {
			if n > after && !strings.HasPrefix(n, ".") {
				lv.names = append(lv.names, n)
			}
		}
		if err != nil {
			return endOfDir(err, lv)
		}
	}
}

// listTop lists new/ itself, where bucket directories and files renamed in by
// other programs stand side by side.
func (lv *level) listTop(d *os.File, after string) error {
	lv.dirs = map[string]bool{}
	for {
		ents, err := d.ReadDir(readdirChunk)
		for _, e := range ents {
			n := e.Name()
			if n <= after || strings.HasPrefix(n, ".") {
				continue
			}
			switch {
			case e.IsDir():
				lv.dirs[n] = true
			case !e.Type().IsRegular():
				continue
			}
			lv.names = append(lv.names, n)
		}
		if err != nil {
			return endOfDir(err, lv)
		}
	}
}

// endOfDir finishes a listing: at the end of the directory it sorts the
// names, and it returns any other error.
func endOfDir(err error, lv *level) error {
	if !errors.Is(err, io.EOF) {
		return err
	}
	slices.Sort(lv.names)
	return nil
}

// bucketGrace is how long after its time span ends a drained bucket is left
// in place, so that receivers do not remove the buckets that senders are
// filling right now, which would make both do the work again.
var bucketGrace = 2 * time.Second

// bucketPast reports whether the bucket directory dir, under new/, covers a
// span of time that ended more than bucketGrace ago.
func (r *Receiver) bucketPast(dir string) bool {
	rel, err := filepath.Rel(r.q.new, dir)
	if err != nil {
		return false
	}
	end, ok := bucketEnd(rel)
	return ok && now().Add(-bucketGrace).UnixNano() >= end
}
