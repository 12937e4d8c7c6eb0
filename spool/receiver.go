package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// rewalkAfter is how long a Receiver follows its cached listings before it
// lists new/ afresh, to see messages that landed behind it: claims put back
// by recovery or release, and retries whose backoff ended.
var rewalkAfter = time.Second

// Receiver claims a queue's messages oldest first. It walks the buckets of
// new/ in order and lists each directory once per walk, so that a
// long-running receiver pays for each message about the same at any depth
// of queue. A Receiver is for one goroutine; run one per goroutine, or
// share one under a mutex.
type Receiver struct {
	q       *Queue
	ls      lister
	stack   []*level
	started time.Time
	nextDue int64 // when the earliest delayed message is due; 0: none seen
	checked bool  // the queue's format was checked
	moved   bool  // the walk gave files their places: walk again once done
	w       *waiter
}

// level is one directory of the walk: new/ itself (depth 0) or a bucket.
type level struct {
	dir   string
	rel   string // dir relative to the queue directory
	depth int
	ents  []entry
	i     int
}

// NewReceiver returns a Receiver for q.
func (q *Queue) NewReceiver() *Receiver { return &Receiver{q: q} }

// Claim claims the oldest message that is ready and not claimed by anyone
// else. It returns ErrEmpty when there is none.
func (r *Receiver) Claim() (*Claim, error) {
	for {
		cached := r.stack != nil && time.Since(r.started) < rewalkAfter &&
			(r.nextDue == 0 || now().UnixNano() < r.nextDue)
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
			if errors.Is(err, errGone) || err == nil && r.q.dropOrphan(c) {
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

// rewind starts a fresh walk at the top of new/, having first moved the
// delayed messages that are due into it.
func (r *Receiver) rewind() error {
	if !r.checked {
		if err := r.q.checkFormat(); err != nil {
			return err
		}
		r.checked = true
	}
	r.started = time.Now()
	if err := r.promote(); err != nil {
		return err
	}
	return r.top()
}

// top starts the walk of new/ at its top.
func (r *Receiver) top() error {
	r.stack = r.stack[:0]
	top := &level{dir: r.q.new, rel: dirNew}
	if err := r.list(top, ""); err != nil {
		return r.q.missing(fmt.Errorf("receive from %s: %w", r.q.name, err))
	}
	r.stack = append(r.stack, top)
	return nil
}

// list reads lv's directory, keeping the names after after.
func (r *Receiver) list(lv *level, after string) error {
	ents, err := r.ls.list(lv.dir, after)
	lv.ents, lv.i = ents, 0
	return err
}

// next returns the path of the next message file in walk order, or "" when
// the walk has seen everything. What is no message on the way is dealt
// with: a stray is moved aside, a file out of place or under a name that pq
// cannot use is given its place.
func (r *Receiver) next() (string, error) {
	for len(r.stack) > 0 {
		lv := r.stack[len(r.stack)-1]
		if lv.i == len(lv.ents) && r.moved {
			// What the walk moved went to the end of the queue or to
			// its place by send time, maybe behind the walk.
			r.moved = false
			if err := r.top(); err != nil {
				return "", err
			}
			continue
		}
		if lv.i == len(lv.ents) {
			done, err := r.finish(lv)
			if err != nil {
				return "", err
			}
			if done {
				r.stack = r.stack[:len(r.stack)-1]
			}
			continue
		}
		e := lv.ents[lv.i]
		lv.i++
		path, err := r.visit(lv, e)
		if err != nil || path != "" {
			return path, err
		}
	}
	return "", nil
}

// finish looks once more in a directory whose listing the walk has used up,
// for names that arrived since, such as messages sent into the newest
// bucket, and reports whether the directory is done with. A drained bucket
// is then removed, so that a queue that was once deep lists as fast as a
// new one; rmdir refuses a bucket that is not empty.
func (r *Receiver) finish(lv *level) (bool, error) {
	idle := lv.depth > 0 && bucketIdle(lv.rel[len(dirNew)+1:])
	if idle && unix.Rmdir(lv.dir) == nil {
		return true, nil // drained, and no sender fills it any more
	}
	if lv.i == 0 {
		return true, nil // listed empty a moment ago
	}
	prev := lv.ents[lv.i-1]
	if err := r.list(lv, prev.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("receive from %s: %w", r.q.name, err)
	}
	if len(lv.ents) > 0 {
		if typ, err := kind(lv.dir, prev); err == nil && typ.IsDir() && lv.depth < bucketDepth && isBucket(prev.name, lv.depth) {
			// A later bucket appeared. The one just left may have
			// received messages after the walk's last look into it
			// and before that: look once more. Once a later bucket
			// exists, no new message goes into an earlier one.
			lv.ents = append([]entry{prev}, lv.ents...)
		}
		return false, nil
	}
	hook("walk-left", lv.dir)
	return true, nil
}

// visit deals with the entry e of lv: it returns the path of a message to
// claim, or descends into a bucket, or puts right what is out of place.
func (r *Receiver) visit(lv *level, e entry) (string, error) {
	path := filepath.Join(lv.dir, e.name)
	rel := lv.rel + "/" + e.name
	typ, err := kind(lv.dir, e)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("receive from %s: %w", r.q.name, err)
	}
	switch {
	case lv.depth < bucketDepth && typ.IsDir() && isBucket(e.name, lv.depth):
		sub := &level{dir: path, rel: rel, depth: lv.depth + 1}
		if err := r.list(sub, ""); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return "", nil
			}
			return "", fmt.Errorf("receive from %s: %w", r.q.name, err)
		}
		r.stack = append(r.stack, sub)
		return "", nil
	case typ.IsDir():
		// A directory of another program's: its files are messages.
		if r.q.adoptTree(path, rel) {
			r.moved = true
		}
		return "", nil
	case !typ.IsRegular():
		r.q.quarantine(path, rel, typ)
		return "", nil
	}
	n, ok := parseWellFormed(e.name)
	switch {
	case lv.depth < bucketDepth || !ok,
		// Backing off, left here by an older pq: its place is .due/.
		n.Due > now().UnixNano():
		// A file renamed into new/ by another program.
		if r.q.adopt(path, rel) {
			r.moved = true
		}
		return "", nil
	case expired(n):
		r.q.expire(path)
		return "", nil
	}
	return path, nil
}

// expired reports whether the message called n may no longer be delivered.
func expired(n Name) bool {
	return n.Expires != 0 && n.Expires <= now().UnixNano()
}

// expire moves the message at path, whose time to live is over, to the
// dead-letter queue with the cause "expired", or deletes it when the
// queue's settings say on_expiry = "drop", without delivering it. It
// claims it first, so that it takes no message another receiver holds.
func (q *Queue) expire(path string) {
	c, err := q.claimFile(path)
	if err != nil {
		if !errors.Is(err, errGone) {
			q.warnOnce(path, "cannot move an expired message to the dead-letter queue", "err", err)
		}
		return
	}
	if s, err := q.Settings(); err == nil && s.OnExpiry == ExpiryDrop {
		if err := q.Ack(c); err != nil {
			q.log.Warn("cannot drop an expired message", "id", c.ID(), "err", err)
		}
		return
	}
	if err := c.DeadLetter(Reason{Cause: CauseExpired, Untried: true}); err != nil {
		q.log.Warn("cannot move an expired message to the dead-letter queue", "id", c.ID(), "err", err)
	}
}

// CauseExpired is the cause recorded for a message dead-lettered because
// its time to live was over.
const CauseExpired = "expired"

// bucketGrace is how long after its time span ends a drained bucket is left
// in place, so that receivers do not remove the buckets that senders are
// filling right now, which would make both do the work again.
var bucketGrace = 2 * time.Second

// bucketIdle reports whether the bucket at rel, a path relative to new/ or
// .due/, covers a span of time that ended more than bucketGrace ago, or
// that starts more than bucketGrace from now: no sender is filling it.
func bucketIdle(rel string) bool {
	end, ok := bucketEnd(rel)
	if !ok {
		return false
	}
	t := now()
	start := end - bucketSpan[strings.Count(rel, "/")]
	return t.Add(-bucketGrace).UnixNano() >= end || t.Add(bucketGrace).UnixNano() < start
}

// Tidy walks the whole queue as a receiver does, without claiming
// anything: it moves the delayed messages that are due into new/, gives
// files that other programs renamed into new/ their places and IDs, and
// moves strays aside (see [Queue.Strays]). Receivers do the same as they
// go; Tidy is for a queue nobody receives from.
func (q *Queue) Tidy() error {
	r := q.NewReceiver()
	if err := r.rewind(); err != nil {
		return err
	}
	for {
		path, err := r.next()
		if err != nil || path == "" {
			return err
		}
	}
}
