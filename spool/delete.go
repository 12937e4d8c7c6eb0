package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"pq/lock"
)

// deletePrefix begins the name under which a queue being deleted waits
// in the spool root until it is removed: a name that is no queue's.
const deletePrefix = ".delete-"

// HeldClaims returns the IDs of the messages that live consumers hold: in
// cur/, and in .moving/ (moves under way). It looks at each lock as
// recovery does, through a descriptor of its own, never blocking.
func (q *Queue) HeldClaims() ([]ID, error) {
	var ls lister
	ents, err := ls.list(q.cur, "")
	if err != nil {
		return nil, q.missing(fmt.Errorf("claims of %s: %w", q.name, err))
	}
	paths := make([]string, 0, len(ents))
	for _, e := range ents {
		paths = append(paths, filepath.Join(q.cur, e.name))
	}
	moving := filepath.Join(q.dir, dirMoving)
	if targets, err := ls.list(moving, ""); err == nil {
		for _, t := range targets {
			ms, _ := ls.list(filepath.Join(moving, t.name), "")
			for _, m := range ms {
				paths = append(paths, filepath.Join(moving, t.name, m.name))
			}
		}
	}
	var held []ID
	for _, p := range paths {
		h, err := lock.Held(p)
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, lock.ErrNotFile) {
			return held, fmt.Errorf("claims of %s: %w", q.name, err)
		}
		if h {
			held = append(held, ParseName(filepath.Base(p)).ID)
		}
	}
	return held, nil
}

// Delete deletes the queue, the opposite of [Queue.Create]: every
// message in every state goes, dead letters included, with everything
// pq keeps for the queue. It pauses the queue first (see [Queue.Pause]),
// so that no new claim begins, then refuses with a [HeldError] if live
// consumers hold claims, unless force is set, and then resumes the queue
// if it was not paused before. Otherwise it renames the queue directory
// to a hidden name in the spool root (.delete-NAME-...), fsyncs the root,
// and removes the hidden directory. That one rename makes the queue
// vanish whole: a crash before it leaves the queue whole (and paused), a
// crash after it leaves a hidden directory that the next Delete in that
// spool removes. Consumers that hold claims when force deletes the queue
// keep their open files, but their acks fail.
func (q *Queue) Delete(force bool) error {
	if err := q.Check(); err != nil {
		return err
	}
	root := filepath.Dir(q.dir)
	CleanDeleted(root)
	wasPaused, err := q.Paused()
	if err != nil {
		return err
	}
	if !wasPaused {
		if err := q.Pause(); err != nil {
			return err
		}
	}
	held, err := q.HeldClaims()
	if err == nil && len(held) > 0 && !force {
		err = &HeldError{Queue: q.name, IDs: held}
	}
	if err != nil {
		if !wasPaused {
			err = errors.Join(err, q.Resume())
		}
		return err
	}
	hidden := filepath.Join(root, fmt.Sprintf("%s%s-%d-%d", deletePrefix, q.name, os.Getpid(), rand.Uint32()))
	trace("rename", hidden)
	if err := rename(q.dir, hidden); err != nil {
		return fmt.Errorf("delete queue %s: %w", q.name, err)
	}
	if err := q.sync(root); err != nil {
		return fmt.Errorf("delete queue %s: %w", q.name, err)
	}
	if err := os.RemoveAll(hidden); err != nil {
		return fmt.Errorf("delete queue %s: the queue is gone, but not all of %s: %w", q.name, hidden, err)
	}
	return nil
}

// CleanDeleted removes what deletes of queues cut short by a crash left
// in the spool root: the hidden directories of queues already gone, but
// those of deletes whose processes still run. It returns their names.
func CleanDeleted(root string) []string {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil
	}
	var removed []string
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), deletePrefix) || deleterAlive(e.Name()) {
			continue
		}
		if os.RemoveAll(filepath.Join(root, e.Name())) == nil {
			removed = append(removed, e.Name())
		}
	}
	return removed
}

// deleterAlive reports whether the process that named a hidden directory
// .delete-NAME-PID-X still runs (or one that took its pid since).
func deleterAlive(name string) bool {
	f := strings.Split(name, "-")
	if len(f) < 4 {
		return false
	}
	pid, err := strconv.Atoi(f[len(f)-2])
	if err != nil || pid <= 0 {
		return false
	}
	err = unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
