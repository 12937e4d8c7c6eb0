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

// The lock file holds, as little-endian 64-bit numbers, the send time of
// the last name given and the time of the bucket it went to; then, for
// each priority from 0 to 9, a doorbell: the send time of the last message
// of that priority committed; then, likewise, a second doorbell per
// priority that counts the messages put back into new/ (by a release, a
// retry without backoff, recovery, a redrive, the promotion of a delayed
// message, the adoption of a foreign file), which land behind the walks
// of receivers. A long-running receiver reads the doorbells before each
// claim, to notice at once that a message of a priority higher than the
// one it is taking, or one behind its walk, has arrived. The lock file is
// read and written in one system call each; a pq from before priorities
// writes only the first two numbers and leaves the doorbells alone.
const (
	lockHead = 16
	bellSize = 8 * (MaxPriority + 1)
	backAt   = lockHead + bellSize
	lockSize = backAt + bellSize
)

// committer names messages in commit order. It is for one goroutine.
type committer struct {
	q     *Queue
	f     *os.File
	held  bool
	last  int64 // the send time of the last name given
	place int64 // the time of the bucket of the last message placed
	buf   [lockSize]byte
	rang  bool // a doorbell in buf was set: write it back
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
// bucket it went to, zero when unknown or not believable, and keeps the
// doorbells in c.buf.
func (c *committer) readLast() (last, place int64) {
	c.buf = [lockSize]byte{}
	n, _ := c.f.ReadAt(c.buf[:], 0)
	if n < lockHead {
		return 0, 0
	}
	b := c.buf[:lockHead]
	last = int64(binary.LittleEndian.Uint64(b[:8]))
	place = int64(binary.LittleEndian.Uint64(b[8:]))
	limit := now().Add(maxLead).UnixNano()
	if last < 0 || last > limit || place < 0 || place > limit {
		return 0, 0
	}
	return last, place
}

// next returns, for a message of priority prio, the send time of the next
// message to commit, the clock or
// just after the last name given when the clock is behind it, and the time
// of the bucket it goes to: its send time, but never later than now, so
// that nothing waits in a bucket of the future; and never earlier than the
// last message's, so that a clock stepping back puts nothing behind
// receivers.
func (c *committer) next(prio int) (send, place int64) {
	t := now().UnixNano()
	send = nextLocal(max(t, c.last+1))
	place = max(min(send, t), c.place)
	c.last, c.place = send, place
	binary.LittleEndian.PutUint64(c.buf[lockHead+8*prio:], uint64(send))
	c.rang = true
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

// unlock records the last name given, and the doorbells of the
// priorities committed, and releases the lock. The doorbells are written
// after the messages were renamed into new/, so that a receiver that hears
// one finds the message.
func (c *committer) unlock() {
	if !c.held {
		return
	}
	binary.LittleEndian.PutUint64(c.buf[:8], uint64(c.last))
	binary.LittleEndian.PutUint64(c.buf[8:], uint64(c.place))
	size := lockHead
	if c.rang {
		size = lockSize
	}
	c.f.WriteAt(c.buf[:size], 0)
	c.rang = false
	unix.Flock(int(c.f.Fd()), unix.LOCK_UN)
	c.held = false
}

// ringBack rings the put-back doorbell of priority p (see lockSize). It
// takes the commit lock only if it is free at once: a receiver that does
// not hear the bell finds the message at its next walk all the same,
// within rewalkAfter, so nobody waits for it.
func (q *Queue) ringBack(p int) {
	f, err := openFD(filepath.Join(q.dir, lockName), unix.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close() // and so unlocks
	if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) != nil {
		return
	}
	var b [8]byte
	at := int64(backAt + 8*p)
	f.ReadAt(b[:], at)
	binary.LittleEndian.PutUint64(b[:], binary.LittleEndian.Uint64(b[:])+1)
	f.WriteAt(b[:], at)
}

// close releases the lock file.
func (c *committer) close() {
	c.unlock()
	if c.f != nil {
		c.f.Close()
		c.f = nil
	}
}
