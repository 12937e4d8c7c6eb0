package spool

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// A queue can be shared with a Unix group (see [Queue.Share]): its
// directories then belong to the group, with the setgid bit so that what
// is made in them keeps the group, and pq makes every file and directory
// in them group-readable and -writable whatever the umask of the process
// that makes it (0660 and 02770 instead of 0600 and 0700). Nothing else
// enforces who may do what: the kernel does, by these modes.

// ShareMode says what the members of a queue's group may do.
type ShareMode string

// The modes of a shared queue.
const (
	// ShareBoth lets the group's members send and receive.
	ShareBoth ShareMode = "both"
	// ShareRecv lets them receive, but not send: tmp/ is not writable
	// for them, and receivers dead-letter what they put into new/
	// by other means (Settings.AllowSenders names the owner alone).
	ShareRecv ShareMode = "recv"
	// ShareSend makes the queue a drop box: its members may put
	// messages into its inbox/ (see [Queue.Drop]) but not list, read,
	// claim or remove any; receivers, the owner's, take what arrives
	// there into the queue.
	ShareSend ShareMode = "send"
)

// dirInbox is a drop box's inbox: sticky, writable and searchable by the
// group, listable by its owner alone.
const dirInbox = "inbox"

// ErrBadShareMode reports a share mode that pq does not know.
var ErrBadShareMode = errors.New("share mode must be both, recv or send")

// sharedDirs caches, by path, whether a directory is group-shared (see
// sharedDir).
var sharedDirs sync.Map

// sharedDir reports whether dir is a directory of a shared queue: one
// whose group may read it (pq's own directories are 0700). A process
// learns it once per directory.
func sharedDir(dir string) bool {
	if v, ok := sharedDirs.Load(dir); ok {
		return v.(bool)
	}
	var st unix.Stat_t
	if unix.Stat(dir, &st) != nil {
		return false // not made yet: ask again once it is
	}
	shared := st.Mode&0o040 != 0
	sharedDirs.Store(dir, shared)
	return shared
}

// filePerm and dirPerm return the mode of a file or directory made in
// parent: pq's own 0600 and 0700, or with the group's bits in a shared
// queue.
func filePerm(parent string) uint32 {
	if sharedDir(parent) {
		return 0o660
	}
	return 0o600
}

func dirPerm(parent string) os.FileMode {
	if sharedDir(parent) {
		return 0o770 | os.ModeSetgid
	}
	return 0o700
}

// shareMode is the mode of path, a directory (dir) or file of a queue
// shared in mode m.
func shareMode(m ShareMode, path, top, tmp, inbox string, dir bool) os.FileMode {
	switch {
	case m == ShareSend && path == top:
		return 0o710 | os.ModeSetgid // members may reach the inbox, no more
	case m == ShareSend && path == inbox:
		return 0o730 | os.ModeSetgid | os.ModeSticky
	case m == ShareSend && dir:
		return 0o700
	case m == ShareSend:
		return 0o600
	case dir && m == ShareRecv && path == tmp:
		return 0o750 | os.ModeSetgid
	case dir:
		return 0o770 | os.ModeSetgid
	}
	return 0o660
}

// Share shares the queue with the Unix group gid in mode m: every
// directory and file of the queue gets the group, directories the
// setgid bit and the group's permissions (tmp/ without write in
// ShareRecv), files the group's read and write. In ShareRecv the queue's
// allow_senders becomes its owner, unless it names senders already. The
// spool root is made searchable (0711), not listable, by all, so that
// members can reach the queue; others get nothing from the queue itself.
// Only the queue's owner (or root) can share it, and only with a group
// the owner belongs to (or as root).
func (q *Queue) Share(gid int, m ShareMode) error {
	if m != ShareBoth && m != ShareRecv && m != ShareSend {
		return fmt.Errorf("queue %s: %w, not %q", q.name, ErrBadShareMode, m)
	}
	if err := q.Check(); err != nil {
		return err
	}
	inbox := filepath.Join(q.dir, dirInbox)
	if m == ShareSend {
		if err := os.Mkdir(inbox, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("share queue %s: %w", q.name, err)
		}
	}
	err := filepath.WalkDir(q.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		if err := os.Lchown(path, -1, gid); err != nil {
			return err
		}
		return os.Chmod(path, shareMode(m, path, q.dir, q.tmp, inbox, d.IsDir()))
	})
	if err != nil {
		return fmt.Errorf("share queue %s: %w", q.name, err)
	}
	root := filepath.Dir(q.dir)
	if err := os.Chmod(root, 0o711); err != nil {
		return fmt.Errorf("share queue %s: spool root: %w", q.name, err)
	}
	sharedDirs.Clear()
	if m == ShareRecv {
		s, err := q.Settings()
		if err != nil {
			return err
		}
		if len(s.AllowSenders) == 0 {
			var st unix.Stat_t
			if err := unix.Stat(q.dir, &st); err != nil {
				return fmt.Errorf("share queue %s: %w", q.name, err)
			}
			return q.Set(map[string]string{"allow_senders": strconv.Itoa(int(st.Uid))})
		}
	}
	return nil
}
