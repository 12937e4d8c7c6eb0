package spool

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Deduplication: a send that carries a dedup id records it, under the
// commit lock, in an entry of the queue's .dedup/ directory, and a later
// send with the same id inside the queue's dedup window finds the entry
// and makes no message. See the package documentation for the protocol
// and what a crash at each step leaves.

const (
	// dirDedup holds the entries of dedup ids, in buckets of a thousand
	// seconds of the time of the message that each entry records.
	dirDedup = ".dedup"
	// pendingPrefix begins the name of an entry whose message may not
	// have been placed yet.
	pendingPrefix = ".pending-"
	// oldPrefix begins the name of an expired bucket being removed.
	oldPrefix = ".old-"
	// dedupSpan is the span of time of a bucket of .dedup/, in
	// nanoseconds: that of new/'s top level.
	dedupSpan = int64(1000 * time.Second)
)

// MaxDedupID is the longest dedup id, in bytes.
const MaxDedupID = 128

// DefaultDedupWindow is the dedup window of a queue whose settings give
// none.
const DefaultDedupWindow = 5 * time.Minute

// MaxDedupWindow is the longest dedup window a queue may have. It stays
// below the age from which recovery removes a crashed sender's file from
// tmp/ (36 hours), which is the evidence that a message was never placed.
const MaxDedupWindow = 24 * time.Hour

// ErrBadDedupID is returned for a dedup id that is empty or longer than
// MaxDedupID bytes.
var ErrBadDedupID = errors.New("dedup id must be 1 to 128 bytes")

// ErrDedupBatch is returned for a dedup id given to a batch: only a send
// of one message may carry one.
var ErrDedupBatch = errors.New("a dedup id needs a send of one message")

// ErrDedupLock is returned by a send with a dedup id that could not take
// the queue's commit lock: unlike a plain send, it never commits without
// it, since only the lock keeps two senders of one id from both making a
// message.
var ErrDedupLock = errors.New("commit lock not held, and a send with a dedup id needs it")

// dedupState is what a batch of one message knows of its dedup id.
type dedupState struct {
	window  time.Duration // from the queue's settings; 0 for the default
	dup     bool          // the send was a duplicate: no message made
	pending string        // the path of the pending entry written; "" for none
	tmp     string        // the message's file in tmp/, as the entry records it
	placed  bool          // the message was renamed into the queue
	made    bool          // a new bucket of .dedup/ was made: tidy after
}

// SendDedup sends one message as SendWith does, and reports whether the
// send was a duplicate: when o.DedupID is not empty and a send to this
// queue recorded the same dedup id less than the queue's dedup window
// (Settings.DedupWindow) ago, no message is made and the ID returned is
// that of the first send's message, whether or not it is still in the
// queue. Any number of senders of one dedup id, in any processes, make
// exactly one message. The body is read to its end either way. A sender
// that dies at any point leaves the dedup id to the next send with it:
// taken if its message was made, free if not.
func (q *Queue) SendDedup(body io.Reader, o SendOptions) (ID, bool, error) {
	if o.DedupID == "" {
		id, err := q.SendWith(body, o)
		return id, false, err
	}
	b := q.NewBatch()
	b.one = true
	defer b.Close()
	if err := b.AddWith(body, o); err != nil {
		return "", false, err
	}
	ids, err := b.Commit()
	if err != nil {
		return "", false, err
	}
	if b.dd.made {
		q.tidyDedup(b.dd.windowOrDefault())
	}
	return ids[0], b.dd.dup, nil
}

// windowOrDefault returns the dedup window in force.
func (d *dedupState) windowOrDefault() time.Duration {
	if d.window > 0 {
		return d.window
	}
	return DefaultDedupWindow
}

// checkDedupWindow checks the value of the dedup_window setting.
func checkDedupWindow(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 || d > MaxDedupWindow {
		return fmt.Errorf("%w: dedup_window %q: want a duration such as \"5m\", more than zero and at most %s",
			ErrBadSetting, v, "24h")
	}
	return nil
}

// dedupName checks a message's dedup id and returns the name of its
// entries, "" for none: the first 32 hex digits of its SHA-256.
func (b *Batch) dedupName(key string) (string, error) {
	switch {
	case key == "":
		return "", nil
	case len(key) > MaxDedupID:
		return "", fmt.Errorf("%w, not %d", ErrBadDedupID, len(key))
	case !b.one || len(b.pending) > 0:
		return "", ErrDedupBatch
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16]), nil
}

// dedupBucket returns the directory of the bucket of .dedup/ for time ns.
func (q *Queue) dedupBucket(ns int64) string {
	return filepath.Join(q.dir, dirDedup, fmt.Sprintf("%07d", ns/dedupSpan))
}

// dedupLookup runs under the commit lock before a message with a dedup id
// is named. It looks for the id's entry in every bucket that the window
// covers, newest first, and reports done with the first message's ID when
// it finds one inside the window: the send is a duplicate. It settles the
// pending entries it meets on the way (see resolvePending). It reports
// done with an error when the commit lock is not held.
func (b *Batch) dedupLookup() ([]ID, bool, error) {
	if len(b.pending) != 1 || b.pending[0].dedup == "" {
		return nil, false, nil
	}
	if !b.c.held {
		return nil, true, fmt.Errorf("%w (waited %s)", ErrDedupLock, commitLockWait)
	}
	name := b.pending[0].dedup
	t := now().UnixNano()
	lo := t - int64(b.dd.windowOrDefault())
	// The message's time may run a little ahead of the clock (see
	// committer.next): look one second further.
	hi := max(t, b.c.last) + int64(time.Second)
	for s := hi / dedupSpan; s >= max(lo, 0)/dedupSpan; s-- {
		id, found, err := b.q.probeDedup(filepath.Join(b.q.dir, dirDedup, fmt.Sprintf("%07d", s)), name, lo)
		if err != nil {
			return nil, true, fmt.Errorf("dedup: %w", err)
		}
		if found {
			b.dd.dup = true
			return []ID{id}, true, nil
		}
	}
	return nil, false, nil
}

// probeDedup looks for the entries called name in the bucket dir: a
// committed entry of a message sent after lo, or a pending one, which it
// settles.
func (q *Queue) probeDedup(dir, name string, lo int64) (ID, bool, error) {
	id, _, err := readEntry(filepath.Join(dir, name))
	switch {
	case err == nil && sentAfter(id, lo):
		return id, true, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errBadEntry):
		return "", false, err
	}
	return q.resolvePending(dir, name, lo)
}

// resolvePending settles the pending entry called name in the bucket dir,
// if there is one for a message sent after lo. Under the commit lock, a
// pending entry belongs to a sender that died (or failed) between writing
// it and marking it committed. Its message was placed if and only if the
// file it records in tmp/ is gone from there (renamed into the queue) or
// has a second name (a crash in the middle of the link-and-unlink
// fallback): then the entry is committed now and the send is a duplicate.
// Otherwise the message was never placed, and the entry is removed, with
// the dead sender's file, so that the retry makes the message.
func (q *Queue) resolvePending(dir, name string, lo int64) (ID, bool, error) {
	path := filepath.Join(dir, pendingPrefix+name)
	id, tmp, err := readEntry(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", false, nil
	case errors.Is(err, errBadEntry):
		// Cut short by a crash while it was written: its message was
		// never placed, since that waits for the entry to be durable.
		remove(path)
		return "", false, nil
	case err != nil:
		return "", false, err
	case !sentAfter(id, lo):
		return "", false, nil // outside the window: it no longer counts
	}
	placed, err := q.wasPlaced(tmp)
	if err != nil {
		return "", false, err
	}
	if !placed {
		trace("remove", path)
		if err := remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", false, err
		}
		remove(filepath.Join(q.tmp, tmp))
		return "", false, nil
	}
	trace("rename", filepath.Join(dir, name))
	rename(path, filepath.Join(dir, name)) // if it fails, the next send settles it again
	return id, true, nil
}

// wasPlaced reports whether the message whose file was tmp/NAME has been
// renamed into the queue (see resolvePending).
func (q *Queue) wasPlaced(name string) (bool, error) {
	fi, err := os.Lstat(filepath.Join(q.tmp, name))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("dedup: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Nlink > 1, nil
}

// sentAfter reports whether id was sent after lo, nanoseconds since the
// epoch.
func sentAfter(id ID, lo int64) bool {
	ns, ok := idNanos(string(id))
	return ok && ns > lo
}

// errBadEntry reports an entry of .dedup/ that does not hold what pq
// writes there.
var errBadEntry = errors.New("malformed dedup entry")

// readEntry reads an entry of .dedup/: two lines, the ID of the message
// and the name of its file in tmp/ before it was placed.
func readEntry(path string) (ID, string, error) {
	b, err := readFile(path)
	if err != nil {
		return "", "", err
	}
	id, tmp, ok := parseEntry(b)
	if !ok {
		return "", "", fmt.Errorf("%s: %w", path, errBadEntry)
	}
	return id, tmp, nil
}

// parseEntry parses the contents of an entry of .dedup/.
func parseEntry(b []byte) (ID, string, bool) {
	lines := bytes.Split(b, []byte("\n"))
	if len(lines) != 3 || len(lines[2]) != 0 {
		return "", "", false
	}
	id, tmp := string(lines[0]), string(lines[1])
	if !isPQID(id) || !isPQID(tmp) || len(id) > maxWellFormed || len(tmp) > maxWellFormed {
		return "", "", false
	}
	return ID(id), tmp, true
}

// dedupBegin runs under the commit lock once the message is named: it
// writes the pending entry of its dedup id and makes it durable before
// the message is placed. The file of the message in tmp/ is made durable
// first, as the entry's evidence that the message was not placed.
func (b *Batch) dedupBegin(names []Name) error {
	if len(b.pending) != 1 || b.pending[0].dedup == "" {
		return nil
	}
	q, p, id := b.q, &b.pending[0], names[0].ID
	ns, _ := idNanos(string(id))
	dir := q.dedupBucket(ns)
	dirs := map[string]bool{dir: true, q.tmp: true}
	if err := mkdirs(q.dir, dir, dirs); err != nil {
		return fmt.Errorf("dedup: %w", err)
	}
	b.dd.made = dirs[filepath.Join(q.dir, dirDedup)]
	b.dd.tmp = filepath.Base(p.path)
	path := filepath.Join(dir, pendingPrefix+p.dedup)
	data := []byte(string(id) + "\n" + b.dd.tmp + "\n")
	err := q.writeEntry(path, data)
	if errors.Is(err, fs.ErrExist) {
		// A pending entry of a message sent before the window, in the
		// same bucket: dedupLookup settled every one inside it.
		remove(path)
		err = q.writeEntry(path, data)
	}
	if err != nil {
		return fmt.Errorf("dedup: %w", err)
	}
	b.dd.pending = path
	if !q.opts.NoSync {
		if err := syncDirs(dirs); err != nil {
			b.dedupUndo()
			return fmt.Errorf("dedup: %w", err)
		}
	}
	return nil
}

// writeEntry creates the file at path with data, and fsyncs it (unless
// the queue runs without syncs), telling traceFS. It fails with
// fs.ErrExist when path exists, and leaves nothing behind on failure.
func (q *Queue) writeEntry(path string, data []byte) error {
	f, err := openFD(path, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	trace("create", path)
	_, err = writerOf(f).Write(data)
	if err == nil && !q.opts.NoSync {
		err = fsync("fsync", f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove(path)
	}
	return err
}

// dedupUndo runs under the commit lock when the send of a message with a
// dedup id fails: it removes the pending entry unless the message was
// placed all the same, so that a retry is not taken for a duplicate.
func (b *Batch) dedupUndo() {
	if b.dd.pending == "" || b.dd.placed {
		return
	}
	if placed, err := b.q.wasPlaced(b.dd.tmp); err == nil && !placed {
		remove(b.dd.pending)
		b.dd.pending = ""
	}
}

// dedupEnd runs under the commit lock once the message is placed: it makes
// the message durable (the directories in dirs, which it then empties) and
// only then marks the entry committed, by renaming it to its final name.
// That rename is not synced: a crash that undoes it leaves a pending entry
// that the next send with the id settles as committed, since the message
// left tmp/.
func (b *Batch) dedupEnd(dirs map[string]bool) error {
	if b.dd.pending == "" {
		return nil
	}
	b.dd.placed = true
	if !b.q.opts.NoSync {
		if err := syncDirs(dirs); err != nil {
			return fmt.Errorf("send to %s: %w", b.q.name, err)
		}
		clear(dirs)
	}
	dir, base := filepath.Split(b.dd.pending)
	to := filepath.Join(dir, base[len(pendingPrefix):])
	trace("rename", to)
	if err := rename(b.dd.pending, to); err != nil {
		b.q.log.Warn("cannot mark a dedup entry committed; the next send with its id will", "entry", b.dd.pending, "err", err)
	}
	return nil
}

// tidyDedup removes the buckets of .dedup/ whose every entry is older than
// window, and returns their names. Each is renamed aside first, so that
// two senders never remove one bucket together and a crash midway leaves
// a name that recovery removes (see Queue.CleanDedup). A sender calls it
// when it has made a new bucket, once in a thousand seconds at most.
func (q *Queue) tidyDedup(window time.Duration) []string {
	dir := filepath.Join(q.dir, dirDedup)
	names, err := readDirNames(dir)
	if err != nil {
		return nil
	}
	lo := now().UnixNano() - int64(window)
	var removed []string
	for _, name := range names {
		s, err := strconv.ParseInt(name, 10, 64)
		if len(name) != 7 || err != nil || s < 0 || (s+1)*dedupSpan > lo {
			continue
		}
		old := filepath.Join(dir, fmt.Sprintf("%s%s.%d", oldPrefix, name, os.Getpid()))
		if rename(filepath.Join(dir, name), old) == nil {
			os.RemoveAll(old)
			removed = append(removed, name)
		}
	}
	return removed
}

// readDirNames returns the names in dir.
func readDirNames(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// CleanDedup removes what deduplication no longer needs, and returns the
// paths it removed, relative to the queue's directory: the buckets of
// .dedup/ whose every entry is older than the dedup window, what a crash
// left of such a removal, and the pending entries older than the window,
// which senders that died left and which count for nothing any more. It
// removes pending entries under the commit lock, and leaves them when the
// lock cannot be had.
func (q *Queue) CleanDedup() ([]string, error) {
	s, err := q.Settings()
	if err != nil {
		return nil, err
	}
	window := (&dedupState{window: s.DedupWindow}).windowOrDefault()
	dir := filepath.Join(q.dir, dirDedup)
	var removed []string
	for _, name := range q.tidyDedup(window) {
		removed = append(removed, filepath.Join(dirDedup, name))
	}
	names, err := readDirNames(dir)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return removed, nil
	}
	if err != nil {
		return removed, fmt.Errorf("clean %s/%s: %w", q.name, dirDedup, err)
	}
	c := committer{q: q}
	if err := c.lock(); err != nil {
		return removed, err
	}
	defer c.close()
	lo := now().UnixNano() - int64(window)
	for _, name := range names {
		path := filepath.Join(dir, name)
		if len(name) > len(oldPrefix) && name[:len(oldPrefix)] == oldPrefix {
			if os.RemoveAll(path) == nil {
				removed = append(removed, filepath.Join(dirDedup, name))
			}
			continue
		}
		if !c.held {
			continue
		}
		entries, _ := readDirNames(path)
		for _, e := range entries {
			if len(e) <= len(pendingPrefix) || e[:len(pendingPrefix)] != pendingPrefix {
				continue
			}
			id, _, err := readEntry(filepath.Join(path, e))
			if (err == nil && !sentAfter(id, lo)) || errors.Is(err, errBadEntry) {
				if remove(filepath.Join(path, e)) == nil {
					removed = append(removed, filepath.Join(dirDedup, name, e))
				}
			}
		}
	}
	return removed, nil
}
