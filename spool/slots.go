package spool

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// dirSlots holds the lock files that cap the handlers running on a queue
// across processes: .slots/0 to .slots/N-1.
const dirSlots = ".slots"

// ErrNoSlot reports that every slot of a [Slots] is taken.
var ErrNoSlot = errors.New("every slot is taken")

// slotPoll is how often Slots.Wait looks again when it cannot watch the
// slots' directory for closes.
var slotPoll = 200 * time.Millisecond

// Slots is a set of n slots of a queue, shared by every process that asks
// for the same n: each slot is a lock file, QUEUE/.slots/I for I from 0 to
// n-1, held by flock(2) for as long as its holder runs a job. The kernel
// frees a slot when its holder closes it or dies. The files are empty and
// never removed; their names begin with a dot, so nothing else in the
// queue sees them. Processes that ask for different n share the slots
// below the smaller n. A Slots is safe for concurrent use.
type Slots struct {
	dir string
	n   int
}

// Slots returns the queue's n slots, creating their directory if needed.
func (q *Queue) Slots(n int) (*Slots, error) {
	if n < 1 {
		return nil, fmt.Errorf("slots: %d: must be at least 1", n)
	}
	dir := filepath.Join(q.dir, dirSlots)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("slots: %w", err)
	}
	return &Slots{dir: dir, n: n}, nil
}

// Slot is a slot taken by [Slots.Take]; Release frees it.
type Slot struct{ f *os.File }

// Take takes a free slot without waiting, or returns [ErrNoSlot].
func (s *Slots) Take() (*Slot, error) {
	for i := range s.n {
		path := filepath.Join(s.dir, strconv.Itoa(i))
		f, err := openFD(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return nil, fmt.Errorf("slot: %w", err)
		}
		err = flockNB(f, unix.LOCK_EX)
		if err == nil {
			return &Slot{f: f}, nil
		}
		f.Close()
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("slot %s: %w", path, err)
		}
	}
	return nil, ErrNoSlot
}

// Wait takes a slot, waiting for one to be freed until ctx is done. It
// watches the slots' directory for closes where it can (Linux), and looks
// again every 200 ms in any case.
func (s *Slots) Wait(ctx context.Context) (*Slot, error) {
	w, err := watchCloses(s.dir)
	if err != nil {
		w = &closeWatch{}
	}
	defer w.Close()
	t := time.NewTicker(slotPoll)
	defer t.Stop()
	for {
		sl, err := s.Take()
		if !errors.Is(err, ErrNoSlot) {
			return sl, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.C:
		case <-t.C:
		}
	}
}

// Release frees the slot. It is safe to call on a nil *Slot.
func (s *Slot) Release() error {
	if s == nil {
		return nil
	}
	return s.f.Close()
}
