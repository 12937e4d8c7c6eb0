package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// lockName is the queue's commit lock: a file of pq's own in the queue
// directory. A sender holds it while it names its messages and renames
// them into new/, so that messages become visible in the order of their
// names, across all senders. It holds the time of the last name given, so
// that names keep rising when a clock steps back.
const lockName = ".lock"

// commitLockWait bounds how long a commit waits for the commit lock. A
// holder that is stopped (SIGSTOP, a debugger) must not stop every sender:
// past this wait, the commit goes ahead without the lock, and only the
// order of its messages against other senders' is at risk.
var commitLockWait = 5 * time.Second

// maxLead bounds how far ahead of the clock the last name recorded in the
// lock file may be before it is taken for garbage rather than for a clock
// that stepped back.
const maxLead = 24 * time.Hour

// committer names messages in commit order. It is for one goroutine.
type committer struct {
	q     *Queue
	f     *os.File
	held  bool
	last  int64 // the send time of the last name given
	place int64 // the time of the bucket of the last message placed
}

// lock takes the commit lock, waiting for at most commitLockWait; see
// commitLockWait for what happens past it.
func (c *committer) lock() error {
	if c.f == nil {
		f, err := openFD(filepath.Join(c.q.dir, lockName), unix.O_RDWR|unix.O_CREAT, 0o600)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("commit lock of %s: %w", c.q.name, err)
		}
		if err != nil {
			// A lock file that cannot be opened must not stop every
			// sender: commit without it, as after commitLockWait.
			c.q.warnOnce(lockName, "cannot open the commit lock; committing without it", "err", err)
			c.last, c.place = 0, 0
			return nil
		}
		c.f = f
	}
	deadline := time.Now().Add(commitLockWait)
	pause := 20 * time.Microsecond
	for {
		err := unix.Flock(int(c.f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			c.held = true
			c.last, c.place = c.readLast()
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case !errors.Is(err, unix.EWOULDBLOCK):
			return fmt.Errorf("commit lock of %s: %w", c.q.name, err)
		}
		if time.Now().After(deadline) {
			c.q.log.Warn("commit lock held too long by another process; committing without it", "waited", commitLockWait)
			c.last, c.place = 0, 0
			return nil
		}
		time.Sleep(pause)
		pause = min(2*pause, 2*time.Millisecond)
	}
}

// readLast reads the send time of the last name given and the time of the
// bucket it went to; zero when unknown or not believable.
func (c *committer) readLast() (last, place int64) {
	var b [16]byte
	if n, err := c.f.ReadAt(b[:], 0); n != 16 || err != nil {
		return 0, 0
	}
	last = int64(binary.LittleEndian.Uint64(b[:8]))
	place = int64(binary.LittleEndian.Uint64(b[8:]))
	limit := now().Add(maxLead).UnixNano()
	if last < 0 || last > limit || place < 0 || place > limit {
		return 0, 0
	}
	return last, place
}

// next returns the send time of the next message to commit, the clock or
// just after the last name given when the clock is behind it, and the time
// of the bucket it goes to: its send time, but never later than now, so
// that nothing waits in a bucket of the future; and never earlier than the
// last message's, so that a clock stepping back puts nothing behind
// receivers.
func (c *committer) next() (send, place int64) {
	t := now().UnixNano()
	send = nextLocal(max(t, c.last+1))
	place = max(min(send, t), c.place)
	c.last, c.place = send, place
	return send, place
}

// nextLocal keeps times rising within this process even without the lock.
func nextLocal(ns int64) int64 {
	ids.Lock()
	defer ids.Unlock()
	if ns <= ids.last {
		ns = ids.last + 1
	}
	ids.last = ns
	return ns
}

// unlock records the last name given and releases the lock.
func (c *committer) unlock() {
	if !c.held {
		return
	}
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(c.last))
	binary.LittleEndian.PutUint64(b[8:], uint64(c.place))
	c.f.WriteAt(b[:], 0)
	unix.Flock(int(c.f.Fd()), unix.LOCK_UN)
	c.held = false
}

// close releases the lock file.
func (c *committer) close() {
	c.unlock()
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
