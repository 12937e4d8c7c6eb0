package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"pq/lock"
)

// Claim is a message taken by one consumer. Its file has been renamed into
// cur/ and stays locked, through the descriptor the Claim holds, until the
// claim ends with [Queue.Ack] or [Claim.Release]. If the process dies first,
// the kernel drops the lock and recovery puts the message back.
type Claim struct {
	q     *Queue
	name  Name
	f     *os.File
	path  string
	group *groupLock // the lock of its group, held until it ends; nil for none
	uid   uint32     // the owner of its file: who sent it
	size  int64      // its body's bytes, when claimed
	from  string     // the directory it was claimed from (see syncSources)
	// A message of an encrypted queue: the reader of its plaintext, until
	// Body hands it out, and the plaintext's size.
	sealed    bool
	plain     io.Reader
	plainSize int64
}

// ID returns the claimed message's ID.
func (c *Claim) ID() ID { return c.name.ID }

// Group returns the message's group, "" for none.
func (c *Claim) Group() string { return c.name.Group }

// Priority returns the message's priority, MinPriority to MaxPriority.
func (c *Claim) Priority() int { return c.name.Priority }

// Attempt returns which delivery of the message this is: 1 the first time.
func (c *Claim) Attempt() int { return c.name.Attempts + 1 }

// SenderUID returns the user id of the message's sender: the owner of its
// file, as the kernel knows it.
func (c *Claim) SenderUID() uint32 { return c.uid }

// Path returns the claimed message's file, under cur/.
func (c *Claim) Path() string { return c.path }

// File returns the claim's open, locked descriptor. A child process that
// inherits it holds the claim for as long as it keeps it open.
func (c *Claim) File() *os.File { return c.f }

// Headers returns the message's headers, in the order they were given, as
// its metadata file holds them; none for a message sent without.
func (c *Claim) Headers() ([]Header, error) {
	if !c.name.Meta {
		return nil, nil
	}
	m, err := c.q.readMeta(c.name.ID)
	return m.Headers, err
}

// Body returns a reader of the message body from its first byte: in an
// encrypted queue, of its plaintext, whose chunks are authenticated as
// they are read (a read fails with an error matching seal.ErrCorrupt at
// one that was changed).
func (c *Claim) Body() io.Reader {
	if !c.sealed {
		return io.NewSectionReader(c.f, 0, 1<<62)
	}
	if r := c.plain; r != nil {
		c.plain = nil // opened at the claim: a first read costs no second unwrap
		return r
	}
	r, _, err := c.q.OpenPlain(c.f, c.size, true)
	if err != nil {
		return errReader{err}
	}
	return r
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// Size returns the size of the message body as claimed: of its plaintext
// in an encrypted queue.
func (c *Claim) Size() int64 {
	if c.sealed {
		return c.plainSize
	}
	return c.size
}

// Sealed reports whether the message is one of an encrypted queue, whose
// file holds ciphertext.
func (c *Claim) Sealed() bool { return c.sealed }

// claimFile tries to claim the message at path, a file under new/. It returns
// errGone when another consumer holds or took it first, or when the name no
// longer refers to the file it opened.
//
// The file that ends up in cur/ must be the one that was locked: a program
// may rename another file over a name in new/ at any moment (pq's own
// renames never replace a file, and are made only by a lock's holder). So
// the name is checked against the locked descriptor before the rename,
// and the new name in cur/ after it; a file that turns out to be another
// goes back to new/ untouched.
func (q *Queue) claimFile(path string) (*Claim, error) {
	f, st, err := openMessage(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotRegular) {
			return nil, errGone // gone, or replaced by a stray the walk will meet
		}
		return nil, fmt.Errorf("claim %s: %w", path, err)
	}
	hook("claim-open", path)
	if err := lock.TryFile(f); err != nil {
		f.Close()
		if errors.Is(err, lock.ErrLocked) {
			return nil, errGone
		}
		return nil, fmt.Errorf("claim %s: %w", path, err)
	}
	if !namesFile(path, st) {
		f.Close()
		return nil, errGone
	}
	base := filepath.Base(path)
	to := filepath.Join(q.cur, base)
	hook("claim-checked", path)
	err = renameNoReplace(path, to)
	if errors.Is(err, fs.ErrExist) && namesFile(to, st) {
		// A second name of this very file, left in cur/ by a crash of the
		// link-and-unlink fallback: we hold the lock, so it is stale.
		err = remove(path)
	}
	if err != nil {
		f.Close()
		// Gone: claimed and acked by a consumer that held the lock
		// before us. Exists: a foreign name reused while its namesake
		// is still claimed; it waits for that claim to end.
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrExist) {
			return nil, errGone
		}
		return nil, fmt.Errorf("claim %s: %w", path, err)
	}
	if !namesFile(to, st) {
		// Another file was renamed over path between our check and our
		// rename: it is not ours, and goes back as it was.
		f.Close()
		if err := renameNoReplace(to, path); err != nil {
			q.log.Warn("cannot put back a file renamed over a message being claimed; recovery will", "name", base, "err", err)
		}
		return nil, errGone
	}
	c := &Claim{q: q, name: ParseName(base), f: f, path: to, uid: st.Uid, size: st.Size, from: filepath.Dir(path)}
	if st.Nlink > 1 {
		q.dropStaleNames(c, st)
	}
	return c, nil
}

// errNotRegular reports a path that names something other than a regular
// file.
var errNotRegular = errors.New("not a regular file")

// openMessage opens a message file for reading and locking, and returns
// what fstat says of it. NFSv4 needs a descriptor open for writing to lock,
// so that is tried first. The open never blocks and never follows a
// symbolic link, so that a named pipe or a link dropped where a message
// should be cannot hang or fool pq; anything but a regular file is refused
// with errNotRegular.
func openMessage(path string) (*os.File, *syscall.Stat_t, error) {
	fd, err := openRaw(path, unix.O_RDWR)
	if errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
		fd, err = openRaw(path, unix.O_RDONLY)
	}
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENXIO) || errors.Is(err, unix.EISDIR) {
		return nil, nil, fmt.Errorf("open %s: %w", path, errNotRegular)
	}
	if err != nil {
		return nil, nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode&syscall.S_IFMT != syscall.S_IFREG {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("open %s: %w", path, errNotRegular)
	}
	// A regular file: blocking reads are what the body's readers, and a
	// job that inherits the descriptor as stdin, expect.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil {
		unix.Close(fd)
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), &st, nil
}

// openRaw opens path without blocking (a named pipe would block an
// ordinary open) and without following a symbolic link.
func openRaw(path string, mode int) (int, error) {
	for {
		fd, err := unix.Open(path, mode|unix.O_NONBLOCK|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// namesFile reports whether path names the file that st describes.
func namesFile(path string, st *syscall.Stat_t) bool {
	var ps syscall.Stat_t
	if err := syscall.Lstat(path, &ps); err != nil {
		return false
	}
	return ps.Dev == st.Dev && ps.Ino == st.Ino
}

// Ack ends claims whose messages were handled: it removes their files from
// cur/, makes the removals durable with one fsync of cur/, and releases the
// locks. Acking claims together costs one fsync for all of them.
func (q *Queue) Ack(claims ...*Claim) error {
	var first error
	var gone, bytes int64
	defer func() { q.adjust(-gone, -bytes) }()
	for _, c := range claims {
		if err := remove(c.path); err != nil {
			// Still in cur/, with its metadata: recovery puts it back.
			if first == nil {
				first = fmt.Errorf("ack %s: %w", c.name.ID, err)
			}
			continue
		}
		gone, bytes = gone+1, bytes+c.size
		if c.name.Meta {
			q.removeMeta(c.name.ID)
		}
	}
	if len(claims) > 0 {
		if err := q.sync(q.cur); err != nil && first == nil {
			first = fmt.Errorf("ack: %w", err)
		}
		if err := q.syncSources(claims...); err != nil && first == nil {
			first = fmt.Errorf("ack: %w", err)
		}
	}
	for _, c := range claims {
		c.settleGroup(hold{}, false)
		c.f.Close()
	}
	return first
}

// Release ends a claim without acking it and puts the message back as it
// was, in its place by send time, to be claimed again at once: for a
// delivery that never reached its handler, such as a body that could not be
// written out. No attempt is counted.
func (c *Claim) Release() error {
	c.settleGroup(hold{id: c.name.ID, until: now().Add(holdGrace).UnixNano()}, false)
	return c.putBack(c.name)
}

// Retry ends a claim whose handling failed: the message goes back with one
// more failed attempt counted, hidden from receivers until delay has passed.
func (c *Claim) Retry(delay time.Duration) error {
	n := withAttempt(c.name)
	n.Due = 0
	if delay > 0 {
		n.Due = now().Add(delay).UnixNano()
	}
	// The group waits for this message: until its backoff ends and a
	// little more; durably, as it may wait long.
	c.settleGroup(hold{id: n.ID, until: max(n.Due, now().UnixNano()) + int64(holdGrace)}, delay > 0)
	return c.putBack(n)
}

// putBack moves the claimed file back into new/ under the name n.
func (c *Claim) putBack(n Name) error {
	defer c.f.Close()
	dirs := map[string]bool{}
	if err := c.q.placeBack(c.path, n, dirs); err != nil {
		return fmt.Errorf("put back %s: %w", n.ID, err)
	}
	if c.q.opts.NoSync {
		return nil
	}
	dirs[c.q.cur] = true
	if err := syncDirs(dirs); err != nil {
		return fmt.Errorf("put back %s: %w", n.ID, err)
	}
	if err := c.q.syncSources(c); err != nil {
		return fmt.Errorf("put back %s: %w", n.ID, err)
	}
	poke(c.q.new)
	return nil
}

// syncSources makes durable the renames by which claims left the
// directories they were claimed from (a bucket of new/), once what
// became of them is durable: without it, a power cut could bring back
// the old name beside the new one, and a message acked, retried or
// dead-lettered would be delivered again. A directory that is gone (a
// receiver removed the drained bucket) has its nearest parent synced,
// so that it cannot come back with the old name in it.
func (q *Queue) syncSources(claims ...*Claim) error {
	if q.opts.NoSync {
		return nil
	}
	done := map[string]bool{}
	for _, c := range claims {
		for d := c.from; d != "" && !done[d]; d = filepath.Dir(d) {
			done[d] = true
			err := syncDir(d)
			if err == nil {
				break
			}
			if !errors.Is(err, fs.ErrNotExist) || d == q.dir {
				return err
			}
		}
	}
	return nil
}

// withAttempt returns n with one more failed attempt, unless the longer name
// would no longer fit in a directory entry.
func withAttempt(n Name) Name {
	m := n
	m.Attempts++
	if len(m.String()) > maxNameLen {
		return n
	}
	return m
}
