package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// countName is the file in which a queue with a capacity limit
// (Settings.MaxMessages, Settings.MaxBytes) keeps the number of its
// messages and their bytes, ready, delayed and in flight (dead letters
// are not counted), as two little-endian 64-bit numbers. Every party
// that adds or removes messages adjusts them under an flock of the file,
// after its own change; a queue without the file keeps no counts, and
// costs its parties one failed open per change. The counts drift when a
// process dies between its change and its adjustment, or when another
// program puts files into new/ or takes them away; Recount, which pq
// recover runs, sets them right again.
const countName = ".count"

// Counts are the messages of a queue with a capacity limit, and their
// bytes, as the queue keeps them (see Recount).
type Counts struct {
	Messages, Bytes int64
}

// Counts returns the queue's counts, and false when it keeps none.
func (q *Queue) Counts() (Counts, bool) {
	f, err := openFD(filepath.Join(q.dir, countName), unix.O_RDONLY, 0)
	if err != nil {
		return Counts{}, false
	}
	defer f.Close()
	return readCounts(f), true
}

// readCounts reads the counts in f; garbage reads as zero.
func readCounts(f *os.File) Counts {
	var b [16]byte
	if n, _ := f.ReadAt(b[:], 0); n < len(b) {
		return Counts{}
	}
	c := Counts{int64(binary.LittleEndian.Uint64(b[:8])), int64(binary.LittleEndian.Uint64(b[8:]))}
	return Counts{max(c.Messages, 0), max(c.Bytes, 0)}
}

// adjust adds messages and bytes (negative to remove) to the queue's
// counts, if it keeps them. It is best effort: a failure leaves drift
// for Recount, never an error for the change that was made.
func (q *Queue) adjust(messages, bytes int64) {
	if messages == 0 && bytes == 0 {
		return
	}
	f, err := openFD(filepath.Join(q.dir, countName), unix.O_RDWR, 0)
	if err != nil {
		return
	}
	defer f.Close() // and so unlocks
	if flockWait(f) != nil {
		return
	}
	c := readCounts(f)
	writeCounts(f, Counts{max(c.Messages+messages, 0), max(c.Bytes+bytes, 0)})
}

// flockWait takes an exclusive flock of f, waiting for it: its holders
// hold it for a read and a write.
func flockWait(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// writeCounts writes c into f.
func writeCounts(f *os.File, c Counts) error {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(c.Messages))
	binary.LittleEndian.PutUint64(b[8:], uint64(c.Bytes))
	_, err := f.WriteAt(b[:], 0)
	return err
}

// Recount counts the queue's messages and bytes afresh, one listing of
// each directory and one stat of each file, and keeps them when the
// queue has a capacity limit; without one it removes the counts. Changes
// made while it counts may be counted twice or not at all, until the next
// Recount.
func (q *Queue) Recount() (Counts, error) {
	s, err := q.Settings()
	if err != nil {
		return Counts{}, err
	}
	path := filepath.Join(q.dir, countName)
	if s.MaxMessages <= 0 && s.MaxBytes <= 0 {
		if err := remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return Counts{}, fmt.Errorf("counts of %s: %w", q.name, err)
		}
		return Counts{}, nil
	}
	f, err := openFD(path, unix.O_RDWR|unix.O_CREAT, 0o600)
	if err != nil {
		return Counts{}, fmt.Errorf("counts of %s: %w", q.name, err)
	}
	defer f.Close()
	if err := flockWait(f); err != nil {
		return Counts{}, fmt.Errorf("counts of %s: %w", q.name, err)
	}
	var c Counts
	for _, dir := range []string{q.new, q.due, q.cur} {
		err := sumTree(dir, func(name string, size, _ int64) { c.Messages++; c.Bytes += size })
		if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, unix.ENOTDIR) {
			return Counts{}, fmt.Errorf("counts of %s: %w", q.name, err)
		}
	}
	if err := writeCounts(f, c); err != nil {
		return Counts{}, fmt.Errorf("counts of %s: %w", q.name, err)
	}
	return c, nil
}

// limit refuses, with ErrFull, one more message of size bytes (already
// written, 0 before writing) that would take the queue past its capacity
// limits, counting what the batch holds already. It reads the counts once
// per call: O(1), whatever the depth of the queue. Senders that check at
// once may all pass, and overshoot a limit by what they send together.
func (b *Batch) limit(size int64) error {
	if b.maxMessages <= 0 && b.maxBytes <= 0 {
		return nil
	}
	c, ok := b.q.Counts()
	if !ok {
		return nil // set up by pq init --set, which counts them
	}
	pending, bytes := int64(len(b.pending)), int64(0)
	for _, p := range b.pending {
		bytes += p.size
	}
	if size == 0 && b.maxMessages > 0 && c.Messages+pending+1 > b.maxMessages {
		return fmt.Errorf("%w: %d messages, the queue holds at most %d (max_messages)", ErrFull, c.Messages+pending, b.maxMessages)
	}
	if b.maxBytes > 0 && c.Bytes+bytes+size > b.maxBytes {
		return fmt.Errorf("%w: %s in the queue, at most %s (max_bytes)", ErrFull, human(c.Bytes+bytes+size), human(b.maxBytes))
	}
	return nil
}
