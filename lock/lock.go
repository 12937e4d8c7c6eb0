// Package lock holds the advisory locks pq uses to prove that a process is
// alive: flock(2) locks, which the kernel releases when the last descriptor
// of the locked open file is closed, whether the process exited cleanly,
// crashed or was killed.
//
// Two kinds are offered. A [File] locks a descriptor that the caller opened
// itself, so that the same descriptor can be read and handed on to a child
// process: this is how a claimed message is held. A [Path] is a named lock
// file built on github.com/gofrs/flock, for locks that guard a directory
// rather than one message.
//
// Locks are advisory: they bind only processes that ask for them. Each lock
// belongs to an open file description, so two descriptors opened separately,
// even in one process, exclude each other, while descriptors duplicated by
// dup(2) or inherited across fork(2) share one lock.
package lock

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// ErrLocked reports that a lock is held by another open file description.
var ErrLocked = errors.New("locked by another process")

// TryFile takes an exclusive lock on the open file f without waiting. It
// returns ErrLocked when another open file description holds a lock on the
// same file. The lock lasts until f and every descriptor that shares it
// (duplicates, descriptors inherited by children) are closed.
func TryFile(f *os.File) error {
	err := flockRetry(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return ErrLocked
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", f.Name(), err)
	}
	return nil
}

// ErrNotFile reports a path that names something other than a regular
// file, such as a named pipe or a symbolic link, which Held does not open.
var ErrNotFile = errors.New("not a regular file")

// Held reports whether some open file description other than the caller's
// holds a lock on the file at path. It takes and drops a shared lock through
// a descriptor of its own; a file that does not exist is not held. The open
// never blocks and never follows a symbolic link: anything but a regular
// file is an error matching ErrNotFile.
func Held(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENXIO) {
		return false, fmt.Errorf("lock %s: %w", path, ErrNotFile)
	}
	if err != nil {
		return false, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return false, fmt.Errorf("lock %s: %w", path, err)
	} else if !fi.Mode().IsRegular() {
		return false, fmt.Errorf("lock %s: %w", path, ErrNotFile)
	}
	err = flockRetry(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("lock %s: %w", path, err)
	}
	return false, nil
}

// flockRetry calls flock(2), repeating it when a signal interrupts it.
func flockRetry(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// Path is a named lock file, created on first use and never removed, that
// guards something larger than one file, such as a whole queue during
// maintenance. It is not safe for concurrent use by several goroutines: give
// each goroutine its own Path.
type Path struct {
	fl *flock.Flock
}

// NewPath returns the lock file at path. Nothing is opened until a lock is
// taken.
func NewPath(path string) *Path {
	return &Path{fl: flock.New(path, flock.SetFlag(os.O_CREATE|os.O_RDWR), flock.SetPermissions(0o600))}
}

// TryLock takes the lock without waiting; it returns ErrLocked when another
// process holds it.
func (p *Path) TryLock() error {
	ok, err := p.fl.TryLock()
	if err != nil {
		return fmt.Errorf("lock %s: %w", p.fl.Path(), err)
	}
	if !ok {
		return ErrLocked
	}
	return nil
}

// Lock waits for the lock until ctx is done, checking every poll.
func (p *Path) Lock(ctx context.Context, poll time.Duration) error {
	ok, err := p.fl.TryLockContext(ctx, poll)
	if err != nil {
		return fmt.Errorf("lock %s: %w", p.fl.Path(), err)
	}
	if !ok {
		return ErrLocked
	}
	return nil
}

// Unlock releases the lock and closes its descriptor.
func (p *Path) Unlock() error {
	if err := p.fl.Unlock(); err != nil {
		return fmt.Errorf("unlock %s: %w", p.fl.Path(), err)
	}
	return nil
}
