package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// rewalkAfter is how long a Receiver follows its cached listings before it
// lists new/ afresh, to see messages that landed behind it: claims put back
// by recovery or release, and retries whose backoff ended.
var rewalkAfter = time.Second

// Receiver claims a queue's messages, the highest priority first and
// oldest first within a priority. It walks the buckets of each priority's
// tree in new/ in order and lists each directory once per walk, so that a
// long-running receiver pays for each message about the same at any depth
// of queue. A Receiver is for one goroutine; run one per goroutine, or
// share one under a mutex.
type Receiver struct {
	q       *Queue
	ls      lister
	stack   []*level // the walk of the tree being taken from
	prio    int      // the priority of that tree
	walking bool     // a walk of the queue is under way
	trees   [MaxPriority + 1]bool
	done    [MaxPriority + 1]bool        // trees walked to their end in this walk
	bells   [2 * (MaxPriority + 1)]int64 // the doorbells as last heard: commits, then put-backs
	bell    *os.File                     // the commit lock's file, for its doorbells
	placed  int64                        // the time of the bucket of the last commit heard of (see settled)
	senders *senders                     // who may send; nil: anyone
	started time.Time
	nextDue int64               // when the earliest delayed message is due; 0: none seen
	blocked map[string]ID       // groups passed by in this walk: only the ID given, if any, goes
	passed  map[string][]string // per group, the paths passed by in this walk, oldest first
	checked bool                // the queue's format was checked
	fsOK    bool                // CheckNetworkFS let it claim
	sealed  bool                // the queue is encrypted: claims are opened
	moved   bool                // the walk gave files their places: walk again once done
	paused  bool                // the last Claim found the queue paused
	w       *waiter
}

// level is one directory of the walk: the top of a priority's tree (depth
// 0) or a bucket in it.
type level struct {
	dir   string
	rel   string // dir relative to the queue directory
	base  int    // where in rel the path relative to the tree begins
	depth int
	ents  []entry
	i     int
}

// NewReceiver returns a Receiver for q.
func (q *Queue) NewReceiver() *Receiver { return &Receiver{q: q} }

// Claim claims the message that is ready and not claimed by anyone else
// with the highest priority, the oldest of that priority. It returns
// ErrEmpty when there is none, and an error matching both ErrEmpty and
// ErrPaused when the queue is paused (see [Queue.Pause]), having logged a
// warning the first time it finds it so. On a queue on a network file
// system it claims nothing and returns an error matching ErrNetworkFS
// (see [Queue.CheckNetworkFS]).
func (r *Receiver) Claim() (*Claim, error) {
	if !r.fsOK {
		known, err := r.q.checkNetworkFS()
		if err != nil {
			return nil, err
		}
		r.fsOK = known
	}
	if r.q.paused() {
		if !r.paused {
			r.paused = true
			r.q.log.Warn("paused: nothing is claimed from it until it is resumed")
		}
		hook("claim-paused", r.q.dir)
		return nil, errPausedEmpty
	}
	if r.paused {
		r.paused = false
		r.q.log.Info("resumed")
	}
	for {
		cached := r.walking && time.Since(r.started) < rewalkAfter &&
			(r.nextDue == 0 || now().UnixNano() < r.nextDue)
		if !cached {
			if err := r.rewind(); err != nil {
				return nil, err
			}
		} else {
			r.listen()
		}
		if c := r.claimPassed(); c != nil && r.refuse(c) {
			continue
		} else if c != nil {
			if gone, err := r.unseal(c); gone || err != nil {
				if err != nil {
					return nil, err
				}
				continue
			}
			return c, nil
		}
		for {
			path, err := r.next()
			if err != nil {
				return nil, err
			}
			if path == "" {
				break
			}
			c, err := r.claim(path)
			if errors.Is(err, errGone) || err == nil && (r.q.dropOrphan(c) || r.refuse(c)) {
				continue
			}
			if err == nil {
				var gone bool
				if gone, err = r.unseal(c); gone {
					continue
				}
				if err != nil {
					return nil, err
				}
			}
			return c, err
		}
		r.walking = false
		if !cached {
			return nil, ErrEmpty
		}
	}
}

// claim claims the message at path. A message of a group goes only if its
// group lets it; once the walk has passed by one of a group, it passes by
// the rest of that group (but for the one that the group says goes next,
// put back behind the others) until it starts again from the top of the
// tree, so that no later message of a group goes before an earlier one.
func (r *Receiver) claim(path string) (*Claim, error) {
	base := filepath.Base(path)
	if !strings.Contains(base, ",g=") {
		return r.q.claimFile(path) // no group: the name needs no second parse
	}
	n := ParseName(base)
	if n.Group == "" {
		return r.q.claimFile(path)
	}
	if head, ok := r.blocked[n.Group]; ok && head != n.ID {
		r.pass(n.Group, path)
		return nil, errGone
	}
	c, head, err := r.q.claimGrouped(path, n)
	if errors.Is(err, errGroupBusy) {
		if r.blocked == nil {
			r.blocked = map[string]ID{}
		}
		r.blocked[n.Group] = head
		r.pass(n.Group, path)
		return nil, errGone
	}
	return c, err
}

// maxPassed bounds the paths a Receiver remembers per group in one walk.
const maxPassed = 64

// pass remembers path, a message of group g that the walk passes by, so
// that the receiver can take it once its group goes on without walking the
// whole queue again. Past maxPassed it remembers no more of the group: the
// rest wait for the next walk.
func (r *Receiver) pass(g, path string) {
	if r.passed == nil {
		r.passed = map[string][]string{}
	}
	if l := r.passed[g]; len(l) < maxPassed {
		r.passed[g] = append(l, path)
	} else if len(l) == maxPassed {
		r.passed[g] = append(l, "") // full: the group stays blocked
	}
}

// claimPassed claims the oldest message passed by in this walk of a group
// that now lets it go, if any.
func (r *Receiver) claimPassed() *Claim {
	for g, l := range r.passed {
		for len(l) > 0 && l[0] != "" {
			c, _, err := r.q.claimGrouped(l[0], ParseName(filepath.Base(l[0])))
			if errors.Is(err, errGroupBusy) {
				break
			}
			l = l[1:] // claimed now, or gone
			if err == nil {
				r.passed[g] = l
				return c
			}
		}
		r.passed[g] = l
	}
	return nil
}

// rewind starts a fresh walk at the top of new/, having first moved the
// delayed messages that are due into it.
func (r *Receiver) rewind() error {
	if !r.checked {
		if err := r.q.checkFormat(); err != nil {
			return err
		}
		if err := r.loadSenders(); err != nil {
			return err
		}
		r.checked = true
	}
	if !r.sealed {
		// Each walk: a queue encrypted since must not hand out ciphertext.
		if err := r.loadSeal(); err != nil {
			return err
		}
	}
	r.started = time.Now()
	if err := r.promote(); err != nil {
		return err
	}
	r.q.takeInbox() // a drop box's arrivals join the end of the queue
	r.hear()
	clear(r.blocked)
	clear(r.passed)
	r.trees = [MaxPriority + 1]bool{DefaultPriority: true}
	r.done = [MaxPriority + 1]bool{}
	r.stack, r.prio, r.walking = r.stack[:0], MaxPriority+1, true
	// The listing of new/ tells which trees exist, and is the top of
	// the tree of the default priority.
	top, err := r.treeTop(DefaultPriority)
	if err != nil {
		return err
	}
	r.stack = append(r.stack, top)
	r.prio = DefaultPriority
	if r.higher() {
		r.stack, r.prio = r.stack[:0], MaxPriority+1
	}
	return nil
}

// higher reports whether a tree above the one being walked may hold
// messages.
func (r *Receiver) higher() bool {
	for p := r.prio + 1; p <= MaxPriority; p++ {
		if r.trees[p] && !r.done[p] {
			return true
		}
	}
	return false
}

// treeTop lists the top of the tree of priority p. Listing new/ notes the
// trees of the other priorities that it holds.
func (r *Receiver) treeTop(p int) (*level, error) {
	rel := dirNew
	if p != DefaultPriority {
		rel += "/" + treeName(p)
	}
	lv := &level{dir: r.q.tree(p), rel: rel, base: len(rel) + 1}
	err := r.list(lv, "")
	if err != nil && p == DefaultPriority {
		return nil, r.q.missing(fmt.Errorf("receive from %s: %w", r.q.name, err))
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
		return nil, fmt.Errorf("receive from %s: %w", r.q.name, err)
	}
	return lv, nil
}

// hear reads the doorbells of the commit lock (see lockSize) into r.bells.
// Without the lock file it hears nothing, and the receiver finds new
// messages of higher priorities, and messages put back behind its walk, at
// its next walk, within rewalkAfter.
func (r *Receiver) hear() bool {
	if r.bell == nil {
		f, err := openFD(filepath.Join(r.q.dir, lockName), unix.O_RDONLY, 0)
		if err != nil {
			return false
		}
		r.bell = f
	}
	var b [lockSize]byte
	n, _ := r.bell.ReadAt(b[:], 0)
	r.placed = 0
	if n >= lockHead {
		placed := int64(binary.LittleEndian.Uint64(b[8:]))
		if placed > 0 && placed <= now().Add(maxLead).UnixNano() {
			r.placed = placed
		}
	}
	for i := range r.bells {
		r.bells[i] = 0
		if at := lockHead + 8*i; n >= at+8 {
			r.bells[i] = int64(binary.LittleEndian.Uint64(b[at:]))
		}
	}
	return true
}

// listen takes note of what rang since the last claim. A tree that a
// message was committed to is walked again if the walk has been through
// it; one that a message was put back into, maybe behind the walk, is
// walked again from its top. When such a tree has a priority higher than
// the one being walked, or a message was put back into that one, the walk
// starts again from the highest priority, skipping the trees it has walked
// to their end and that heard nothing since.
func (r *Receiver) listen() {
	prev := r.bells
	if !r.hear() {
		return
	}
	const n = MaxPriority + 1
	for p := range n {
		committed, back := r.bells[p] != prev[p], r.bells[n+p] != prev[n+p]
		if !committed && !back {
			continue
		}
		r.trees[p], r.done[p] = true, false
		if (p > r.prio || back && p == r.prio) && r.prio <= MaxPriority {
			r.stack, r.prio = r.stack[:0], MaxPriority+1
		}
	}
}

// startTree starts the walk of the tree of priority p.
func (r *Receiver) startTree(p int) error {
	top, err := r.treeTop(p)
	if err != nil {
		return err
	}
	r.stack, r.prio = append(r.stack[:0], top), p
	clear(r.blocked)
	clear(r.passed)
	return nil
}

// list reads lv's directory, keeping the names after after. In new/
// itself it leaves out the trees of the priorities other than the
// default, noting which there are.
func (r *Receiver) list(lv *level, after string) error {
	ents, err := r.ls.list(lv.dir, after)
	lv.ents, lv.i = ents, 0
	if lv.depth == 0 && lv.rel == dirNew {
		kept := ents[:0]
		for _, e := range ents {
			if p, ok := treePriority(e.name); ok {
				r.trees[p] = true
				continue
			}
			kept = append(kept, e)
		}
		lv.ents = kept
	}
	return err
}

// next returns the path of the next message file in walk order, or "" when
// the walk has seen everything: the trees of the priorities from the
// highest down, each in bucket and name order. What is no message on the
// way is dealt with: a stray is moved aside, a file out of place or under
// a name that pq cannot use is given its place.
func (r *Receiver) next() (string, error) {
	for {
		if len(r.stack) == 0 && !r.nextTree() {
			return "", nil
		}
		if len(r.stack) == 0 {
			continue
		}
		path, err := r.step()
		if err != nil || path != "" {
			return path, err
		}
		r.done[r.prio] = true
	}
}

// nextTree starts the walk of the highest tree below the one just walked
// that may hold messages, and reports whether there was one.
func (r *Receiver) nextTree() bool {
	for p := min(r.prio-1, MaxPriority); p >= MinPriority; p-- {
		if r.trees[p] && !r.done[p] {
			if err := r.startTree(p); err != nil {
				r.q.warnOnce(treeName(p), "cannot read a tree of priority", "priority", p, "err", err)
				r.done[p] = true
				r.prio = p
				return true
			}
			return true
		}
	}
	return false
}

// step returns the path of the next message file in the walk of the tree
// being walked, or "" when it has seen all of it.
func (r *Receiver) step() (string, error) {
	for len(r.stack) > 0 {
		lv := r.stack[len(r.stack)-1]
		if lv.i == len(lv.ents) && r.moved {
			// What the walk moved went to the end of the queue or to
			// its place by send time, maybe behind the walk.
			r.moved = false
			if err := r.startTree(r.prio); err != nil {
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
// that no sender fills any more is then removed, so that a queue that was
// once deep lists as fast as a new one, and one-shot receivers, which stop
// at the first message, do not walk the empty buckets their predecessors
// left; rmdir refuses a bucket that is not empty.
func (r *Receiver) finish(lv *level) (bool, error) {
	// A batch's directory never takes new messages once in place.
	idle := lv.depth > bucketDepth || lv.depth > 0 && r.settled(lv.rel[lv.base:])
	if idle && unix.Rmdir(lv.dir) == nil {
		return true, nil // drained, and no sender fills it any more
	}
	if lv.i == 0 {
		if lv.depth == 0 && lv.dir != r.q.new {
			// The tree of a priority that has no bucket left; a
			// sender makes it again when it needs it.
			unix.Rmdir(lv.dir)
		}
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
	case lv.depth < bucketDepth && typ.IsDir() && isBucket(e.name, lv.depth),
		lv.depth == bucketDepth && typ.IsDir() && isBatch(e.name):
		// A bucket, or an atomic batch's directory in a bucket.
		sub := &level{dir: path, rel: rel, base: lv.base, depth: lv.depth + 1}
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
		rq, id := q, c.name.ID
		if c.name.Request {
			rq, id = c.ReplyTo() // before the ack takes its metadata
		}
		if err := q.Ack(c); err != nil {
			q.log.Warn("cannot drop an expired message", "id", c.ID(), "err", err)
		} else if c.name.Request {
			rq.tellRequester(id, Reason{Cause: CauseExpired + droppedSuffix, Attempts: c.name.Attempts, Time: now()})
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

// settled reports whether no sender commits into the bucket at rel, a path
// relative to the top of a tree in new/, any more: the bucket is idle (see
// bucketIdle), or its span ends before the bucket of the last commit the
// receiver heard of. A commit under the commit lock never goes to a bucket
// earlier than the last one's (see committer.next), so a bucket that the
// receiver removes on that ground is not made again by a sender at once,
// as bucketGrace guards against otherwise. Only what goes back by its
// send time (a put-back, a promotion, a commit without the lock) may make
// it again, as it may any removed bucket (see Queue.place).
func (r *Receiver) settled(rel string) bool {
	if end, ok := bucketEnd(rel); ok && r.placed > 0 && end <= r.placed {
		return true
	}
	return bucketIdle(rel)
}

// Tidy walks the whole queue as a receiver does, without claiming
// anything: it moves the delayed messages that are due into new/, gives
// files that other programs renamed into new/ their places and IDs, and
// moves strays aside (see [Queue.Strays]). Receivers do the same as they
// go; Tidy is for a queue nobody receives from.
func (q *Queue) Tidy() error {
	r := q.NewReceiver()
	defer r.Close()
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
