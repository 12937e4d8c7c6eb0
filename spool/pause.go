package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// pausedName is the file of pq's own whose presence in the queue
// directory pauses the queue (see [Queue.Pause]).
const pausedName = ".paused"

// errPausedEmpty is what [Receiver.Claim] returns on a paused queue: it
// matches ErrEmpty, so that a caller that waits for messages waits for the
// resume as it would for a send, and ErrPaused, so that a caller can say
// why nothing came.
// (A type rather than fmt.Errorf, which would run fmt at every start.)
var errPausedEmpty error = pausedEmpty{}

type pausedEmpty struct{}

func (pausedEmpty) Error() string { return ErrEmpty.Error() + ": " + ErrPaused.Error() }

// Is matches ErrEmpty and ErrPaused.
func (pausedEmpty) Is(target error) bool { return target == ErrEmpty || target == ErrPaused }

// Pause pauses the queue: from when it returns, no [Receiver] claims
// anything from it until [Queue.Resume]. A claim that had already begun
// may still end; claims already held go on and end as usual. Sends, and
// everything that only reads the queue, go on. The pause is the file
// .paused in the queue directory, written durably (in tmp/, fsynced,
// renamed into place, the queue directory fsynced), so that it survives
// a crash and a reboot. Pausing a paused queue changes nothing.
func (q *Queue) Pause() error {
	if err := q.checkFormat(); err != nil {
		return err
	}
	if p, err := q.Paused(); err != nil || p {
		return err
	}
	text := fmt.Sprintf("paused at %s by pid %d\n", now().UTC().Format(time.RFC3339), os.Getpid())
	tmp := filepath.Join(q.tmp, fmt.Sprintf("%s-%d-%d", pausedName, os.Getpid(), rand.Uint32()))
	if err := q.writeEntry(tmp, []byte(text)); err != nil {
		return q.missing(fmt.Errorf("pause %s: %w", q.name, err))
	}
	trace("rename", q.pausedPath())
	if err := rename(tmp, q.pausedPath()); err != nil {
		remove(tmp)
		return fmt.Errorf("pause %s: %w", q.name, err)
	}
	if err := q.sync(q.dir); err != nil {
		return fmt.Errorf("pause %s: %w", q.name, err)
	}
	return nil
}

// Resume ends a pause (see [Queue.Pause]): it removes .paused, fsyncs the
// queue directory, and wakes the receivers that wait on the queue, which
// claim again at once. Resuming a queue that is not paused changes
// nothing.
func (q *Queue) Resume() error {
	if err := q.checkFormat(); err != nil {
		return err
	}
	trace("unlink", q.pausedPath())
	err := remove(q.pausedPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("resume %s: %w", q.name, err)
	}
	if err := q.sync(q.dir); err != nil {
		return fmt.Errorf("resume %s: %w", q.name, err)
	}
	poke(q.new)
	return nil
}

// Paused reports whether the queue is paused: whether its directory holds
// .paused, whatever that is.
func (q *Queue) Paused() (bool, error) {
	var st unix.Stat_t
	err := unix.Lstat(q.pausedPath(), &st)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.ENOENT):
		return false, nil
	}
	return false, fmt.Errorf("queue %s: %w", q.name, &fs.PathError{Op: "lstat", Path: q.pausedPath(), Err: err})
}

// pausedPath is the path of the queue's .paused.
func (q *Queue) pausedPath() string { return filepath.Join(q.dir, pausedName) }

// paused is the look that [Receiver.Claim] takes before each claim: one
// lstat. A .paused that cannot be looked at does not stop the queue.
func (q *Queue) paused() bool {
	var st unix.Stat_t
	return unix.Lstat(q.pausedPath(), &st) == nil
}
