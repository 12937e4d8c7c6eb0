package spool

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A drop box (a queue shared in ShareSend) takes messages from the
// members of its group without letting them list, read, claim or remove
// any: they cannot even list the queue directory. A member's send writes
// inbox/.tmp-R (O_EXCL, mode 0640: the owner reads it through the
// group), fsyncs it, renames it to inbox/R, where R is 32 random hex
// digits that nobody else can guess, and makes the rename durable with
// syncfs (a member cannot open the inbox to fsync it). R is the member's
// receipt. The sticky inbox lets each member rename and remove only what
// it made, and nobody but the owner lists it. The owner's receivers take
// what arrives into the queue at each walk: each file gets an ID of pq's
// own and its place at the end of the queue, its receipt kept as its
// original name (pq dlq shows it), and stays the member's file, so that
// the member is its sender (see [Claim.SenderUID]).

// DropBox reports whether the queue is a drop box that this process may
// only drop messages into: it may not write tmp/, and may write the
// inbox.
func (q *Queue) DropBox() bool {
	const wx = unix.W_OK | unix.X_OK
	if err := unix.Faccessat(unix.AT_FDCWD, q.tmp, wx, unix.AT_EACCESS); !errors.Is(err, unix.EACCES) {
		return false
	}
	inbox := filepath.Join(q.dir, dirInbox)
	fi, err := os.Stat(inbox)
	return err == nil && fi.IsDir() && unix.Faccessat(unix.AT_FDCWD, inbox, wx, unix.AT_EACCESS) == nil
}

// Drop puts a message whose body is read from body into a drop box's
// inbox, durably, and returns its receipt. A member of the queue's group
// sends so (see DropBox). It is refused with ErrFull when the disk has
// less free space than DefaultMinFree, as a send would be: a member can
// read none of the queue's own settings.
func (q *Queue) Drop(body io.Reader) (string, error) {
	inbox := filepath.Join(q.dir, dirInbox)
	var r room
	if err := r.look(inbox); err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	var b [16]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	receipt := hex.EncodeToString(b[:])
	tmp := filepath.Join(inbox, ".tmp-"+receipt)
	f, err := openFD(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o640)
	if err != nil {
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	defer f.Close()
	err = unix.Fchmod(int(f.Fd()), 0o640) // whatever the umask: the owner reads it
	if err == nil {
		_, err = io.Copy(writerOf(f), body)
	}
	if err == nil && !q.opts.NoSync {
		err = fsync("fsync", f)
	}
	if err == nil {
		err = rename(tmp, filepath.Join(inbox, receipt))
	}
	if err == nil && !q.opts.NoSync {
		err = syncFS(f)
	}
	if err != nil {
		remove(tmp)
		return "", fmt.Errorf("send to %s: %w", q.name, err)
	}
	return receipt, nil
}

// staleDrop is how old a half-written drop (inbox/.tmp-R, left by a
// member's send that died) must be for receivers to remove it.
const staleDrop = 36 * time.Hour

// takeInbox moves what arrived in a drop box's inbox into the queue, each
// message at the end of the queue under an ID of pq's own, while the
// queue has room by its max_messages and max_bytes (what is left waits in
// the inbox). It reports whether it took anything. A queue without an
// inbox costs one failed open.
func (q *Queue) takeInbox() bool {
	inbox := filepath.Join(q.dir, dirInbox)
	var ls lister
	ents, err := ls.list(inbox, "")
	if err != nil || len(ents) == 0 {
		return false
	}
	// In send order, as far as the files' times tell: receipts are
	// random.
	type arrival struct {
		path, name string
		fi         os.FileInfo
	}
	var arrivals []arrival
	for _, e := range ents {
		path := filepath.Join(inbox, e.name)
		if strings.HasPrefix(e.name, ".tmp-") {
			// A member's send that died half way, long ago.
			if fi, err := os.Lstat(path); err == nil && time.Since(fi.ModTime()) > staleDrop {
				remove(path)
			}
			continue
		}
		if strings.HasPrefix(e.name, ".") {
			continue // pq's own
		}
		if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() {
			arrivals = append(arrivals, arrival{path, e.name, fi})
		}
	}
	slices.SortFunc(arrivals, func(a, b arrival) int { return a.fi.ModTime().Compare(b.fi.ModTime()) })
	s, _ := q.Settings()
	took := false
	dirs := map[string]bool{}
	for _, a := range arrivals {
		if s.MaxMessages > 0 || s.MaxBytes > 0 {
			c, _ := q.Counts()
			if s.MaxMessages > 0 && c.Messages >= s.MaxMessages || s.MaxBytes > 0 && c.Bytes+a.fi.Size() > s.MaxBytes {
				break // the rest waits in the inbox for room
			}
		}
		n := Name{ID: ID(a.name), Priority: DefaultPriority}
		if err := q.renew(a.path, n, a.name, dirs); err != nil {
			q.warnOnce(a.path, "cannot take a message from the inbox", "err", err)
			continue
		}
		q.adjust(1, a.fi.Size())
		took = true
	}
	if took && !q.opts.NoSync {
		dirs[inbox] = true
		if err := syncDirs(dirs); err != nil {
			q.log.Warn("cannot sync what was taken from the inbox", "err", err)
		}
	}
	if took {
		poke(q.new)
	}
	return took
}
