package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// dirGroups holds one file per message group that was ever claimed from:
// .groups/KEY. A receiver holds a flock on it for as long as it holds a
// message of the group, so that one message of a group is handed out at a
// time, and it says which message of the group goes next (see hold).
const dirGroups = ".groups"

// groupFormat is the format of a queue that has had a message of a group:
// a pq from before groups would hand out a group's messages at once.
const groupFormat = 4

// maxGroupLen bounds a group key.
const maxGroupLen = 64

// ErrBadGroup is returned for a group key that is empty, longer than 64
// bytes, or has a byte outside A-Z a-z 0-9 . _ -.
var ErrBadGroup = errors.New("a group key is 1 to 64 of A-Z a-z 0-9 . _ -")

// CheckGroup checks a group key, returning an error matching ErrBadGroup
// for one that cannot be.
func CheckGroup(g string) error { return checkGroup(g) }

// checkGroup checks a group key.
func checkGroup(g string) error {
	if g == "" || len(g) > maxGroupLen || !allBytes(g, isNameByte) || g[0] == '.' {
		return fmt.Errorf("%w, not %q", ErrBadGroup, g)
	}
	return nil
}

// holdGrace is how long a message that was put back holds its group after
// its due time (or after now, when it is ready at once): long enough for a
// receiver to take it again, after which a head that has vanished (a file
// removed by hand) no longer blocks its group.
var holdGrace = 30 * time.Second

// hold is what a group's file says: the message that goes next, id, and
// until when it keeps the others of its group waiting; until is zero while
// the message is claimed. A group whose file is empty holds nothing: its
// oldest ready message goes next.
type hold struct {
	id    ID
	until int64
}

// groupLock is a group's file, locked by the receiver that holds one of
// its messages.
type groupLock struct {
	f   *os.File
	key string
}

// lockGroup opens the file of group key and takes its lock without
// waiting; ok is false when another receiver holds it.
func (q *Queue) lockGroup(key string) (g *groupLock, ok bool, err error) {
	return q.lockGroupWithin(key, 0)
}

// lockGroupWithin is lockGroup waiting up to d for the lock.
func (q *Queue) lockGroupWithin(key string, d time.Duration) (*groupLock, bool, error) {
	path := filepath.Join(q.dir, dirGroups, key)
	f, err := openFD(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		if _, err = q.ownDir(dirGroups); err == nil {
			f, err = openFD(path, unix.O_RDWR|unix.O_CREAT|unix.O_NOFOLLOW, 0o600)
		}
	}
	if err != nil {
		return nil, false, fmt.Errorf("group %s: %w", key, err)
	}
	deadline := time.Now().Add(d)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return &groupLock{f: f, key: key}, true, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, false, fmt.Errorf("group %s: %w", key, err)
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, false, nil
		}
		time.Sleep(time.Millisecond)
	}
}

// read returns what the group's file says; garbage reads as no hold.
func (g *groupLock) read() hold {
	var b [256]byte
	n, _ := g.f.ReadAt(b[:], 0)
	id, until, ok := strings.Cut(strings.TrimSpace(string(b[:n])), " ")
	t, err := strconv.ParseInt(until, 10, 64)
	if !ok || err != nil || !isPQID(id) {
		return hold{}
	}
	return hold{id: ID(id), until: t}
}

// write records h (nothing, for the zero hold), made durable when sync is
// set: a hold that must outlast a crash of the machine, as that of a
// message backing off in .due/.
func (g *groupLock) write(h hold, sync bool) error {
	s := ""
	if h.id != "" {
		s = fmt.Sprintf("%s %d\n", h.id, h.until)
	}
	if _, err := g.f.WriteAt([]byte(s), 0); err != nil {
		return fmt.Errorf("group %s: %w", g.key, err)
	}
	if err := g.f.Truncate(int64(len(s))); err != nil {
		return fmt.Errorf("group %s: %w", g.key, err)
	}
	if sync {
		if err := fsync("group", g.f); err != nil {
			return fmt.Errorf("group %s: %w", g.key, err)
		}
	}
	return nil
}

// release closes the group's file, and so lets the next message of the
// group go.
func (g *groupLock) release() {
	if g != nil {
		g.f.Close()
	}
}

// mayGo reports whether the message n of the group g, whose file says h,
// may be handed out now.
func (q *Queue) mayGo(n Name, g *groupLock, h hold) bool {
	var ls lister
	switch {
	case h.id == "" || h.id == n.ID:
		return true
	case h.until == 0:
		// Claimed by a receiver that is gone, since the group's lock
		// was free: it waits for recovery while it is in cur/; if it
		// is not, it was settled by a receiver that died before it
		// said so.
		return !dirHolds(&ls, q.cur, h.id)
	case now().UnixNano() < h.until:
		return false
	case q.waiting(&ls, h.id):
		// Past its time and still waiting: no receiver came for it
		// (all were stopped, say). It still goes first; look again
		// in a while rather than at every message of the group.
		g.write(hold{id: h.id, until: now().Add(holdGrace).UnixNano()}, false)
		return false
	}
	return true // gone: removed by hand, or by a pq that knows no groups
}

// waiting reports whether a message with the given ID waits in the queue:
// in cur/, in .due/ or in new/. It walks them: it is for the rare case of a
// group's head that did not come back in time.
func (q *Queue) waiting(ls *lister, id ID) bool {
	found := dirHolds(ls, q.cur, id)
	for _, top := range []string{q.due, q.new} {
		filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() && !found {
				found = dirHolds(ls, path, id)
			}
			return nil
		})
	}
	return found
}

// claimGrouped claims the message at path, of the group n.Group, if the
// group lets it go now: its lock is free and its file names no other
// message to go first. When it does not, it returns errGroupBusy and the
// ID of the message that goes first, if the group's file names one that
// is not claimed.
func (q *Queue) claimGrouped(path string, n Name) (*Claim, ID, error) {
	g, ok, err := q.lockGroup(n.Group)
	if err != nil {
		q.warnOnce(dirGroups+"/"+n.Group, "cannot lock a message group; its messages wait", "err", err)
		return nil, "", errGroupBusy
	}
	if !ok {
		return nil, "", errGroupBusy
	}
	if h := g.read(); !q.mayGo(n, g, h) {
		g.release()
		if h.until == 0 {
			return nil, "", errGroupBusy
		}
		return nil, h.id, errGroupBusy
	}
	c, err := q.claimFile(path)
	if err != nil {
		g.release()
		return nil, "", err
	}
	if err := g.write(hold{id: c.name.ID}, false); err != nil {
		q.log.Warn("cannot record the claim of a grouped message", "id", c.name.ID, "err", err)
	}
	c.group = g
	return c, "", nil
}

// errGroupBusy says that a message's group is not to hand out that
// message now: another of the group is claimed or goes first.
var errGroupBusy = errors.New("its group is busy")

// settleGroup records, as a claim ends, what goes next in its group: h,
// or nothing, made durable when sync is set; and lets the group go.
func (c *Claim) settleGroup(h hold, sync bool) {
	if c.group == nil {
		return
	}
	if err := c.group.write(h, sync); err != nil {
		c.q.log.Warn("cannot record what goes next in a message group", "group", c.group.key, "err", err)
	}
	c.group.release()
	c.group = nil
}

// holdGroupWait is how long recovery waits for a group's lock; tests
// shorten it.
var holdGroupWait = time.Second

// holdGroupFor takes the lock of the group of n, a message being put back
// by recovery, and records that n goes next. Receivers take the lock only
// for moments, so this waits a little for it. It reports whether it
// recorded it: if not, the message must stay in cur/ for a later
// recovery, since out of cur/ and unnamed in the group's file it would let
// the next of its group go before it.
func (q *Queue) holdGroupFor(n Name) bool {
	if n.Group == "" {
		return true
	}
	g, ok, err := q.lockGroupWithin(n.Group, holdGroupWait)
	if err != nil || !ok {
		q.log.Warn("cannot record that a recovered message goes next in its group; it is recovered later", "id", n.ID, "group", n.Group, "err", err)
		return false
	}
	defer g.release()
	if err := g.write(hold{id: n.ID, until: now().Add(holdGrace).UnixNano()}, false); err != nil {
		q.log.Warn("cannot record that a recovered message goes next in its group; it is recovered later", "id", n.ID, "err", err)
		return false
	}
	return true
}
