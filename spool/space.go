package spool

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"pq/queue"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrFull reports a send refused because the queue has no room: the file
// system that holds it has less free space than the queue's min_free (see
// Settings.MinFree). Nothing of the refused message is left behind.
var ErrFull = queue.ErrFull

// Space is an amount of disk space: a number of bytes, or a share of the
// file system's size.
type Space struct {
	Bytes   int64
	Percent float64 // used when more than zero
}

// DefaultMinFree is the free space below which sends are refused when the
// queue and the configuration say nothing: 1% of the file system, but no
// more than 100 MiB.
var DefaultMinFree = Space{Percent: 1}

// defaultMinFreeCap bounds DefaultMinFree on large file systems.
const defaultMinFreeCap = 100 << 20

// roomEvery is how many bytes a batch writes between two looks at the
// free space: a look costs a statfs, and min_free is far larger.
const roomEvery = 1 << 20

// units are the suffixes ParseSpace takes, case-insensitively.
var units = []struct {
	suffix string
	n      int64
}{
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
	{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
	{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40},
	{"b", 1},
}

// ParseSpace parses an amount of space: bytes with an optional unit
// ("100MiB", "1G", "500MB", "4096"), or a percentage of the file system
// ("1%", "0.5%"); "0" means none.
func ParseSpace(s string) (Space, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if p, ok := strings.CutSuffix(t, "%"); ok {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || v < 0 || v > 100 || math.IsNaN(v) {
			return Space{}, fmt.Errorf("%q: want a share of the disk from 0%% to 100%%", s)
		}
		return Space{Percent: v}, nil
	}
	mult := int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = strings.TrimSpace(rest), u.n
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 || v*float64(mult) > math.MaxInt64/2 || math.IsNaN(v) {
		return Space{}, fmt.Errorf("%q: want bytes such as \"100MiB\", \"1G\" or \"0\", or a share such as \"1%%\"", s)
	}
	return Space{Bytes: int64(v * float64(mult))}, nil
}

// String formats s as ParseSpace reads it.
func (s Space) String() string {
	if s.Percent > 0 {
		return strconv.FormatFloat(s.Percent, 'f', -1, 64) + "%"
	}
	return strconv.FormatInt(s.Bytes, 10)
}

// of returns the bytes that s stands for on a file system of total bytes.
func (s Space) of(total int64) int64 {
	if s.Percent > 0 {
		return int64(float64(total) * s.Percent / 100)
	}
	return s.Bytes
}

// room is what a sender knows of the free space of its queue's file
// system.
type room struct {
	min     *Space // the queue's min_free; nil for DefaultMinFree
	written int64  // bytes written since the last look
	budget  int64  // what the last look left to write above min_free
	looked  bool
}

// check refuses a send with ErrFull when the file system of dir holds
// less free space than min_free. It looks at it again once roomEvery
// bytes were written since the last look, or half of what that look left
// above min_free, whichever is less: often only near the limit.
func (r *room) check(dir string) error {
	if r.looked && r.written < min(roomEvery, r.budget/2) {
		return nil
	}
	return r.look(dir)
}

// look is check without the saving: it looks at the free space now.
func (r *room) look(dir string) error {
	r.looked, r.written = true, 0
	free, keep, err := freeSpace(dir, r.min)
	if err != nil {
		r.budget = roomEvery * 2
		return nil // a file system that cannot say is not refused
	}
	if r.budget = free - keep; free >= keep {
		return nil
	}
	return fmt.Errorf("%w: %s free on the disk, the queue keeps %s free (min_free)", ErrFull, human(free), human(keep))
}

// freeSpace returns the free space that unprivileged users may use on
// the file system of dir (or of its nearest existing parent), and the
// minimum to keep free there.
func freeSpace(dir string, minFree *Space) (free, keep int64, err error) {
	var st unix.Statfs_t
	for {
		err = statfs(dir, &st)
		if !errors.Is(err, unix.ENOENT) || filepath.Dir(dir) == dir {
			break
		}
		dir = filepath.Dir(dir)
	}
	if err != nil {
		return 0, 0, err
	}
	bs := int64(st.Bsize)
	total, free := int64(st.Blocks)*bs, int64(st.Bavail)*bs
	if minFree != nil {
		return free, minFree.of(total), nil
	}
	return free, min(DefaultMinFree.of(total), defaultMinFreeCap), nil
}

// statfs is unix.Statfs; tests replace it.
var statfs = unix.Statfs

// human formats bytes in binary units for an error message.
func human(n int64) string {
	const unit = 1 << 10
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGTPE"[exp]) + "iB"
}

// Room reports ErrFull when the queue has no room for another message now
// (see Settings.MinFree), looking at the free space, and at the queue's
// settings, afresh: a sender that means to wait for room calls it until
// it returns nil, then adds.
func (b *Batch) Room() error {
	b.checked = false
	if err := b.load(); err != nil {
		return err
	}
	if err := b.room.look(b.q.dir); err != nil {
		return fmt.Errorf("send to %s: %w", b.q.name, err)
	}
	return nil
}
