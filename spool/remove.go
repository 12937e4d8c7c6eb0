package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"pq/lock"
	"pq/queue"
)

// Removal is what [Queue.Remove] and [Queue.Purge] did.
type Removal = queue.Removal

// PurgeOptions tune [Queue.Purge].
type PurgeOptions struct {
	// States are the states to empty; none means all of them.
	States []State
	// Progress, when not nil, is called after each message deleted or
	// skipped, with the counts so far: for a display of progress.
	Progress func(removed, held int)
}

// syncEvery is how many messages a purge deletes between two rounds of
// directory fsyncs.
const syncEvery = 4096

// maxRounds bounds the walks of the queue that Remove and Purge take to
// catch the messages that moved while they walked (promoted from .due/,
// put back by recovery).
const maxRounds = 3

// Remove deletes the messages of the given IDs, in any state: ready,
// delayed, dead, and in flight when the consumer that claimed it has
// died. A message that a live consumer holds (its file is locked: a claim
// in cur/, or one under way in new/) is left alone and listed in
// Removal.Held; an ID found nowhere is listed in Removal.Missing. Each
// message is unlinked, then its metadata file and, for a dead letter, its
// reason (first), then the directories are fsynced: once Remove returns,
// the deletions are durable. A crash leaves each message there or gone.
func (q *Queue) Remove(ids ...ID) (Removal, error) {
	var r Removal
	want := map[ID]bool{}
	for _, id := range ids {
		want[id] = true
	}
	rm := &removing{dirs: map[string]bool{}}
	held := map[ID]bool{}
	for round := 0; round < maxRounds && len(want) > 0; round++ {
		moved := false
		for e, err := range q.Messages() {
			if err != nil {
				return r, q.finishRemoval(r, rm, err)
			}
			if !want[e.Name.ID] {
				continue
			}
			err := q.removeEntry(e, rm)
			switch {
			case errors.Is(err, errGone):
				moved = true
				continue // maybe moved on: the next round looks again
			case errors.Is(err, ErrHeld):
				held[e.Name.ID] = true
			case err != nil:
				return r, q.finishRemoval(r, rm, err)
			default:
				r.Removed++
			}
			delete(want, e.Name.ID)
			if len(want) == 0 {
				break
			}
		}
		if !moved {
			break
		}
	}
	for _, id := range ids {
		switch {
		case held[id]:
			r.Held = append(r.Held, id)
			delete(held, id)
		case want[id]:
			r.Missing = append(r.Missing, id)
			delete(want, id)
		}
	}
	return r, q.finishRemoval(r, rm, nil)
}

// Purge deletes the queue's messages in the states that o gives, all of
// them by default, as [Queue.Remove] deletes each one: never one that a
// live consumer holds, which it lists in Removal.Held. Messages that move
// while it walks (a delayed one promoted, a dead claim put back) are
// looked for again, up to maxRounds walks; messages sent meanwhile may be
// deleted or not. It fsyncs the directories it deleted from every
// syncEvery messages and before it returns.
func (q *Queue) Purge(o PurgeOptions) (Removal, error) {
	var r Removal
	rm := &removing{dirs: map[string]bool{}}
	held := map[ID]bool{}
	synced := 0 // r.Removed at the last fsyncs
	for round := 0; round < maxRounds; round++ {
		moved := false
		for e, err := range q.Messages(o.States...) {
			if err != nil {
				return r, q.finishRemoval(r, rm, err)
			}
			if held[e.Name.ID] {
				continue
			}
			err := q.removeEntry(e, rm)
			switch {
			case errors.Is(err, errGone):
				moved = true
				continue
			case errors.Is(err, ErrHeld):
				held[e.Name.ID] = true
				r.Held = append(r.Held, e.Name.ID)
			case err != nil:
				return r, q.finishRemoval(r, rm, err)
			default:
				r.Removed++
			}
			if o.Progress != nil {
				o.Progress(r.Removed, len(r.Held))
			}
			if r.Removed-synced >= syncEvery {
				if err := q.syncRemovals(rm); err != nil {
					return r, err
				}
				synced = r.Removed
			}
		}
		if !moved {
			break
		}
	}
	return r, q.finishRemoval(r, rm, nil)
}

// removing is what deletions have done and not yet made durable and
// counted: the directories unlinked from, and the messages and bytes to
// take from the queue's counts (see countName).
type removing struct {
	dirs        map[string]bool
	gone, bytes int64
}

// finishRemoval makes the deletions so far durable, and returns err, or
// the error of the fsyncs.
func (q *Queue) finishRemoval(r Removal, rm *removing, err error) error {
	serr := q.syncRemovals(rm)
	if err != nil {
		return err
	}
	return serr
}

// syncRemovals fsyncs the directories that rm records, then takes the
// messages deleted from the queue's counts, and forgets them.
func (q *Queue) syncRemovals(rm *removing) error {
	var err error
	if len(rm.dirs) > 0 && !q.opts.NoSync {
		err = syncDirs(rm.dirs)
	}
	clear(rm.dirs)
	q.adjust(-rm.gone, -rm.bytes)
	rm.gone, rm.bytes = 0, 0
	if err != nil {
		return fmt.Errorf("delete from %s: %w", q.name, err)
	}
	return nil
}

// removeEntry deletes the message e and records in rm the directory it
// left, for the caller to fsync, and what to take from the counts. It returns an error matching ErrHeld when
// a live consumer holds it, and errGone when it is no longer where e says.
func (q *Queue) removeEntry(e Entry, rm *removing) error {
	path := filepath.Join(q.dir, e.Path)
	if e.State == StateDead {
		return q.removeDead(e, path, rm.dirs)
	}
	if e.State == StateInflight {
		// Look first through a read-only descriptor, as recovery does:
		// its close wakes no one who watches cur/ for dead consumers.
		if h, err := lock.Held(path); h {
			return fmt.Errorf("delete %s: %w", e.Name.ID, ErrHeld)
		} else if errors.Is(err, fs.ErrNotExist) || errors.Is(err, lock.ErrNotFile) {
			return errGone
		}
	}
	f, st, err := openMessage(path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotRegular) {
		return errGone
	}
	if err != nil {
		return fmt.Errorf("delete %s: %w", e.Name.ID, err)
	}
	defer f.Close() // after the unlink: the lock keeps receivers off it
	if err := lock.TryFile(f); errors.Is(err, lock.ErrLocked) {
		return fmt.Errorf("delete %s: %w", e.Name.ID, ErrHeld)
	} else if err != nil {
		return fmt.Errorf("delete %s: %w", e.Name.ID, err)
	}
	if !namesFile(path, st) {
		return errGone
	}
	trace("unlink", path)
	if err := remove(path); errors.Is(err, fs.ErrNotExist) {
		return errGone // moved between the check and the unlink
	} else if err != nil {
		return fmt.Errorf("delete %s: %w", e.Name.ID, err)
	}
	rm.dirs[filepath.Dir(path)] = true
	rm.gone, rm.bytes = rm.gone+1, rm.bytes+st.Size
	if e.Name.Meta && st.Nlink == 1 {
		q.removeMeta(e.Name.ID)
	}
	if e.Name.Group != "" && e.State != StateInflight {
		q.forgetHead(e.Name)
	}
	return nil
}

// removeDead deletes the dead letter e at path: its reason first, so that
// a crash leaves no reason without its letter, then the letter.
func (q *Queue) removeDead(e Entry, path string, dirs map[string]bool) error {
	if err := remove(filepath.Join(q.dlq, string(e.Name.ID)+reasonSuffix)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", e.Name.ID, err)
	}
	trace("unlink", path)
	if err := remove(path); errors.Is(err, fs.ErrNotExist) {
		return errGone // redriven meanwhile
	} else if err != nil {
		return fmt.Errorf("delete %s: %w", e.Name.ID, err)
	}
	dirs[q.dlq] = true
	if e.Name.Meta {
		q.removeMeta(e.Name.ID)
	}
	return nil
}

// forgetHead clears the file of the group of n when it names n as the
// message that goes next, so that the group does not wait for a message
// that was deleted. A group whose lock is held is left as it is: its
// holder records what goes next when its claim ends.
func (q *Queue) forgetHead(n Name) {
	g, ok, err := q.lockGroup(n.Group)
	if err != nil || !ok {
		return
	}
	defer g.release()
	if g.read().id == n.ID {
		if err := g.write(hold{}, false); err != nil {
			q.log.Warn("cannot record that a deleted message no longer goes next in its group", "id", n.ID, "err", err)
		}
	}
}
